/**
 * The agent tool catalogue as MCP tool definitions: the same names, descriptions and input JSON
 * Schemas as `mcs tools` (one catalogue, `lib/tools/catalog.ts`), plus a `title` and the
 * behaviour annotations hosts use to decide what needs confirmation, and an `outputSchema`
 * (`./output_schemas.ts`). Annotations:
 *
 * | tool kind | readOnlyHint | destructiveHint | idempotentHint | openWorldHint |
 * | --- | --- | --- | --- | --- |
 * | reads (search, read, list) | true | false | true | true |
 * | trash, send (email, draft, reply, legacy sends) | false | true | false | true |
 * | other changes (labels, drafts, downloads) | false | false | see below | true |
 *
 * `openWorldHint` is true everywhere: every tool talks to a mailbox other parties write to.
 * `idempotentHint` holds for label changes (adding a label twice is adding it once) and is false
 * for anything that creates something (a draft, a label, a numbered download).
 *
 * The original SDK's nine tool names are listed only when `legacy` is set
 * (`MCS_MCP_LEGACY_TOOLS=1`), so the default list stays short; they can be called either way.
 *
 * This module is data only (no SDK import), so it can be tested and reused cheaply.
 *
 * @example
 * ```ts
 * import { mcpTools } from "./tools.ts";
 * mcpTools({ legacy: false }).map((t) => t.name); // ["search_emails", ...]
 * ```
 * @module
 */

import { type ObjectSchema, TOOLS, type ToolSpec } from "../tools/catalog.ts";
import { outputSchemaOf, type ToolOutputSchema } from "./output_schemas.ts";

/** MCP tool behaviour hints (all optional in the protocol; always set here). */
export interface McpToolAnnotations {
  title: string;
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** One entry of a `tools/list` result. */
export interface McpTool {
  name: string;
  title: string;
  description: string;
  inputSchema: ObjectSchema;
  /** The result's schema, or a failure document's (see `./output_schemas.ts`). */
  outputSchema?: ToolOutputSchema;
  annotations: McpToolAnnotations;
}

/** The names MCP allows (2025-11-25: 1 to 64 characters of this set). */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Tools that delete or send something that cannot be taken back by the agent. */
const DESTRUCTIVE = new Set([
  "trash_email",
  "send_email",
  "reply_email",
  "send_draft",
  "send_message",
  "send_html_message",
]);

/** Changes that can be repeated with the same effect. */
const IDEMPOTENT_CHANGES = new Set(["modify_email", "move_message", "set_flags"]);

/** The annotations of one catalogue entry. */
export function annotationsOf(spec: ToolSpec): McpToolAnnotations {
  const reads = !spec.mutates;
  return {
    title: spec.title,
    readOnlyHint: reads,
    destructiveHint: DESTRUCTIVE.has(spec.name),
    idempotentHint: reads || IDEMPOTENT_CHANGES.has(spec.name),
    openWorldHint: true,
  };
}

/** One catalogue entry as an MCP tool. */
export function mcpTool(spec: ToolSpec): McpTool {
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    inputSchema: spec.parameters,
    ...(outputSchemaOf(spec.name) ? { outputSchema: outputSchemaOf(spec.name) } : {}),
    annotations: annotationsOf(spec),
  };
}

/** The tools to list: the Gmail-native ones, plus the original nine when `legacy` is set. */
export function mcpTools(options: { legacy: boolean }): McpTool[] {
  return TOOLS.filter((t) => options.legacy || !t.legacy).map(mcpTool);
}

/** Whether the environment asks for the original tool names (`MCS_MCP_LEGACY_TOOLS=1`). */
export function legacyToolsWanted(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}
