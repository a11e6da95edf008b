// A pier plugin in JavaScript (componentize-js): one tool, `reverse`, that reverses text
// and logs through the host's context interface.
import { log } from 'pier:mcp/context@0.1.0';

const schema = {
  type: 'object',
  properties: { text: { type: 'string', description: 'What to reverse.' } },
  required: ['text'],
};

export const plugin = {
  describe() {
    return {
      name: 'js-reverse',
      version: '0.1.0',
      tools: [{
        name: 'reverse',
        title: undefined,
        description: 'Reverse the text (written in JavaScript).',
        inputSchema: JSON.stringify(schema),
        outputSchema: undefined,
        annotations: undefined,
        tags: [],
      }],
      resources: [],
      templates: [],
      prompts: [],
    };
  },
  callTool(name, args) {
    if (name !== 'reverse') {
      throw { tag: 'not-found', val: `unknown tool \`${name}\`` };
    }
    const { text } = JSON.parse(args);
    log('info', `reversing ${text.length} characters`, undefined);
    return { content: [{ tag: 'text', val: [...text].reverse().join('') }], structured: undefined, isError: false };
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
