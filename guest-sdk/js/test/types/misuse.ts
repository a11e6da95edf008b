// Mistakes the types must catch: each line below `@ts-expect-error` fails to compile.
import { McpServer, storage } from 'pier-sdk';
import { z } from 'zod';

const server = new McpServer({ name: 'types', version: '1.0.0' });

server.registerTool('add', { inputSchema: { a: z.number(), b: z.number().default(1) } }, async ({ a, b }) => {
  const sum: number = a + b;
  // @ts-expect-error: `a` is a number
  const wrong: string = a;
  return { content: [{ type: 'text', text: `${sum}${wrong}` }] };
});

// @ts-expect-error: a handler returns content
server.registerTool('nothing', {}, async () => ({ text: 'no content array' }));

// @ts-expect-error: content blocks have a type
server.registerTool('untyped', {}, async () => ({ content: [{ text: 'hi' }] }));

server.registerPrompt('p', { argsSchema: { city: z.string() } }, ({ city }) => ({
  messages: [{ role: 'user', content: { type: 'text', text: city } }],
}));

// @ts-expect-error: storage holds strings and bytes
storage.set('k', 5);
