// Types of pier-sdk: the official MCP TypeScript SDK's McpServer API, served by pier.
import type * as z from 'zod/v4/core';

/** A raw shape of zod schemas: `{ a: z.number() }`. */
export type ZodRawShape = Record<string, z.$ZodType>;
/** What a handler receives for a raw shape or an object schema: zod's parsed output. */
export type ArgsOf<S> = S extends ZodRawShape
  ? z.output<z.$ZodObject<S>>
  : S extends z.$ZodType
    ? z.output<S>
    : never;

export type Role = 'user' | 'assistant';
export type LoggingLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';

export interface TextContent { type: 'text'; text: string; annotations?: Record<string, unknown>; _meta?: Record<string, unknown> }
export interface ImageContent { type: 'image'; data: string; mimeType: string; annotations?: Record<string, unknown>; _meta?: Record<string, unknown> }
export interface AudioContent { type: 'audio'; data: string; mimeType: string; annotations?: Record<string, unknown>; _meta?: Record<string, unknown> }
export type ResourceContents =
  | { uri: string; mimeType?: string; text: string; _meta?: Record<string, unknown> }
  | { uri: string; mimeType?: string; blob: string; _meta?: Record<string, unknown> };
export interface EmbeddedResource { type: 'resource'; resource: ResourceContents; annotations?: Record<string, unknown> }
export interface ResourceLink { type: 'resource_link'; uri: string; name: string; title?: string; description?: string; mimeType?: string }
export type ContentBlock = TextContent | ImageContent | AudioContent | EmbeddedResource | ResourceLink;

export interface CallToolResult {
  content: ContentBlock[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  _meta?: Record<string, unknown>;
}
export interface ReadResourceResult { contents: ResourceContents[]; _meta?: Record<string, unknown> }
export interface PromptMessage { role: Role; content: ContentBlock }
export interface GetPromptResult { description?: string; messages: PromptMessage[]; _meta?: Record<string, unknown> }

export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
  [key: string]: unknown;
}

export interface CreateMessageRequestParams {
  messages: { role: Role; content: ContentBlock | ContentBlock[] }[];
  maxTokens: number;
  systemPrompt?: string;
  temperature?: number;
  stopSequences?: string[];
  modelPreferences?: Record<string, unknown>;
  includeContext?: 'none' | 'thisServer' | 'allServers';
  metadata?: Record<string, unknown>;
  [key: string]: unknown;
}
export interface CreateMessageResult { role: Role; content: ContentBlock; model: string; stopReason?: string; [key: string]: unknown }
export interface ElicitRequestParams { message: string; requestedSchema: Record<string, unknown>; mode?: 'form' }
export type ElicitResult =
  | { action: 'accept'; content: Record<string, unknown> }
  | { action: 'decline' | 'cancel'; content?: undefined };

/** A notification a handler may send (`extra.sendNotification`). */
export type ServerNotification =
  | { method: 'notifications/message'; params: { level: LoggingLevel; data: unknown; logger?: string } }
  | { method: 'notifications/progress'; params: { progressToken: string | number; progress: number; total?: number; message?: string } }
  | { method: 'notifications/resources/updated'; params: { uri: string } }
  | { method: 'notifications/tools/list_changed' | 'notifications/resources/list_changed' | 'notifications/prompts/list_changed'; params?: Record<string, unknown> };

/** A request a handler may send the client (`extra.sendRequest`). */
export type ServerRequest =
  | { method: 'sampling/createMessage'; params: CreateMessageRequestParams }
  | { method: 'elicitation/create'; params: ElicitRequestParams }
  | { method: 'roots/list'; params?: Record<string, unknown> };

/** The second argument of every handler, as the official SDK's `RequestHandlerExtra`. */
export interface RequestHandlerExtra {
  /** Aborted once the client cancelled the request. */
  signal: AbortSignal;
  /** The JSON-RPC id of the client's request. */
  requestId: string | number;
  /** An opaque id of the client's session (not the transport's session id). */
  sessionId?: string;
  /** The verified caller when pier's auth is on (the token itself never reaches a plugin). */
  authInfo?: { clientId: string; scopes: string[]; extra: { subject: string } };
  /** pier's own: the client's `clientInfo`. */
  clientInfo?: { name: string; version?: string };
  /** `progressToken` is a stand-in: pier reports progress with the client's own token, if it gave one. */
  _meta: { progressToken: string };
  sendNotification(notification: ServerNotification): Promise<void>;
  sendRequest<T = unknown>(request: ServerRequest, resultSchema?: { parse(value: unknown): T }): Promise<T>;

