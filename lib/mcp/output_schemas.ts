/**
 * The `outputSchema` of every tool: a JSON Schema of the `result` object the tool returns (the
 * shapes `lib/tools/run.ts` builds and the catalogue's descriptions state). Clients validate
 * `structuredContent` against it, so the schemas are exact on what a result always has (the
 * required keys and their types, `null` where a value can be absent) and open elsewhere
 * (`additionalProperties` allowed: a capped limit adds a `notice`).
 *
 * A test calls every tool through the SDK client, which checks each result against its schema.
 *
 * @example
 * ```ts
 * import { outputSchemaOf } from "./output_schemas.ts";
 * resultSchemaOf("list_labels")?.required; // ["labels"]
outputSchemaOf("list_labels")?.anyOf.length; // 3: the result, the error, auth_required
 * ```
 * @module
 */

import type { JsonSchema } from "../tools/catalog.ts";

/** A JSON Schema of an object. */
export interface OutputSchema {
  type: "object";
  properties: Record<string, Schema>;
  required: string[];
}

/** MCP's `outputSchema`: the tool's result, or one of the two failure documents. */
export interface ToolOutputSchema {
  type: "object";
  anyOf: OutputSchema[];
}

type Schema = Omit<JsonSchema, "type" | "items" | "properties"> & {
  type?: JsonSchema["type"] | "number" | "null" | (JsonSchema["type"] | "number" | "null")[];
  const?: unknown;
  items?: Schema;
  properties?: Record<string, Schema>;
};

const str: Schema = { type: "string" };
const nstr: Schema = { type: ["string", "null"] };
const bool: Schema = { type: "boolean" };
const int: Schema = { type: "integer" };
const strs: Schema = { type: "array", items: str };
const nstrs: Schema = { type: ["array", "null"], items: str };

function obj(properties: Record<string, Schema>): OutputSchema {
  return { type: "object", properties, required: Object.keys(properties) };
}
const list = (item: OutputSchema): Schema => ({ type: "array", items: item });

const SUMMARY = {
  id: str,
  thread_id: str,
  from: str,
  to: str,
  subject: str,
  date: str,
  snippet: str,
  labels: strs,
  unread: bool,
  has_attachments: bool,
};
const summary = obj(SUMMARY);
const legacySummary = obj({ uid: str, ...SUMMARY });
const ATTACHMENT = obj({
  attachment_id: nstr,
  part_id: str,
  filename: str,
  mime_type: str,
  size: int,
});
const FULL = {
  ...SUMMARY,
  cc: str,
  body: str,
  body_truncated: bool,
  attachments: list(ATTACHMENT),
};
const full = obj(FULL);
const sent = obj({ id: str, thread_id: str, labels: strs });
const page = (key: string, item: OutputSchema) => obj({ [key]: list(item), next_page_token: nstr });

const SCHEMAS: Record<string, OutputSchema> = {
  search_emails: page("messages", summary),
  read_email: full,
  search_threads: page(
    "threads",
    obj({
      id: str,
      subject: str,
      participants: strs,
      message_count: int,
      last_message_id: str,
      date: str,
      snippet: str,
      labels: strs,
      unread: bool,
    }),
  ),
  get_thread: obj({ id: str, messages: list(full) }),
  send_email: sent,
  reply_email: sent,
  create_draft: obj({ draft_id: str, id: str, thread_id: str }),
  list_drafts: page(
    "drafts",
    obj({ draft_id: str, id: str, thread_id: str, to: str, subject: str, snippet: str }),
  ),
  send_draft: sent,
  list_labels: obj({ labels: list(obj({ id: str, name: str, type: str })) }),
  modify_email: obj({ ids: strs, labels: nstrs }),
  trash_email: obj({ id: str, labels: nstrs }),
  download_attachment: obj({ path: str, filename: str, mime_type: str, size: int }),
  list_folders: obj({ folders: strs }),
  list_messages: obj({ messages: list(legacySummary) }),
  fetch_message: obj({ uid: str, ...FULL }),
  search_messages: obj({ messages: list(legacySummary) }),
  move_message: obj({ uid: str, labels: nstrs }),
  set_flags: obj({ uid: str, labels: nstrs }),
  create_folder: obj({ id: str, name: str }),
  send_message: sent,
  send_html_message: sent,
};

/** A failed call's `structuredContent`: the CLI contract's error document. */
export const ERROR_DOC: OutputSchema = obj({
  ok: { const: false },
  error: obj({ code: str, message: str, retryable: bool }),
});

/** A call that needs the user: the `auth_required` document. */
export const AUTH_REQUIRED_DOC: OutputSchema = obj({
  ok: { const: false },
  auth_required: { const: true },
  message: str,
  url: nstr,
  code: nstr,
  step: { type: "string", enum: ["login", "connect"] },
  expires_at: nstr,
  retry_after_s: { type: ["number", "null"] },
});

/** The result schema of a tool (success only), if it has one. */
export function resultSchemaOf(name: string): OutputSchema | undefined {
  return SCHEMAS[name];
}

/**
 * The `outputSchema` of a tool: its result, or one of the failure documents. The failures are
 * included because an `isError` result carries `structuredContent` too, and clients (the
 * TypeScript SDK's among them) validate it against the schema whatever `isError` says.
 */
export function outputSchemaOf(name: string): ToolOutputSchema | undefined {
  const result = SCHEMAS[name];
  return result ? { type: "object", anyOf: [result, ERROR_DOC, AUTH_REQUIRED_DOC] } : undefined;
}
