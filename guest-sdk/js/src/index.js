// pier-sdk: write a pier plugin as a server of the official MCP TypeScript SDK is
// written. `import { McpServer, ResourceTemplate } from "pier-sdk"` in place of
// "@modelcontextprotocol/sdk/server/mcp.js"; `pier build` bundles the module with this
// package's component glue (`pier-sdk/component`) into a WebAssembly component.

export { McpServer, ResourceTemplate, McpError, ErrorCode } from './server.js';
export { completable } from './schema.js';
export { UriTemplate } from './uriTemplate.js';
export { storage, StorageError } from './storage.js';
export { config } from './config.js';
export { install as _installHost } from './host.js';
