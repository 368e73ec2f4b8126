/**
 * The JSON shapes the Gmail emulator answers with: the Message resource in each `format`,
 * the short `{id, threadId, labelIds}` form, labels with or without counts, and attachment ids.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 * import { messageResource } from "./resources.ts";
 * const box = new Mailbox();
 * const m = box.insert("Subject: hi\r\n\r\nhello", { labels: ["INBOX"] });
 * messageResource(box, m, "minimal", []).id === m.id; // true
 * ```
 * @module
 */

import { b64url } from "./bytes.ts";
import type { Mailbox, StoredMessage } from "./mailbox.ts";
import { decodeHeader, type Part, toPayload } from "./mime.ts";

/** A parsed message's top-level headers, decoded (a message's bytes never change). */
const topHeaders = new WeakMap<Part, { name: string; value: string }[]>();

function decodedHeaders(p: Part): { name: string; value: string }[] {
  let h = topHeaders.get(p);
  if (!h) {
    topHeaders.set(p, h = p.headers.map((x) => ({ name: x.name, value: decodeHeader(x.value) })));
  }
  return h;
}

function escapeSnippet(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** The `snippet`: the start of the text, HTML-escaped like Gmail's. */
export function snippet(mailbox: Mailbox, m: StoredMessage): string {
  return escapeSnippet(mailbox.view(m).text.replace(/\s+/g, " ").trim().slice(0, 200));
}

/**
 * A new attachment id. Reference §4.1: "Attachment IDs are not stable across fetches" — so
 * each fetch mints a new id (a nonce in it); every id minted stays valid.
 */
export function attachmentId(m: StoredMessage, partId: string): string {
  return "ANGjdJ" +
    b64url(new TextEncoder().encode(`${m.id}:${partId}:${crypto.randomUUID().slice(0, 8)}`));
}

/** The Message resource in `format` (minimal, metadata, full, raw). */
export function messageResource(
  mailbox: Mailbox,
  m: StoredMessage,
  format: string,
  metadataHeaders: string[],
): Record<string, unknown> {
  // Google's JSON omits empty repeated fields: a message with no labels has no `labelIds`.
  const base: Record<string, unknown> = {
    id: m.id,
    threadId: m.threadId,
    ...(m.labelIds.size ? { labelIds: [...m.labelIds] } : {}),
    snippet: snippet(mailbox, m),
    sizeEstimate: m.raw.length,
    historyId: String(m.historyId),
    internalDate: String(m.internalDate),
  };
  if (format === "minimal") return base;
  if (format === "raw") return { ...base, raw: b64url(m.raw) };
  const root = mailbox.parsed(m);
  if (format === "metadata") {
    // The reference lists no exact fields for the metadata payload; this is the top-level
    // part without body data or children, headers filtered by `metadataHeaders`. Only that
    // part's headers are decoded: the rest of the tree (bodies in base64url) is not built.
    const want = metadataHeaders.map((h) => h.toLowerCase());
    const headers = decodedHeaders(root);
    return {
      ...base,
      payload: {
        partId: "",
        mimeType: root.type,
        filename: "",
        headers: want.length
          ? headers.filter((h) => want.includes(h.name.toLowerCase()))
          : [...headers],
        body: { size: 0 },
      },
    };
  }
  return { ...base, payload: toPayload(root, (partId) => attachmentId(m, partId)) };
}

/**
 * What modify/trash/untrash answer with: the reference says only "a Message"; Gmail returns
 * just `id`, `threadId` and `labelIds` (observed).
 */
export function labelsOnly(m: StoredMessage): Record<string, unknown> {
  return {
    id: m.id,
    threadId: m.threadId,
    ...(m.labelIds.size ? { labelIds: [...m.labelIds] } : {}),
  };
}

/** A thread's messages, oldest first. */
export function threadMessages(mailbox: Mailbox, threadId: string): StoredMessage[] {
  return mailbox.list().filter((x) => x.threadId === threadId).reverse();
}

/** The Label resource; counts only when `withCounts` (labels.get, not labels.list). */
export function labelResource(
  mailbox: Mailbox,
  id: string,
  withCounts: boolean,
): Record<string, unknown> {
  const l = mailbox.labels.get(id)!;
  const out: Record<string, unknown> = { id: l.id, name: l.name, type: l.type };
  if (l.type === "user") {
    out.messageListVisibility = l.messageListVisibility ?? "show";
    out.labelListVisibility = l.labelListVisibility ?? "labelShow";
    if (l.color) out.color = l.color;
  }
  if (withCounts) {
    const msgs = mailbox.list().filter((m) => m.labelIds.has(id));
    const unread = msgs.filter((m) => m.labelIds.has("UNREAD"));
    Object.assign(out, {
      messagesTotal: msgs.length,
      messagesUnread: unread.length,
      threadsTotal: new Set(msgs.map((m) => m.threadId)).size,
      threadsUnread: new Set(unread.map((m) => m.threadId)).size,
    });
  }
  return out;
}
