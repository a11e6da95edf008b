// The same registrations made on the official SDK's McpServer and on pier-sdk's: what a
// client sees (lists, call results, reads, prompts, completions, errors) must match.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import * as official from '@modelcontextprotocol/sdk/server/mcp.js';
import { completable as officialCompletable } from '@modelcontextprotocol/sdk/server/completable.js';
import { z } from 'zod';

import * as pier from '../src/index.js';

/** As a client receives it: JSON (an in-memory transport keeps `undefined` members). */
const wire = (value) => JSON.parse(JSON.stringify(value));
const same = (mine, theirs, message) => assert.deepEqual(wire(mine), wire(theirs), message);

const Status = z.enum(['open', 'closed']);

/** Registrations written once, for either SDK. */
function register(sdk, completable) {
  const server = new sdk.McpServer({ name: 'shapes', version: '1.0.0' });
  server.registerTool(
    'forecast',
    {
      title: 'Forecast',
      description: 'The forecast for a city.',
      inputSchema: {
        city: z.string().describe("The city's name"),
        days: z.number().int().min(1).max(7).default(1),
        unit: z.enum(['celsius', 'fahrenheit']).optional(),
        tags: z.array(z.string()).max(3).optional(),
        when: z.object({ from: z.string(), to: z.string().nullable() }).optional(),
      },
      outputSchema: { city: z.string(), temperature: z.number(), status: Status.default('open') },
      annotations: { readOnlyHint: true, title: 'Forecast' },
      _meta: { source: 'test' },
    },
    async ({ city, days, unit }) => {
      const reading = { city, temperature: 20 + days + (unit === 'fahrenheit' ? 50 : 0), status: 'open' };
      return { content: [{ type: 'text', text: JSON.stringify(reading) }], structuredContent: reading };
    },
  );
  server.registerTool('plain', {}, async () => ({ content: [{ type: 'text', text: 'plain' }] }));
  server.registerTool(
    'union',
    { inputSchema: z.object({ value: z.union([z.string(), z.number()]), email: z.email() }) },
    async ({ value }) => ({ content: [{ type: 'text', text: typeof value }] }),
  );
  server.registerTool('throws', { inputSchema: { why: z.string() } }, async ({ why }) => {
    throw new Error(why);
  });
  server.registerTool('unshaped', { outputSchema: { n: z.number() } }, async () => ({
    content: [{ type: 'text', text: 'none' }],
  }));
  server.registerTool('misshaped', { outputSchema: { n: z.number() } }, async () => ({
    content: [{ type: 'text', text: 'bad' }],
    structuredContent: { n: 'one' },
  }));
  server.registerTool('failing', {}, async () => ({ content: [{ type: 'text', text: 'it failed' }], isError: true }));
  server.tool('legacy', 'An old-style tool.', { x: z.number() }, { idempotentHint: true }, async ({ x }) => ({
    content: [{ type: 'text', text: String(x * 2) }],
  }));
  server.tool('bare', async () => ({ content: [{ type: 'text', text: 'bare' }] }));

  server.registerResource(
    'stations',
    'weather://stations',
    { title: 'Stations', description: 'Every station.', mimeType: 'application/json' },
    async (uri) => ({ contents: [{ uri: uri.href, text: '["Delft"]', mimeType: 'application/json' }] }),
  );
  server.resource('logo', 'weather://logo', async (uri) => ({
    contents: [{ uri: uri.href, blob: 'AAEC', mimeType: 'image/png' }],
  }));
  server.registerResource(
    'now',
    new sdk.ResourceTemplate('weather://{city}/now', {
      list: undefined,
      complete: { city: (value) => ['Delft', 'Denver', 'Oslo'].filter((c) => c.startsWith(value)) },
    }),
    { description: 'The weather now.', mimeType: 'application/json' },
    async (uri, { city }) => ({ contents: [{ uri: uri.href, text: JSON.stringify({ city }) }] }),
  );

  server.registerPrompt(
    'briefing',
    {
      title: 'Briefing',
      description: 'A weather briefing.',
      argsSchema: {
        city: completable(z.string().describe('The city'), (value) => ['Delft', 'Oslo'].filter((c) => c.startsWith(value))),
        days: z.string().optional(),
      },
    },
    ({ city, days }) => ({
      description: `Briefing on ${city}`,
      messages: [
        { role: 'user', content: { type: 'text', text: `Brief me on ${city} for ${days ?? '1'} day(s).` } },
        { role: 'assistant', content: { type: 'text', text: 'Here it comes.' } },
      ],
    }),
  );
  server.prompt('hello', () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'Hello!' } }] }));
  return server;
}

/** Asks the official server as a client would. */
async function officialClient() {
  const server = register(official, officialCompletable);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(clientSide);
  return client;
}

const calls = [
  ['forecast', { city: 'Delft', days: 2 }],
  ['forecast', { city: 'Delft', days: 2, unit: 'fahrenheit' }],
  ['forecast', { city: 'Delft' }],
  ['forecast', { city: 'Delft', days: 9 }],
  ['forecast', { city: 5 }],
  ['forecast', { city: 'Delft', when: { from: 'now', to: 3 } }],
  ['plain', {}],
  ['union', { value: 3, email: 'a@b.co' }],
  ['union', { value: true, email: 'nope' }],
  ['throws', { why: 'broken on purpose' }],
  ['unshaped', {}],
  ['misshaped', {}],
  ['failing', {}],
  ['legacy', { x: 21 }],
  ['bare', {}],
];

