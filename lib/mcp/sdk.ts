/**
 * The MCP SDK's runtime values that `lib/mcp` uses, in one module, mapped in deno.json as the
 * bare specifier `mcp-sdk` and only ever loaded with `await import("mcp-sdk")`.
 *
 * Why: the SDK is about 320 KiB of minified code that only `mcs mcp` and `mcs serve` run. The
 * one-file bundle keeps a dynamically imported bare specifier in a file of its own
 * (`mcs-mcp-sdk.js`, see `SIDE_PACKAGES` in lib/build/layout.ts), so every other command's cold
 * start does not read or parse it. Types come from the SDK with `import type` (no cost).
 *
 * @example
 * ```ts
 * const { Server } = await import("mcp-sdk");
 * ```
 * @module
 */

export { Server } from "@modelcontextprotocol/sdk/server/index.js";
export { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
export { deserializeMessage, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
export {
  CallToolRequestSchema,
  ErrorCode,
  isInitializeRequest,
  ListToolsRequestSchema,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";
