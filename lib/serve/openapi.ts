/**
 * The OpenAPI 3.1 document `mcs serve` publishes at `GET /openapi.json`, generated from the tool
 * catalogue (the same names, descriptions and input schemas as `mcs tools` and MCP's
 * `tools/list`), for OpenAPI tool servers such as Open WebUI's.
 *
 * Guarantees (what Open WebUI reads, checked in its source):
 * - One `POST /tools/<name>` operation per listed tool; `operationId` is the tool name (Open WebUI
 *   skips operations without one) and `description` the catalogue's (preferred over `summary`).
 * - The request body is the tool's JSON Schema inline, flat: an `application/json` object with
 *   top-level `properties` (no top-level `allOf`, no `$defs`). Responses use local
 *   `#/components/schemas` refs only.
 * - Responses: 200 is the tool's result object (its `outputSchema` result), or the
 *   `auth_required` document when the user must act (its `message` can be relayed as is); every
 *   error status carries the CLI contract's error document `{ok:false,error:{code,message,retryable}}`.
 * - Security: a bearer scheme, required on the operations when the server has a key.
 * - The document holds no secret and depends only on its options: build it once.
 *
 * @example
 * ```ts
 * import { openApiDocument } from "./openapi.ts";
 * import { mcpTools } from "../mcp/tools.ts";
 * const doc = openApiDocument({ tools: mcpTools({ legacy: false }), version: "0.1.0", key: true });
 * Object.keys(doc.paths); // ["/tools/search_emails", ...]
 * ```
 * @module
 */

import type { McpTool } from "../mcp/tools.ts";
import { AUTH_REQUIRED_DOC, ERROR_DOC, resultSchemaOf } from "../mcp/output_schemas.ts";

/** Options of {@link openApiDocument}. */
export interface OpenApiOptions {
  /** The tools to publish (MCP's list: catalogue entries with a title and annotations). */
  tools: readonly McpTool[];
  /** The program version (`info.version`). */
  version: string;
  /** Whether the operations require `Authorization: Bearer <key>`. */
  key: boolean;
}

/** The error statuses every operation can answer, and when. */
export const ERROR_STATUSES: Readonly<Record<string, string>> = {
  "400": "Invalid arguments (error.code invalid_arguments and similar), or no user in team mode",
  "401": "Missing or wrong key, or a bad or expired user token",
  "404": "Unknown tool, or the message, thread, draft or label does not exist",
  "413": "Request body too large",
  "429": "Too many calls in flight for this user, or Gmail's rate limit (see Retry-After)",
  "500": "Configuration or internal error",
  "502": "Gmail, Auth0 or the broker failed",
  "503": "Gmail, Auth0 or the broker is unavailable for now: retry later",
};

/** The path of a tool's operation. */
export function toolPath(name: string): string {
  return `/tools/${name}`;
}

/** The OpenAPI 3.1 document for `tools`. */
export function openApiDocument(options: OpenApiOptions): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    Error: { ...ERROR_DOC, description: "The CLI contract's error document." },
    AuthRequired: {
      ...AUTH_REQUIRED_DOC,
      description: "The user must act: relay `message` to the user as is (it holds the link and " +
        "the code), then call the same tool again with the same arguments once they are done.",
    },
  };
  const paths: Record<string, unknown> = {};
  for (const tool of options.tools) {
    const result = resultSchemaOf(tool.name);
    const resultRef = `${tool.name}_result`;
    if (result) schemas[resultRef] = result;
    const errors: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(ERROR_STATUSES)) {
      errors[status] = { $ref: "#/components/responses/Error", description };
    }
    paths[toolPath(tool.name)] = {
      post: {
        operationId: tool.name,
        summary: tool.title,
        description: tool.description,
        ...(options.key ? { security: [{ bearer: [] }] } : {}),
        requestBody: {
          required: true,
          content: { "application/json": { schema: tool.inputSchema } },
        },
        responses: {
          "200": {
            description: "The tool's result, or what the user must do first (auth_required)",
            content: {
              "application/json": {
                schema: {
                  anyOf: [
                    result ? { $ref: `#/components/schemas/${resultRef}` } : { type: "object" },
                    { $ref: "#/components/schemas/AuthRequired" },
                  ],
                },
              },
            },
          },
          ...errors,
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "mcs: Gmail tools",
      version: options.version,
      description: "Gmail tools (search, read, send, drafts, labels, attachments). When a result " +
        "has auth_required, show the user its message, then call the same tool again.",
    },
    paths,
    components: {
      schemas,
      responses: {
        Error: {
          description: "A failure: the CLI contract's error document",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
      },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "MCS_SERVE_API_KEY" },
      },
    },
  };
}
