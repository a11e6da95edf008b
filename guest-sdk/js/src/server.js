// `McpServer` as the official TypeScript SDK's: `registerTool`, `registerResource`,
// `registerPrompt` (and the older `tool`, `resource`, `prompt`), zod schemas, handlers
// receiving `(args, extra)` and returning MCP results. What a client would ask of a
// server (list, call, read, render, complete) is served through pier by the component
// glue (`pier-sdk/component`), which calls the `_`-prefixed methods below.

import {
  EMPTY_OBJECT_JSON_SCHEMA,
  completer,
  fields,
  isOptional,
  jsonSchema,
  parse,
  parseErrorMessage,
  toSchema,
} from './schema.js';
import { UriTemplate } from './uriTemplate.js';
import { inCall, logTo, lowLevel, makeExtra, setEnabled } from './extra.js';

/** JSON-RPC error codes, as the official SDK names them. */
export const ErrorCode = Object.freeze({
  ConnectionClosed: -32000,
  RequestTimeout: -32001,
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  UrlElicitationRequired: -32042,
});

/** An MCP error, as the official SDK's (`message` reads `MCP error CODE: …`). */
export class McpError extends Error {
  constructor(code, message, data) {
    super(`MCP error ${code}: ${message}`);
    this.code = code;
    this.data = data;
    this.name = 'McpError';
  }
}

/** A component pier refuses to know (unknown tool, resource, prompt): `not-found`. */
export class NotFound extends Error {}

/** Every `McpServer` the plugin's module made; the last one is the plugin. */
export const servers = [];

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

function checkName(kind, name) {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new Error(`pier-sdk: ${kind} name \`${name}\` must be 1 to 64 letters, digits, \`_\` or \`-\``);
  }
}

/** A resource template: its URI template and optional `list` and `complete` callbacks. */
export class ResourceTemplate {
  constructor(uriTemplate, callbacks = {}) {
    this._uriTemplate = typeof uriTemplate === 'string' ? new UriTemplate(uriTemplate) : uriTemplate;
    this._callbacks = callbacks ?? {};
  }

  get uriTemplate() {
    return this._uriTemplate;
  }

  get listCallback() {
    return this._callbacks.list;
  }

  completeCallback(variable) {
    return this._callbacks.complete?.[variable];
  }
}

/** What `enable()`/`disable()` of a registered component does: before the plugin is
 * described, it keeps the component in or out; during a call, it asks pier to switch it
 * (clients hear `list_changed`). */
function switchable(kind, nameOf, item) {
  const apply = (enabled) => {
    if (inCall()) {
      setEnabled(kind, nameOf(), enabled);
    }
    item.enabled = enabled;
  };
  item.enabled = true;
  item.enable = () => apply(true);
  item.disable = () => apply(false);
  return item;
}

function asUrl(uri) {
  try {
    return new URL(uri);
  } catch {
    return { href: uri, toString: () => uri };
  }
}

export class McpServer {
  /** `serverInfo`: `{ name, version }`, as the official SDK's. */
  constructor(serverInfo = {}, options = {}) {
    this.serverInfo = { name: serverInfo.name ?? 'plugin', version: serverInfo.version ?? '0.0.0' };
    this.options = options;
    this._tools = new Map();
    this._resources = new Map();
    this._templates = new Map();
    this._prompts = new Map();
    this.server = lowLevel(this);
    servers.push(this);
  }

  // ---- registration ----

  registerTool(name, config = {}, cb) {
    const { title, description, inputSchema, outputSchema, annotations, _meta, tags } = config;
    return this._addTool(name, { title, description, inputSchema, outputSchema, annotations, _meta, tags }, cb);
  }

  /** The older `tool(name, [description], [paramsSchema], [annotations], cb)`. */
  tool(name, ...rest) {
    let description;
    let inputSchema;
    let annotations;
    if (typeof rest[0] === 'string') description = rest.shift();
    if (rest.length > 1) {
      const first = rest[0];
      if (first && typeof first === 'object' && Object.values(first).every((v) => v && typeof v === 'object')) {
        inputSchema = rest.shift();
        if (rest.length > 1 && rest[0] && typeof rest[0] === 'object') annotations = rest.shift();
      } else if (first && typeof first === 'object') {
        annotations = rest.shift();
      }
    }
    return this._addTool(name, { description, inputSchema, annotations }, rest[0]);
  }

