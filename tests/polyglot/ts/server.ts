// A server of the official MCP TypeScript SDK, served by pier: only the import of
// McpServer differs ("pier-sdk" for "@modelcontextprotocol/sdk/server/mcp.js"). Built
// with the JavaScript SDK (`scripts/componentize.sh jssdk`).
import { McpServer, ResourceTemplate, completable, config, storage } from 'pier-sdk';
import { z } from 'zod';

const server = new McpServer({ name: 'weather', version: '1.2.0' });

const PIXEL =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

server.registerTool(
  'forecast',
  {
    title: 'Forecast',
    description: 'The forecast for a city.',
    inputSchema: { city: z.string().describe("The city's name"), days: z.number().int().min(1).max(7).default(1) },
    outputSchema: { city: z.string(), temperature: z.number() },
  },
  async ({ city, days }, extra) => {
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: `forecast for ${city}` } });
    const progressToken = extra._meta?.progressToken;
    if (progressToken !== undefined) {
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: 1, total: 1 } });
    }
    const reading = { city, temperature: 21.5 + days };
    return { content: [{ type: 'text', text: JSON.stringify(reading) }], structuredContent: reading };
  },
);

server.registerTool(
  'add',
  { description: 'Adds two numbers.', inputSchema: { a: z.number(), b: z.number() }, annotations: { readOnlyHint: true } },
  async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
);

server.registerTool('pixel', { description: 'A one-pixel picture.' }, async () => ({
  content: [{ type: 'image', data: PIXEL, mimeType: 'image/png' }],
}));

server.registerTool('refuse', { inputSchema: { city: z.string() } }, async ({ city }) => {
  throw new Error(`no data for ${city}`);
});

server.registerTool('unshaped', { outputSchema: { n: z.number() } }, async () => ({
  content: [{ type: 'text', text: 'no structure' }],
}));

server.registerTool(
  'summarise',
  { description: 'Asks the client\'s model, then the user.', inputSchema: { city: z.string() } },
  async ({ city }) => {
    const answer = await server.server.createMessage({
      messages: [{ role: 'user', content: { type: 'text', text: `Summarise the weather in ${city}.` } }],
      maxTokens: 40,
    });
    const confirmed = await server.server.elicitInput({
      message: 'Share it?',
      requestedSchema: { type: 'object', properties: { share: { type: 'boolean' } }, required: ['share'] },
    });
    if (confirmed.action !== 'accept') {
      return { content: [{ type: 'text', text: `not shared (${confirmed.action})` }] };
    }
    const said = answer.content.type === 'text' ? answer.content.text : '';
    return { content: [{ type: 'text', text: `${said} (shared: ${confirmed.content.share})` }] };
  },
);

server.registerTool('readme', { description: "Reads another mount's resource." }, async (extra) => {
  const { contents } = await extra.readResource('hello://hello/readme');
  const first = contents[0];
  return { content: [{ type: 'text', text: 'text' in first ? first.text.split('\n')[0] : '' }] };
});

server.registerTool(
  'visit',
  { description: "Counts visits per city in the plugin's storage.", inputSchema: { city: z.string() } },
  async ({ city }) => {
    const visits = storage.increment(`visits/${city}`);
    storage.setJson('last', { city });
    const result = { visits, last: storage.getJson('last'), cities: [...storage.keys('visits/')] };
    return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
  },
);

server.registerTool('setting', { inputSchema: { key: z.string() } }, async ({ key }) => ({
  content: [{ type: 'text', text: config.get(key, 'unset') }],
}));

server.registerTool('fetch', { inputSchema: { url: z.string() } }, async ({ url }) => {
  const response = await fetch(url);
  return { content: [{ type: 'text', text: `${response.status} ${await response.text()}` }] };
});

server.registerResource(
  'stations',
  'weather://stations',
  { title: 'Stations', description: 'Every station.', mimeType: 'application/json' },
  async (uri) => ({ contents: [{ uri: uri.href, text: JSON.stringify({ stations: ['Delft', 'Oslo'] }) }] }),
);

server.registerResource(
  'now',
  new ResourceTemplate('weather://{city}/now', {
    list: undefined,
    complete: { city: (value: string) => ['Delft', 'Denver', 'Oslo'].filter((c) => c.startsWith(value)) },
  }),
  { description: 'The weather now.', mimeType: 'application/json' },
  async (uri, { city }) => ({ contents: [{ uri: uri.href, text: JSON.stringify({ city, temperature: 20 }) }] }),
);

server.registerPrompt(
  'briefing',
  {
    description: 'A weather briefing.',
    argsSchema: {
      city: completable(z.string().describe('The city'), (value: string) => ['Delft', 'Oslo'].filter((c) => c.startsWith(value))),
      days: z.string().optional(),
    },
  },
  ({ city, days }) => ({
    messages: [
      { role: 'user', content: { type: 'text', text: `Brief me on ${city} for ${days ?? '1'} day(s).` } },
      { role: 'assistant', content: { type: 'text', text: 'Here it comes.' } },
    ],
  }),
);
