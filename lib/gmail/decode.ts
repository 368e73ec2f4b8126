/**
 * Turn Gmail's JSON message resources into plain typed objects: header lookup with RFC 2047
 * decoding, body text from `format=full` parts (base64url + charset; Gmail has already undone
 * the transfer encoding), HTML converted to text, attachments listed, bodies truncated with a
 * flag.
 *
 * @example
 * ```ts
 * import { decodeMessage } from "./decode.ts";
 * declare const json: import("./types.ts").GmailMessage;
 * const msg = await decodeMessage(json, { labelNames: json.labelIds ?? [], maxBodyChars: 20000 });
 * ```
 * @module
 */

import { decodeBase64Lenient } from "../encoding/base64.ts";
import { decodeCharset, decodeEncodedWords } from "./encoding.ts";
import { parseHeaderParams } from "./header_params.ts";
import { htmlToText } from "./html_text.ts";
import type { AttachmentInfo, GmailMessage, GmailPart, Message, MessageSummary } from "./types.ts";

/** Case-insensitive, RFC 2047-decoded header value ("" when absent). */
export function header(part: GmailPart | undefined, name: string): string {
  const lower = name.toLowerCase();
  const v = part?.headers?.find((h) => h.name.toLowerCase() === lower)?.value;
  return v === undefined ? "" : decodeEncodedWords(v);
}

function isoDate(m: GmailMessage): string {
  const ms = Number(m.internalDate);
  if (Number.isFinite(ms) && m.internalDate) return new Date(ms).toISOString();
  const d = Date.parse(header(m.payload, "date"));
  return Number.isNaN(d) ? "" : new Date(d).toISOString();
}

/** Summary row from a `format=metadata` (or fuller) message. */
export function summarize(m: GmailMessage, labelNames: string[]): MessageSummary {
  return {
    id: m.id,
    threadId: m.threadId,
    from: header(m.payload, "from"),
    to: header(m.payload, "to"),
    subject: header(m.payload, "subject"),
    date: isoDate(m),
    snippet: decodeHtmlEntities(m.snippet ?? ""),
    labels: labelNames,
    unread: (m.labelIds ?? []).includes("UNREAD"),
    hasAttachments: (m.payload?.mimeType ?? "").toLowerCase() === "multipart/mixed" ||
      hasAttachmentPart(m.payload),
  };
}

/** Gmail snippets are HTML-escaped. */
export function decodeHtmlEntities(s: string): string {
  return s.replace(/&(#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos|nbsp);/gi, (_m, e: string) => {
    const k = e.toLowerCase();
    if (k.startsWith("#x")) return String.fromCodePoint(parseInt(k.slice(2), 16));
    if (k.startsWith("#")) return String.fromCodePoint(Number(k.slice(1)));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " }[k] ?? _m;
  });
}

function isAttachment(p: GmailPart): boolean {
  if (p.filename) return true;
  const cd = header(p, "content-disposition").toLowerCase();
  return cd.startsWith("attachment");
}

function hasAttachmentPart(p: GmailPart | undefined): boolean {
  if (!p) return false;
  if (!p.mimeType?.startsWith("multipart/") && isAttachment(p)) return true;
  return (p.parts ?? []).some(hasAttachmentPart);
}

/** Fetches a body stored out of line (large text parts come with only an attachmentId). */
export type BodyFetcher = (attachmentId: string) => Promise<string | undefined>;

interface Bodies {
  plain: string[];
  html: string[];
  attachments: AttachmentInfo[];
}

async function partBytes(p: GmailPart, fetchBody?: BodyFetcher): Promise<Uint8Array> {
  let data = p.body?.data;
  if (!data && p.body?.attachmentId && fetchBody) data = await fetchBody(p.body.attachmentId);
  return data ? decodeBase64Lenient(data) : new Uint8Array(0);
}

async function walk(p: GmailPart, out: Bodies, fetchBody?: BodyFetcher): Promise<void> {
  const type = (p.mimeType ?? "text/plain").toLowerCase();
  if (type === "multipart/alternative" && p.parts?.length) {
    // Prefer the plain alternative for text, keep the HTML one available.
    const plain = p.parts.find((c) =>
      c.mimeType?.toLowerCase() === "text/plain" && !isAttachment(c)
    );
    const sub: Bodies = { plain: [], html: [], attachments: out.attachments };
    for (const c of p.parts) await walk(c, sub, fetchBody);
    if (plain && sub.plain.length) out.plain.push(sub.plain[0]);
    else out.plain.push(...sub.plain);
    out.html.push(...sub.html.slice(0, 1));
    return;
  }
  if (type.startsWith("multipart/")) {
    for (const c of p.parts ?? []) await walk(c, out, fetchBody);
    return;
  }
  if (isAttachment(p) || !(type === "text/plain" || type === "text/html")) {
    const cd = header(p, "content-disposition").toLowerCase();
    out.attachments.push({
      filename: decodeEncodedWords(p.filename ?? "") || "attachment",
      mimeType: type,
      size: p.body?.size ?? 0,
      ...(p.body?.attachmentId ? { attachmentId: p.body.attachmentId } : {}),
      partId: p.partId ?? "",
      inline: cd.startsWith("inline"),
    });
    return;
  }
  const charset = parseHeaderParams(header(p, "content-type") || type).params.charset;
  const text = decodeCharset(await partBytes(p, fetchBody), charset);
  (type === "text/html" ? out.html : out.plain).push(text);
}

/** Options of {@link decodeMessage}. */
export interface DecodeOptions {
  labelNames: string[];
  /** Cut `text` and `html` at this many characters (default 50 000; 0 = no limit). */
  maxBodyChars?: number;
  fetchBody?: BodyFetcher;
  /** Skip HTML→text conversion (callers that only need the attachment list). */
  attachmentsOnly?: boolean;
}

/** Decode a `format=full` message. */
export async function decodeMessage(m: GmailMessage, o: DecodeOptions): Promise<Message> {
  const payload = m.payload;
  const bodies: Bodies = { plain: [], html: [], attachments: [] };
  if (payload) await walk(payload, bodies, o.fetchBody);
  const html = bodies.html.length ? bodies.html.join("\n") : undefined;
  let text = bodies.plain.join("\n").trim();
  if (!text && html && !o.attachmentsOnly) text = await htmlToText(html);
  const max = o.maxBodyChars ?? 50_000;
  let truncated = false;
  const cut = (s: string) => {
    if (max > 0 && s.length > max) {
      truncated = true;
      return s.slice(0, max);
    }
    return s;
  };
  const summary = summarize(m, o.labelNames);
  return {
    ...summary,
    hasAttachments: bodies.attachments.length > 0,
    cc: header(payload, "cc"),
    bcc: header(payload, "bcc"),
    replyTo: header(payload, "reply-to"),
    messageIdHeader: header(payload, "message-id"),
    inReplyTo: header(payload, "in-reply-to"),
    references: header(payload, "references"),
    text: cut(text),
    ...(html !== undefined ? { html: cut(html) } : {}),
    attachments: bodies.attachments,
    truncated,
  };
}