  _addTool(name, config, handler) {
    checkName('tool', name);
    if (this._tools.has(name)) throw new Error(`Tool ${name} is already registered`);
    if (typeof handler !== 'function') throw new Error(`pier-sdk: tool ${name} needs a handler function`);
    const tool = switchable('tool', () => name, {
      name,
      title: config.title,
      description: config.description,
      inputSchema: toSchema(config.inputSchema, `the inputSchema of tool ${name}`),
      outputSchema: toSchema(config.outputSchema, `the outputSchema of tool ${name}`),
      annotations: config.annotations,
      _meta: config._meta,
      // pier's own: free-form tags middleware can filter on.
      tags: config.tags ?? [],
      handler,
    });
    tool.remove = () => this._tools.delete(name);
    this._tools.set(name, tool);
    return tool;
  }

  registerResource(name, uriOrTemplate, config = {}, readCallback) {
    return this._addResource(name, uriOrTemplate, config, readCallback);
  }

  /** The older `resource(name, uriOrTemplate, [metadata], readCallback)`. */
  resource(name, uriOrTemplate, ...rest) {
    const metadata = typeof rest[0] === 'object' ? rest.shift() : {};
    return this._addResource(name, uriOrTemplate, metadata, rest[0]);
  }

  _addResource(name, uriOrTemplate, config, readCallback) {
    if (typeof readCallback !== 'function') throw new Error(`pier-sdk: resource ${name} needs a read callback`);
    const { title, description, mimeType, ...rest } = config ?? {};
    const metadata = { title, description, mimeType, ...rest };
    if (typeof uriOrTemplate === 'string') {
      if (this._resources.has(uriOrTemplate)) throw new Error(`Resource ${uriOrTemplate} is already registered`);
      const resource = switchable('resource', () => uriOrTemplate, { uri: uriOrTemplate, name, metadata, readCallback });
      resource.remove = () => this._resources.delete(uriOrTemplate);
      this._resources.set(uriOrTemplate, resource);
      return resource;
    }
    if (!(uriOrTemplate instanceof ResourceTemplate)) {
      throw new Error(`pier-sdk: resource ${name} needs a URI string or a ResourceTemplate`);
    }
    if (this._templates.has(name)) throw new Error(`Resource template ${name} is already registered`);
    const template = switchable('resource', () => uriOrTemplate.uriTemplate.toString(), {
      name,
      resourceTemplate: uriOrTemplate,
      metadata,
      readCallback,
    });
    template.remove = () => this._templates.delete(name);
    this._templates.set(name, template);
    return template;
  }

  registerPrompt(name, config = {}, cb) {
    const { title, description, argsSchema } = config;
    return this._addPrompt(name, { title, description, argsSchema }, cb);
  }

  /** The older `prompt(name, [description], [argsSchema], cb)`. */
  prompt(name, ...rest) {
    const description = typeof rest[0] === 'string' ? rest.shift() : undefined;
    const argsSchema = rest.length > 1 ? rest.shift() : undefined;
    return this._addPrompt(name, { description, argsSchema }, rest[0]);
  }

  _addPrompt(name, config, callback) {
    checkName('prompt', name);
    if (this._prompts.has(name)) throw new Error(`Prompt ${name} is already registered`);
    if (typeof callback !== 'function') throw new Error(`pier-sdk: prompt ${name} needs a callback`);
    const prompt = switchable('prompt', () => name, {
      name,
      title: config.title,
      description: config.description,
      argsSchema: config.argsSchema === undefined ? undefined : toSchema(config.argsSchema, `the argsSchema of prompt ${name}`),
      callback,
    });
    prompt.remove = () => this._prompts.delete(name);
    this._prompts.set(name, prompt);
    return prompt;
  }

  // ---- what the official SDK's McpServer also has ----

  /** Sends a log message to the calling client (`notifications/message`). */
  async sendLoggingMessage(params) {
    logTo(params);
  }

  /** pier tells clients when lists change: these do nothing. */
  sendToolListChanged() {}
  sendResourceListChanged() {}
  sendPromptListChanged() {}

  /** Always true: pier serves the plugin. */
  isConnected() {
    return true;
  }

  /** pier connects the plugin: nothing to do. */
  async connect() {}
  async close() {}

  // ---- served by the component glue ----

  /** Everything the server offers, in MCP's shapes (`tools/list` and so on). */
  _describe() {
    const defined = (object) => Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
    const enabled = (items) => [...items.values()].filter((i) => i.enabled);
    return {
      name: this.serverInfo.name,
      version: this.serverInfo.version,
      tools: enabled(this._tools).map((t) =>
        defined({
          name: t.name,
          title: t.title,
          description: t.description,
          inputSchema: t.inputSchema ? jsonSchema(t.inputSchema, 'input') : EMPTY_OBJECT_JSON_SCHEMA,
          outputSchema: t.outputSchema ? jsonSchema(t.outputSchema, 'output') : undefined,
          annotations: t.annotations,
          _meta: t._meta,
        }),
      ),
      resources: enabled(this._resources).map((r) => defined({ uri: r.uri, name: r.name, ...r.metadata })),
      resourceTemplates: enabled(this._templates).map((t) =>
        defined({ name: t.name, uriTemplate: t.resourceTemplate.uriTemplate.toString(), ...t.metadata }),
      ),
      prompts: enabled(this._prompts).map((p) =>
        defined({
          name: p.name,
          title: p.title,
          description: p.description,
          arguments: p.argsSchema
            ? fields(p.argsSchema).map(([name, field]) =>
                defined({ name, description: field.description, required: !isOptional(field) }),
              )
            : undefined,
        }),
      ),
    };
  }

