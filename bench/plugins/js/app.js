// The benchmark's tools as a JavaScript plugin (componentize-js): `echo` and `add`.

const tool = (name, description, schema) => ({
  name,
  title: undefined,
  description,
  inputSchema: JSON.stringify(schema),
  outputSchema: undefined,
  annotations: undefined,
  tags: [],
});

const text = (value) => ({ content: [{ tag: 'text', val: value }], structured: undefined, isError: false });

export const plugin = {
  describe() {
    return {
      name: 'bench-js',
      version: '0.1.0',
      tools: [
        tool('echo', 'Return the text unchanged.', {
          type: 'object', properties: { text: { type: 'string' } }, required: ['text'],
        }),
        tool('add', 'Add two integers.', {
          type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['a', 'b'],
        }),
      ],
      resources: [],
      templates: [],
      prompts: [],
    };
  },
  callTool(name, args) {
    const parsed = JSON.parse(args);
    if (name === 'echo') return text(parsed.text);
    if (name === 'add') return text(String(parsed.a + parsed.b));
    throw { tag: 'not-found', val: `unknown tool \`${name}\`` };
  },
  readResource(uri) {
    throw { tag: 'not-found', val: `resource not found: ${uri}` };
  },
  getPrompt(name, _args) {
    throw { tag: 'not-found', val: `unknown prompt \`${name}\`` };
  },
  complete(_ref, _arg, _value) {
    return [];
  },
};