describe('pier-sdk and the official SDK', () => {
  let client;
  let ours;
  before(async () => {
    client = await officialClient();
    ours = register(pier, pier.completable);
  });

  test('list tools alike', async () => {
    const { tools } = await client.listTools();
    // pier decides whether a call may run as a task; the official SDK says `forbidden`.
    for (const tool of tools) {
      assert.deepEqual(tool.execution, { taskSupport: 'forbidden' });
      delete tool.execution;
    }
    same(ours._describe().tools, tools);
  });

  test('answer calls alike', async () => {
    for (const [name, args] of calls) {
      const theirs = await client.callTool({ name, arguments: args });
      const mine = await ours._callTool(name, args);
      same(mine, theirs, `${name} ${JSON.stringify(args)}`);
    }
  });

  test('list and read resources alike', async () => {
    const { resources } = await client.listResources();
    same(ours._describe().resources, resources);
    const { resourceTemplates } = await client.listResourceTemplates();
    same(ours._describe().resourceTemplates, resourceTemplates);
    for (const uri of ['weather://stations', 'weather://logo', 'weather://Delft/now', 'weather://De%20lft/now']) {
      same(await ours._readResource(uri), await client.readResource({ uri }), uri);
    }
    await assert.rejects(client.readResource({ uri: 'weather://nowhere' }), /Resource weather:\/\/nowhere not found/);
    await assert.rejects(ours._readResource('weather://nowhere'), { name: 'Error', message: 'Resource weather://nowhere not found' });
  });

  test('list and render prompts alike', async () => {
    const { prompts } = await client.listPrompts();
    same(ours._describe().prompts, prompts);
    for (const [name, args] of [
      ['briefing', { city: 'Oslo', days: '3' }],
      ['briefing', { city: 'Oslo' }],
      ['hello', {}],
    ]) {
      same(await ours._getPrompt(name, args), await client.getPrompt({ name, arguments: args }), name);
    }
    const refused = await client.getPrompt({ name: 'briefing', arguments: {} }).catch((e) => e);
    const mine = await ours._getPrompt('briefing', {}).catch((e) => e);
    // The official client prefixes the message it received (already `MCP error -32602: …`).
    assert.equal(`MCP error ${mine.code}: ${mine.message}`, refused.message);
    assert.equal(mine.code, refused.code);
  });

  test('complete alike', async () => {
    for (const [ref, argument, value] of [
      [{ type: 'ref/prompt', name: 'briefing' }, 'city', 'O'],
      [{ type: 'ref/prompt', name: 'briefing' }, 'days', ''],
      [{ type: 'ref/resource', uri: 'weather://{city}/now' }, 'city', 'De'],
      [{ type: 'ref/resource', uri: 'weather://stations' }, 'city', 'De'],
    ]) {
      const { completion } = await client.complete({ ref, argument: { name: argument, value } });
      same(await ours._complete(ref, argument, value), completion.values, JSON.stringify(ref));
    }
  });
});

describe('registration', () => {
  test('refuses what the official SDK refuses, and names pier cannot serve', () => {
    const server = new pier.McpServer({ name: 'r', version: '1' });
    server.registerTool('once', {}, async () => ({ content: [] }));
    assert.throws(() => server.registerTool('once', {}, async () => ({ content: [] })), {
      message: 'Tool once is already registered',
    });
    assert.throws(() => server.registerTool('two words', {}, async () => ({ content: [] })), {
      message: 'pier-sdk: tool name `two words` must be 1 to 64 letters, digits, `_` or `-`',
    });
    assert.throws(() => server.registerTool('v3', { inputSchema: { a: { _def: { typeName: 'ZodString' } } } }, async () => ({ content: [] })), {
      message:
        'pier-sdk: the inputSchema of tool v3 (its field `a`) is a zod 3 schema; pier-sdk reads zod 4 schemas (import { z } from "zod" with zod 4, or from "zod/v4" with zod 3.25)',
    });
    assert.throws(() => new pier.ResourceTemplate('x://{a,b}'), /has a variable pier cannot read/);
  });

  test('uri templates match a segment or the rest, as sent (like the official SDK)', () => {
    const template = new pier.UriTemplate('files://{root}/{+path}');
    assert.deepEqual(template.match('files://home/a/b%20c.txt'), { root: 'home', path: 'a/b%20c.txt' });
    assert.equal(template.match('files://home'), null);
    assert.equal(new pier.UriTemplate('x://{a}/y').match('x://a/b/y'), null);
  });

  test('asking the host outside a component says why', async () => {
    const server = new pier.McpServer({ name: 'h', version: '1' });
    server.registerTool('ask', {}, async (extra) => {
      await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: 'hi' } });
      return { content: [] };
    });
    assert.deepEqual(await server._callTool('ask', {}), {
      content: [
        { type: 'text', text: 'pier-sdk: logging works only inside a pier plugin (a component built with `pier build`)' },
      ],
      isError: true,
    });
    assert.throws(() => pier.storage.get('k'), /storage works only inside a pier plugin/);
  });
});