  // pier's shortcuts
  log(level: LoggingLevel, message: string, data?: unknown): Promise<void>;
  reportProgress(progress: number, total?: number, message?: string): Promise<void>;
  sample(params: CreateMessageRequestParams): Promise<CreateMessageResult>;
  elicit(message: string, requestedSchema: Record<string, unknown>): Promise<ElicitResult>;
  /** Reads a resource of any mount by its namespaced URI. */
  readResource(uri: string): Promise<ReadResourceResult>;
  /** Renders a prompt of any mount by its namespaced name. */
  getPrompt(name: string, args?: Record<string, string>): Promise<GetPromptResult>;
  /** Request-scoped state shared with middleware (JSON values). */
  getState(key: string): unknown;
  setState(key: string, value: unknown): void;
  /** Lets the call go on as a task (MCP 2026-07-28); false when it cannot be one. */
  startTask(): boolean;
}

export type ToolCallback<S> = [S] extends [undefined]
  ? (extra: RequestHandlerExtra) => CallToolResult | Promise<CallToolResult>
  : (args: ArgsOf<S>, extra: RequestHandlerExtra) => CallToolResult | Promise<CallToolResult>;

interface Switchable {
  enabled: boolean;
  /** During a call: asks pier to switch the component (clients hear `list_changed`). Before the plugin is described: keeps it out of, or in, the plugin's offer. */
  enable(): void;
  disable(): void;
  remove(): void;
}
export interface RegisteredTool extends Switchable { name: string; title?: string; description?: string }
export interface RegisteredResource extends Switchable { name: string; uri: string }
export interface RegisteredResourceTemplate extends Switchable { name: string; resourceTemplate: ResourceTemplate }
export interface RegisteredPrompt extends Switchable { name: string; title?: string; description?: string }

export interface ResourceMetadata { title?: string; description?: string; mimeType?: string; [key: string]: unknown }

export type CompleteCallback = (value: string, context?: { arguments?: Record<string, string> }) => string[] | Promise<string[]>;

/** RFC 6570 templates as pier reads them: `{var}` one path segment, `{+var}` the rest. */
export declare class UriTemplate {
  constructor(template: string);
  readonly template: string;
  readonly variableNames: string[];
  toString(): string;
  isLiteral(): boolean;
  /** The variables of `uri` as they appear in it (percent-encoded), or null. */
  match(uri: string): Record<string, string> | null;
}

export declare class ResourceTemplate {
  constructor(
    uriTemplate: string | UriTemplate,
    callbacks: { list: undefined | ((extra: RequestHandlerExtra) => unknown); complete?: Record<string, CompleteCallback> },
  );
  get uriTemplate(): UriTemplate;
  completeCallback(variable: string): CompleteCallback | undefined;
}

export declare const ErrorCode: {
  readonly ConnectionClosed: -32000;
  readonly RequestTimeout: -32001;
  readonly ParseError: -32700;
  readonly InvalidRequest: -32600;
  readonly MethodNotFound: -32601;
  readonly InvalidParams: -32602;
  readonly InternalError: -32603;
  readonly UrlElicitationRequired: -32042;
};

export declare class McpError extends Error {
  constructor(code: number, message: string, data?: unknown);
  readonly code: number;
  readonly data?: unknown;
}

export declare class McpServer {
  constructor(serverInfo: { name: string; version: string; title?: string }, options?: Record<string, unknown>);
  readonly serverInfo: { name: string; version: string };
  /** What the official SDK's low-level `Server` offers a handler. */
  readonly server: {
    createMessage(params: CreateMessageRequestParams): Promise<CreateMessageResult>;
    elicitInput(params: ElicitRequestParams): Promise<ElicitResult>;
    listRoots(): Promise<{ roots: { uri: string; name?: string }[] }>;
    sendLoggingMessage(params: { level: LoggingLevel; data: unknown; logger?: string }): Promise<void>;
    sendResourceUpdated(params: { uri: string }): Promise<void>;
    getClientVersion(): { name: string; version?: string } | undefined;
    getClientCapabilities(): undefined;
  };

