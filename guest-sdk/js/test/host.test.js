// What `extra`, `server.server`, `storage` and `config` send through pier's interfaces,
// with recording stand-ins for the interfaces componentize-js binds in a component
// (host/tests/js_sdk.rs serves the real thing).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as pier from '../src/index.js';
import { during } from '../src/host.js';

const sent = [];
const context = {
  log: (...args) => sent.push(['log', ...args]),
  reportProgress: (...args) => sent.push(['progress', ...args]),
  sample: (request) => {
    sent.push(['sample', JSON.parse(request)]);
    return JSON.stringify({ role: 'assistant', content: { type: 'text', text: 'Mild.' }, model: 'm' });
  },
  elicit: (message, schema) => {
    sent.push(['elicit', message, JSON.parse(schema)]);
    return message === 'no?' ? { tag: 'decline' } : { tag: 'accept', val: '{"share":true}' };
  },
  ask: () => [{ tag: 'roots', val: '{"roots":[{"uri":"file:///w"}]}' }],
  request: () => ({ requestId: '7', sessionId: 's-1', clientName: 'c', clientVersion: '1', subject: undefined, scopes: [] }),
  isCancelled: () => false,
  setEnabled: (...args) => {
    sent.push(['enabled', ...args]);
    return true;
  },
  readResource: (uri) => {
    const error = new Error('not found');
    error.payload = { tag: 'not-found', val: `resource not found: ${uri}` };
    throw error;
  },
};
const kept = new Map();
const storage = {
  get: (key) => kept.get(key),
  set: (key, value) => {
    if (key === '') throw { payload: { tag: 'invalid-key', val: 'the key is empty' } };
    kept.set(key, value);
  },
  delete: (key) => kept.delete(key),
  listKeys: (prefix, cursor) => {
    const keys = [...kept.keys()].filter((k) => k.startsWith(prefix)).sort();
    const start = cursor === undefined ? 0 : Number(cursor);
    const next = start + 1 < keys.length ? String(start + 1) : undefined;
    return { keys: keys.slice(start, start + 1), nextCursor: next };
  },
  increment: (key, by) => {
    const now = BigInt(new TextDecoder().decode(kept.get(key) ?? new TextEncoder().encode('0'))) + by;
    kept.set(key, new TextEncoder().encode(String(now)));
    return now;
  },
};
pier._installHost({ context, storage, config: { get: (k) => (k === 'greeting' ? 'ahoy' : undefined), getAll: () => [['greeting', 'ahoy'], ['pier:dev-module', 'module.exports = {}']] } });

test('extra sends logs, progress, samples and questions through the context', async () => {
  sent.length = 0;
  const server = new pier.McpServer({ name: 'h', version: '1' });
  const tool = server.registerTool('t', {}, async (extra) => {
    assert.equal(extra.requestId, 7);
    assert.equal(extra.sessionId, 's-1');
    assert.equal(extra.authInfo, undefined);
    assert.deepEqual(extra.clientInfo, { name: 'c', version: '1' });
    assert.equal(extra.signal.aborted, false);
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'warning', data: 'plain' } });
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: { message: 'm', n: 1 } } });
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'debug', data: [1] } });
    await extra.sendNotification({
      method: 'notifications/progress',
      params: { progressToken: extra._meta.progressToken, progress: 1, total: 2 },
    });
    const sampled = await extra.sendRequest({ method: 'sampling/createMessage', params: { messages: [], maxTokens: 5 } });
    const accepted = await server.server.elicitInput({ message: 'share?', requestedSchema: { type: 'object' } });
    const declined = await extra.elicit('no?', { type: 'object' });
    const roots = await server.server.listRoots();
    await assert.rejects(extra.readResource('x://y'), { message: 'resource not found: x://y' });
    await assert.rejects(extra.sendRequest({ method: 'tools/call' }), {
      message: 'pier-sdk: a plugin cannot send `tools/call` to the client',
    });
    tool.disable();
    return { content: [{ type: 'text', text: JSON.stringify({ sampled: sampled.content.text, accepted, declined, roots }) }] };
  });
  const result = await during(() => server._callTool('t', {}));
  assert.deepEqual(JSON.parse(result.content[0].text), {
    sampled: 'Mild.',
    accepted: { action: 'accept', content: { share: true } },
    declined: { action: 'decline' },
    roots: { roots: [{ uri: 'file:///w' }] },
  });
  assert.deepEqual(sent, [
    ['log', 'warning', 'plain', undefined],
    ['log', 'info', 'm', '{"n":1}'],
    ['log', 'debug', '', '[1]'],
    ['progress', 1, 2, undefined],
    ['sample', { messages: [], maxTokens: 5 }],
    ['elicit', 'share?', { type: 'object' }],
    ['elicit', 'no?', { type: 'object' }],
    ['enabled', 'tool', 't', false],
  ]);
});

test('storage converts values and names its errors', () => {
  pier.storage.setJson('a/1', { x: 1 });
  pier.storage.set('a/2', 'two');
  assert.deepEqual(pier.storage.getJson('a/1'), { x: 1 });
  assert.equal(pier.storage.getText('a/2'), 'two');
  assert.equal(pier.storage.get('missing'), undefined);
  assert.deepEqual([...pier.storage.keys('a/')], ['a/1', 'a/2']);
  assert.equal(pier.storage.increment('n'), 1);
  assert.equal(pier.storage.increment('n', 5), 6);
  assert.throws(() => pier.storage.set('', 'x'), { name: 'StorageError', kind: 'invalid-key', message: 'the key is empty' });
  assert.throws(() => pier.storage.set('k', 5), /storage values are strings or Uint8Arrays/);
  assert.equal(pier.config.get('greeting'), 'ahoy');
  assert.equal(pier.config.get('nope', 'unset'), 'unset');
  // pier dev's own key (its interpreter's module) is no configuration of the plugin's.
  assert.deepEqual(pier.config.getAll(), { greeting: 'ahoy' });
});
