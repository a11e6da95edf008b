// A pier plugin in JavaScript (componentize-js), world `pier-plugin-granted`: `reverse`
// reverses text and logs through the host's context interface; `fetch` reads a URL with
// plain fetch() over wasi:http (within the plugin's grants); `setting` reads its
// configuration through wasi:config/store.
import { log } from 'pier:mcp/context@0.1.0';
import { get } from 'wasi:config/store@0.2.0-rc.1';

const stringArgument = (name, description) => ({
  type: 'object',
  properties: { [name]: { type: 'string', description } },
  required: [name],
});

const tool = (name, description, schema) => ({
  name,
  title: undefined,
  description,
  inputSchema: JSON.stringify(schema),
  outputSchema: undefined,
  annotations: undefined,
  tags: [],
});

const text = (val, isError = false) => ({ content: [{ tag: 'text', val }], structured: undefined, isError });

// An async export: componentize-js runs the event loop until the promise settles.
async function fetchText(url) {
  try {
    const response = await fetch(url);
    return text(`${response.status} ${await response.text()}`);
  } catch (e) {
    return text(`request failed: ${e}`, true);
  }
}

// What `remember` keeps between calls served by one instance.
let kept = 'nothing';

export const plugin = {
  describe() {
    return {
      name: 'js-reverse',
      version: '0.1.0',
      tools: [
        tool('reverse', 'Reverse the text (written in JavaScript).', stringArgument('text', 'What to reverse.')),
        tool('fetch', "The status and body of a URL, within the plugin's grants.", stringArgument('url', 'An http:// or https:// URL.')),
        tool('setting', 'A configuration value of the plugin.', stringArgument('key', 'A configuration key.')),
        tool('remember', 'What an earlier call of this instance kept in a global, then keeps `value`.', {
          type: 'object',
          properties: { value: { type: 'string', description: 'What to keep for the next call.' } },
        }),
      ],
      resources: [],
      templates: [],
      prompts: [],
    };
  },
  callTool(name, args) {
    const parsed = JSON.parse(args);
    switch (name) {
      case 'reverse':
        log('info', `reversing ${parsed.text.length} characters`, undefined);
        return text([...parsed.text].reverse().join(''));
      case 'fetch':
        return fetchText(parsed.url);
      case 'setting':
        return text(get(parsed.key) ?? 'unset');
      case 'remember': {
        const before = kept;
        kept = parsed.value ?? kept;
        return text(before);
      }
      default:
        throw { tag: 'not-found', val: `unknown tool \`${name}\`` };
    }
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