  registerTool<I extends ZodRawShape | z.$ZodType | undefined = undefined, O extends ZodRawShape | z.$ZodType | undefined = undefined>(
    name: string,
    config: {
      title?: string;
      description?: string;
      inputSchema?: I;
      outputSchema?: O;
      annotations?: ToolAnnotations;
      _meta?: Record<string, unknown>;
      /** pier's own: free-form tags middleware can filter on. */
      tags?: string[];
    },
    cb: ToolCallback<I>,
  ): RegisteredTool;
  tool(name: string, cb: ToolCallback<undefined>): RegisteredTool;
  tool(name: string, description: string, cb: ToolCallback<undefined>): RegisteredTool;
  tool<S extends ZodRawShape>(name: string, paramsSchema: S, cb: ToolCallback<S>): RegisteredTool;
  tool<S extends ZodRawShape>(name: string, description: string, paramsSchema: S, cb: ToolCallback<S>): RegisteredTool;
  tool<S extends ZodRawShape>(name: string, paramsSchema: S, annotations: ToolAnnotations, cb: ToolCallback<S>): RegisteredTool;
  tool<S extends ZodRawShape>(name: string, description: string, paramsSchema: S, annotations: ToolAnnotations, cb: ToolCallback<S>): RegisteredTool;

  registerResource(
    name: string,
    uri: string,
    config: ResourceMetadata,
    readCallback: (uri: URL, extra: RequestHandlerExtra) => ReadResourceResult | Promise<ReadResourceResult>,
  ): RegisteredResource;
  registerResource(
    name: string,
    template: ResourceTemplate,
    config: ResourceMetadata,
    readCallback: (uri: URL, variables: Record<string, string>, extra: RequestHandlerExtra) => ReadResourceResult | Promise<ReadResourceResult>,
  ): RegisteredResourceTemplate;
  resource(name: string, uri: string, readCallback: (uri: URL, extra: RequestHandlerExtra) => ReadResourceResult | Promise<ReadResourceResult>): RegisteredResource;
  resource(name: string, uri: string, metadata: ResourceMetadata, readCallback: (uri: URL, extra: RequestHandlerExtra) => ReadResourceResult | Promise<ReadResourceResult>): RegisteredResource;

  registerPrompt<A extends Record<string, z.$ZodType<string | undefined>> | undefined = undefined>(
    name: string,
    config: { title?: string; description?: string; argsSchema?: A },
    cb: [A] extends [undefined]
      ? (extra: RequestHandlerExtra) => GetPromptResult | Promise<GetPromptResult>
      : (args: ArgsOf<A>, extra: RequestHandlerExtra) => GetPromptResult | Promise<GetPromptResult>,
  ): RegisteredPrompt;
  prompt(name: string, cb: (extra: RequestHandlerExtra) => GetPromptResult | Promise<GetPromptResult>): RegisteredPrompt;
  prompt(name: string, description: string, cb: (extra: RequestHandlerExtra) => GetPromptResult | Promise<GetPromptResult>): RegisteredPrompt;
  prompt<A extends Record<string, z.$ZodType<string | undefined>>>(
    name: string,
    argsSchema: A,
    cb: (args: ArgsOf<A>, extra: RequestHandlerExtra) => GetPromptResult | Promise<GetPromptResult>,
  ): RegisteredPrompt;
  prompt<A extends Record<string, z.$ZodType<string | undefined>>>(
    name: string,
    description: string,
    argsSchema: A,
    cb: (args: ArgsOf<A>, extra: RequestHandlerExtra) => GetPromptResult | Promise<GetPromptResult>,
  ): RegisteredPrompt;

  sendLoggingMessage(params: { level: LoggingLevel; data: unknown; logger?: string }): Promise<void>;
  sendToolListChanged(): void;
  sendResourceListChanged(): void;
  sendPromptListChanged(): void;
  isConnected(): boolean;
  connect(transport?: unknown): Promise<void>;
  close(): Promise<void>;
}

/** Marks a prompt argument's schema with a function suggesting its values. */
export declare function completable<T extends z.$ZodType>(schema: T, complete: CompleteCallback): T;

export declare class StorageError extends Error {
  readonly kind: 'invalid-key' | 'quota-exceeded' | 'unavailable' | 'unsupported';
}

/** The plugin's own key-value storage: only its keys, whatever the key string. */
export declare const storage: {
  get(key: string): Uint8Array | undefined;
  getText(key: string): string | undefined;
  getJson<T = unknown>(key: string): T | undefined;
  set(key: string, value: string | Uint8Array, options?: { ttlMs?: number }): void;
  setJson(key: string, value: unknown, options?: { ttlMs?: number }): void;
  delete(key: string): boolean;
  listPage(prefix?: string, cursor?: string): { keys: string[]; nextCursor?: string };
  keys(prefix?: string): Generator<string>;
  increment(key: string, by?: number): number;
  compareAndSet(key: string, expected: string | Uint8Array | undefined, next: string | Uint8Array): boolean;
};

/** The plugin's configuration and granted secrets (`wasi:config/store`). */
export declare const config: {
  get(key: string): string | undefined;
  get(key: string, fallback: string): string;
  getAll(): Record<string, string>;
};
