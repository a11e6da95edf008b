// The `extra` argument of handlers, as the official SDK's `RequestHandlerExtra` (request
// and session ids, an abort signal, `sendNotification`, `sendRequest`), with pier's own
// shortcuts (`log`, `reportProgress`, `sample`, `elicit`, `readResource`, `getPrompt`,
// request-scoped state), all through pier's `context` interface.

import { host, hostErrorText, inCall as calling } from './host.js';

export { calling as inCall };

const LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

const context = (what) => host('context', what);

/** A host call returning `result<T, error>`, its error thrown as an `Error` naming it. */
function ok(call) {
  try {
    return call();
  } catch (e) {
    throw new Error(hostErrorText(e));
  }
}

const json = (value) => JSON.stringify(value ?? null);

/** Sends a log message: `data` a string, or JSON (an object's `message` is the text). */
export function logTo({ level = 'info', data } = {}) {
  if (!LEVELS.includes(level)) throw new Error(`pier-sdk: unknown log level \`${level}\``);
  const log = context('logging').log;
  if (typeof data === 'string') return log(level, data, undefined);
  if (data && typeof data === 'object' && !Array.isArray(data) && typeof data.message === 'string') {
    const { message, ...rest } = data;
    return log(level, message, Object.keys(rest).length ? json(rest) : undefined);
  }
  return log(level, '', json(data));
}

export function setEnabled(kind, name, enabled) {
  return ok(() => context('enable()/disable()').setEnabled(kind, name, enabled));
}

function sample(params) {
  return JSON.parse(ok(() => context('sampling').sample(json(params))));
}

function elicit(params) {
  const { message, requestedSchema } = params ?? {};
  const answer = ok(() => context('elicitation').elicit(String(message ?? ''), json(requestedSchema)));
  if (answer.tag === 'accept') return { action: 'accept', content: JSON.parse(answer.val) };
  return { action: answer.tag };
}

function listRoots() {
  const [answer] = ok(() => context('roots/list').ask([['roots-1', { tag: 'list-roots' }]]));
  return JSON.parse(answer.val);
}

function contents(items) {
  return items.map(({ uri, mimeType, body }) => {
    const item = { uri, mimeType };
    if (body.tag === 'text') item.text = body.val;
    else item.blob = toBase64(body.val);
    if (mimeType === undefined) delete item.mimeType;
    return item;
  });
}

/** Bytes as base64. */
export function toBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

/** Base64 as bytes. */
export function fromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function messageContent(content) {
  switch (content.tag) {
    case 'text':
      return { type: 'text', text: content.val };
    case 'image':
    case 'audio':
      return { type: content.tag, data: toBase64(content.val.data), mimeType: content.val.mimeType };
    case 'embedded-resource':
      return { type: 'resource', resource: contents([content.val])[0] };
    default:
      return { type: 'resource_link', ...content.val };
  }
}

/** Sends the client a request, as the official SDK's `sendRequest` does. */
function request({ method, params } = {}) {
  switch (method) {
    case 'sampling/createMessage':
      return sample(params);
    case 'elicitation/create':
      return elicit(params);
    case 'roots/list':
      return listRoots();
    default:
      throw new Error(`pier-sdk: a plugin cannot send \`${method}\` to the client`);
  }
}

/** Sends the client a notification, as the official SDK's `sendNotification` does. */
function notify({ method, params = {} } = {}) {
  switch (method) {
    case 'notifications/message':
      return logTo(params);
    case 'notifications/progress':
      return context('progress').reportProgress(params.progress, params.total ?? undefined, params.message ?? undefined);
    case 'notifications/resources/updated':
      return ok(() => context('resource updates').notifyResourceUpdated(params.uri));
    case 'notifications/tools/list_changed':
    case 'notifications/resources/list_changed':
    case 'notifications/prompts/list_changed':
      return undefined; // pier sends these itself.
    default:
      throw new Error(`pier-sdk: a plugin cannot send \`${method}\` to the client`);
  }
}

/** An `AbortSignal`-like view of the request's cancellation. */
function cancellation() {
  const aborted = () => calling() && context('signal').isCancelled();
  return {
    get aborted() {
      return aborted();
    },
    get reason() {
      return aborted() ? new Error('The request was cancelled by the client') : undefined;
    },
    throwIfAborted() {
      if (aborted()) throw this.reason;
    },
    addEventListener() {},
    removeEventListener() {},
  };
}

/** The `extra` of one call. */
export function makeExtra() {
  let info;
  const who = () => {
    info ??= context('request info').request();
    return info;
  };
  return {
    signal: cancellation(),
    get requestId() {
      const id = who().requestId;
      try {
        return JSON.parse(id);
      } catch {
        return id;
      }
    },
    get sessionId() {
      return who().sessionId;
    },
    /** The verified caller, when pier's auth is on: never the token itself. */
    get authInfo() {
      const { subject, scopes } = who();
      return subject === undefined ? undefined : { clientId: subject, scopes, extra: { subject } };
    },
    /** The client's `clientInfo` (pier's own). */
    get clientInfo() {
      const { clientName, clientVersion } = who();
      return clientName === undefined ? undefined : { name: clientName, version: clientVersion };
    },
    // pier sends progress with the client's own token, and only when it gave one: a
    // handler that checks for a token before reporting finds this one.
    _meta: { progressToken: 'pier' },
    sendNotification: async (notification) => notify(notification),
    sendRequest: async (req, resultSchema) => {
      const result = request(req);
      return resultSchema && typeof resultSchema.parse === 'function' ? resultSchema.parse(result) : result;
    },
    // pier's shortcuts
    log: async (level, message, data) => {
      if (!LEVELS.includes(level)) throw new Error(`pier-sdk: unknown log level \`${level}\``);
      context('logging').log(level, String(message), data === undefined ? undefined : json(data));
    },
    reportProgress: async (progress, total, message) => notify({ method: 'notifications/progress', params: { progress, total, message } }),
    sample: async (params) => sample(params),
    elicit: async (message, requestedSchema) => elicit({ message, requestedSchema }),
    readResource: async (uri) => ({ contents: contents(ok(() => context('readResource').readResource(uri))) }),
    getPrompt: async (name, args = {}) => {
      const rendered = ok(() =>
        context('getPrompt').getPrompt(name, Object.entries(args).map(([k, v]) => [k, String(v)])),
      );
      const result = {
        messages: rendered.messages.map((m) => ({ role: m.role, content: messageContent(m.content) })),
      };
      if (rendered.description !== undefined) result.description = rendered.description;
      return result;
    },
    getState: (key) => {
      const value = context('state').getState(key);
      return value === undefined ? undefined : JSON.parse(value);
    },
    setState: (key, value) => context('state').setState(key, json(value)),
    /** Lets the call go on as a task (MCP 2026-07-28); false when it cannot be one. */
    startTask: () => context('tasks').startTask(),
  };
}

/** `server.server`: what the official SDK's low-level `Server` offers a tool handler. */
export function lowLevel(mcp) {
  return {
    createMessage: async (params) => sample(params),
    elicitInput: async (params) => elicit(params),
    listRoots: async () => listRoots(),
    sendLoggingMessage: async (params) => logTo(params),
    getClientVersion: () => makeExtra().clientInfo,
    getClientCapabilities: () => undefined,
    sendToolListChanged: () => {},
    sendResourceListChanged: () => {},
    sendPromptListChanged: () => {},
    sendResourceUpdated: async (params) => notify({ method: 'notifications/resources/updated', params }),
    get serverInfo() {
      return mcp.serverInfo;
    },
  };
}