  /** `tools/call`: the MCP `CallToolResult` (failures are results with `isError`). */
  async _callTool(name, args, extra = makeExtra()) {
    const tool = this._tools.get(name);
    if (!tool) throw new NotFound(`Tool ${name} not found`);
    try {
      if (!tool.enabled) throw new McpError(ErrorCode.InvalidParams, `Tool ${name} disabled`);
      let result;
      if (tool.inputSchema) {
        const parsed = await parse(tool.inputSchema, args ?? {});
        if (!parsed.success) {
          throw new McpError(
            ErrorCode.InvalidParams,
            `Input validation error: Invalid arguments for tool ${name}: ${parseErrorMessage(parsed.error)}`,
          );
        }
        result = await tool.handler(parsed.data, extra);
      } else {
        result = await tool.handler(extra);
      }
      if (!result || typeof result !== 'object' || !Array.isArray(result.content)) {
        throw new Error(`Tool ${name} returned no content array`);
      }
      if (tool.outputSchema && !result.isError) {
        if (!result.structuredContent) {
          throw new McpError(
            ErrorCode.InvalidParams,
            `Output validation error: Tool ${name} has an output schema but no structured content was provided`,
          );
        }
        const checked = await parse(tool.outputSchema, result.structuredContent);
        if (!checked.success) {
          throw new McpError(
            ErrorCode.InvalidParams,
            `Output validation error: Invalid structured content for tool ${name}: ${parseErrorMessage(checked.error)}`,
          );
        }
      }
      return result;
    } catch (error) {
      return { content: [{ type: 'text', text: error instanceof Error ? error.message : String(error) }], isError: true };
    }
  }

  /** `resources/read`: the MCP `ReadResourceResult`. */
  async _readResource(uri, extra = makeExtra()) {
    const resource = this._resources.get(uri);
    if (resource) {
      if (!resource.enabled) throw new McpError(ErrorCode.InvalidParams, `Resource ${uri} disabled`);
      return resource.readCallback(asUrl(uri), extra);
    }
    for (const template of this._templates.values()) {
      const variables = template.resourceTemplate.uriTemplate.match(uri);
      if (variables) {
        return template.readCallback(asUrl(uri), variables, extra);
      }
    }
    throw new NotFound(`Resource ${uri} not found`);
  }

  /** `prompts/get`: the MCP `GetPromptResult`. */
  async _getPrompt(name, args, extra = makeExtra()) {
    const prompt = this._prompts.get(name);
    if (!prompt) throw new NotFound(`Prompt ${name} not found`);
    if (!prompt.enabled) throw new McpError(ErrorCode.InvalidParams, `Prompt ${name} disabled`);
    if (!prompt.argsSchema) return prompt.callback(extra);
    const parsed = await parse(prompt.argsSchema, args ?? {});
    if (!parsed.success) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `Invalid arguments for prompt ${name}: ${parseErrorMessage(parsed.error)}`,
      );
    }
    return prompt.callback(parsed.data, extra);
  }

  /** `completion/complete`: the suggested values (at most 100). `ref` is
   * `{ type: 'ref/prompt', name }` or `{ type: 'ref/resource', uri }`. */
  async _complete(ref, argument, value, context) {
    let complete;
    if (ref.type === 'ref/prompt') {
      const prompt = this._prompts.get(ref.name);
      if (!prompt) throw new NotFound(`Prompt ${ref.name} not found`);
      const field = fields(prompt.argsSchema).find(([n]) => n === argument)?.[1];
      complete = completer(field);
    } else {
      const template = [...this._templates.values()].find((t) => t.resourceTemplate.uriTemplate.toString() === ref.uri);
      if (!template) {
        if (this._resources.has(ref.uri)) return [];
        throw new NotFound(`Resource template ${ref.uri} not found`);
      }
      complete = template.resourceTemplate.completeCallback(argument);
    }
    if (!complete) return [];
    const suggestions = await complete(value, context);
    return Array.isArray(suggestions) ? suggestions.slice(0, 100).map(String) : [];
  }
}
