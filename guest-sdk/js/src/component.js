// The `pier:mcp/plugin` export of a component built from a module that makes an
// `McpServer`: the last one it made, served through the bindings componentize-js
// generates. Imported only inside a component build (`pier build`), first, before the
// plugin's own module.

import * as context from 'pier:mcp/context@0.1.0';
import * as storage from 'pier:mcp/storage@0.1.0';
import * as config from 'wasi:config/store@0.2.0-rc.1';
import { during, install } from './host.js';
import { ErrorCode, McpError, NotFound, servers } from './server.js';
import { fromBase64, makeExtra } from './extra.js';

install({ context, storage, config });

// The configuration key `pier dev` hands its interpreter the module in.
export { DEV_MODULE } from './config.js';

// `pier dev`'s interpreter: how the plugin's module is loaded when the component was
// built without it (it runs at the first call of each instance).
let loader;

/** Has `load` run the plugin's module when a call finds no server (`pier dev`). */
export function _loadWith(load) {
  loader = load;
}

function server() {
  if (servers.length === 0 && loader) {
    const load = loader;
    loader = undefined;
    load();
  }
  const found = servers[servers.length - 1];
  if (!found) throw { tag: 'failed', val: "the plugin's module made no McpServer" };
  return found;
}

const json = (value) => (value === undefined || value === null ? undefined : JSON.stringify(value));
const text = (value) => (value === undefined || value === null ? undefined : String(value));

function body(item) {
  if (typeof item.text === 'string') return { tag: 'text', val: item.text };
  if (typeof item.blob === 'string') return { tag: 'blob', val: fromBase64(item.blob) };
  throw new Error(`resource contents of ${item.uri} have neither text nor blob`);
}

function resourceContents(item) {
  if (!item || typeof item.uri !== 'string') throw new Error('resource contents need a uri');
  return { uri: item.uri, mimeType: text(item.mimeType), body: body(item) };
}

/** One MCP content block as pier's `content` variant. */
function content(block) {
  switch (block?.type) {
    case 'text':
      return { tag: 'text', val: String(block.text) };
    case 'image':
    case 'audio':
      return { tag: block.type, val: { data: fromBase64(block.data), mimeType: String(block.mimeType) } };
    case 'resource':
      return { tag: 'embedded-resource', val: resourceContents(block.resource) };
    case 'resource_link':
      return {
        tag: 'resource-link',
        val: { uri: String(block.uri), name: String(block.name), description: text(block.description), mimeType: text(block.mimeType) },
      };
    default:
      throw new Error(`not an MCP content block: ${JSON.stringify(block)}`);
  }
}

/** An error of a call as pier's `error` variant. */
function refusal(error) {
  if (error && typeof error === 'object' && typeof error.tag === 'string') return error;
  if (error instanceof NotFound) return { tag: 'not-found', val: error.message };
  if (error instanceof McpError && error.code === ErrorCode.InvalidParams) return { tag: 'invalid-params', val: error.message };
  return { tag: 'failed', val: error instanceof Error ? error.message : String(error) };
}

async function served(body) {
  try {
    return await during(body);
  } catch (error) {
    throw refusal(error);
  }
}

export const plugin = {
  describe() {
    const offer = server()._describe();
    return {
      name: offer.name,
      version: offer.version,
      tools: offer.tools.map((t) => ({
        name: t.name,
        title: t.title,
        description: t.description ?? '',
        inputSchema: JSON.stringify(t.inputSchema),
        outputSchema: json(t.outputSchema),
        annotations: json(t.annotations),
        tags: [...(server()._tools.get(t.name)?.tags ?? [])].map(String),
      })),
      resources: offer.resources.map((r) => ({
        uri: r.uri,
        name: r.name,
        title: text(r.title),
        description: text(r.description),
        mimeType: text(r.mimeType),
      })),
      templates: offer.resourceTemplates.map((t) => ({
        uriTemplate: t.uriTemplate,
        name: t.name,
        title: text(t.title),
        description: text(t.description),
        mimeType: text(t.mimeType),
      })),
      prompts: offer.prompts.map((p) => ({
        name: p.name,
        title: text(p.title),
        description: text(p.description),
        arguments: (p.arguments ?? []).map((a) => ({ name: a.name, description: text(a.description), required: !!a.required })),
      })),
    };
  },

  callTool(name, args) {
    return served(async () => {
      const result = await server()._callTool(name, JSON.parse(args), makeExtra());
      try {
        return {
          content: result.content.map(content),
          structured: json(result.structuredContent),
          isError: !!result.isError,
        };
      } catch (error) {
        return { content: [{ tag: 'text', val: `Tool ${name} returned ${error.message}` }], structured: undefined, isError: true };
      }
    });
  },

  readResource(uri) {
    return served(async () => {
      const result = await server()._readResource(uri, makeExtra());
      if (!result || !Array.isArray(result.contents)) throw new Error(`Resource ${uri} returned no contents array`);
      return result.contents.map(resourceContents);
    });
  },

  getPrompt(name, args) {
    return served(async () => {
      const result = await server()._getPrompt(name, Object.fromEntries(args), makeExtra());
      if (!result || !Array.isArray(result.messages)) throw new Error(`Prompt ${name} returned no messages array`);
      return {
        description: text(result.description),
        messages: result.messages.map((m) => ({
          role: m.role === 'assistant' ? 'assistant' : 'user',
          content: content(m.content),
        })),
      };
    });
  },

  complete(reference, argument, value) {
    return served(async () => {
      const ref =
        reference.tag === 'prompt' ? { type: 'ref/prompt', name: reference.val } : { type: 'ref/resource', uri: reference.val };
      return server()._complete(ref, argument, value, undefined);
    });
  },
};
