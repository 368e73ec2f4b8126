/**
 * Every tool of the catalogue called once, against the emulators' seeded mailbox, through any
 * surface (`mcs mcp`, `mcs serve`'s OpenAPI side, ...): one list of sample arguments per tool,
 * in an order where each call can use what an earlier one returned (a message with an
 * attachment, a thread, a draft, a folder listing). The surface's `call` checks each result
 * its own way and returns it; at the end every catalogue tool must have been called.
 *
 * @example
 * ```ts
 * import { callEveryTool } from "../support/every_tool.ts";
 * await callEveryTool(async (name, args) => {
 *   const r = await client.callTool({ name, arguments: args });
 *   assert(!r.isError);
 *   return r.structuredContent;
 * }, { outDir: "/tmp/dl" });
 * ```
 * @module
 */

import { TOOLS } from "../../lib/tools/catalog.ts";
import { assert, assertEquals } from "./assert.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** Call one tool with `args` and return its result (checked by the caller's surface). */
export type CallTool = (name: string, args: Record<string, unknown>) => Promise<Any>;

/**
 * Call every catalogue tool once with sample arguments (attachments download into `outDir`),
 * and assert that the calls covered the whole catalogue.
 */
export async function callEveryTool(call: CallTool, o: { outDir: string }): Promise<void> {
  const called = new Set<string>();
  const once: CallTool = async (name, args) => {
    const result = await call(name, args);
    called.add(name);
    return result;
  };
  const found = await once("search_emails", { query: "has:attachment", limit: 5 });
  const withPdf = found.messages[0];
  const msg = await once("read_email", { id: withPdf.id });
  assert(msg.attachments.length > 0, JSON.stringify(msg));
  const threads = await once("search_threads", { limit: 3 });
  await once("get_thread", { id: threads.threads[0].id });
  const sent = await once("send_email", {
    to: ["bob@example.com"],
    subject: "every tool",
    body: "Hello from every tool.",
  });
  await once("reply_email", { id: withPdf.id, body: "Thanks." });
  const draft = await once("create_draft", { to: ["bob@example.com"], subject: "d", body: "x" });
  await once("list_drafts", {});
  await once("send_draft", { draft_id: draft.draft_id });
  await once("list_labels", {});
  await once("modify_email", { ids: [withPdf.id], mark_read: true });
  await once("download_attachment", {
    message_id: withPdf.id,
    attachment_id: msg.attachments[0].filename,
    out_dir: o.outDir,
  });
  await once("trash_email", { id: sent.id });
  assert((await once("list_folders", {})).folders.includes("INBOX"));
  const listed = await once("list_messages", { folder: "INBOX", limit: 3 });
  await once("fetch_message", { uid: listed.messages[0].uid });
  await once("search_messages", { criteria: "ALL", limit: 3 });
  await once("create_folder", { name: "Projects" });
  await once("move_message", { uid: listed.messages[0].uid, destination: "Projects" });
  await once("set_flags", { uid: listed.messages[0].uid, flags: "\\Seen \\Flagged" });
  await once("send_message", { to: "bob@example.com", subject: "s", body: "b" });
  await once("send_html_message", { to: "bob@example.com", subject: "h", html_body: "<p>h</p>" });
  assertEquals([...called].sort(), TOOLS.map((t) => t.name).sort());
}
