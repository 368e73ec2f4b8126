/**
 * Send side: compose (validation, reply threading, attachments from files, Gmail's 35 MB
 * limit checked before any request), send (JSON `raw`, or the upload endpoint above the JSON
 * size limit), drafts (create, list, send). A send, reply or draft send whose answer never
 * came back fails with `outcome_unknown` (not retryable) carrying the Message-ID that went out
 * and the search that finds it in Sent.
 *
 * @example
 * ```ts
 * import { sendMessage } from "./send.ts";
 * declare const ctx: import("./context.ts").GmailContext;
 * await sendMessage(ctx, { to: "bob@example.com", subject: "Hi", text: "Hello", bcc: "c@example.com" });
 * ```
 * @module
 */

import { McsError, PermissionDeniedError, UsageError } from "../errors.ts";
import { NetworkError } from "../net/errors.ts";
import type { GmailContext } from "./context.ts";
import { header } from "./decode.ts";
import { encodeBase64Url } from "../encoding/base64.ts";
import { utf8 } from "./encoding.ts";
import {
  buildMime,
  newMessageId,
  type OutgoingAttachment,
  parseAddressList,
} from "./mime_build.ts";
import { checkId, checkLimit, getProfile } from "./read.ts";
import { OPS } from "./scopes.ts";
import type { OperationInfo } from "./google_error.ts";
import type {
  AttachmentInput,
  Draft,
  GmailDraft,
  GmailDraftList,
  GmailMessage,
  GmailParams,
  GmailRequest,
  Page,
  SendInput,
  SentMessage,
} from "./types.ts";

const MIME_BY_EXT: Record<string, string> = {
  pdf: "application/pdf",
  txt: "text/plain",
  csv: "text/csv",
  html: "text/html",
  htm: "text/html",
  json: "application/json",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  zip: "application/zip",
  gz: "application/gzip",
  ics: "text/calendar",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  md: "text/markdown",
  // Sent as message/rfc822 (7bit/8bit) when it is a text message, else as octet-stream: see
  // mime_build.ts.
  eml: "message/rfc822",
};

/**
 * Gmail's size limit for one message, in bytes: 35 MB (`maxSize: 36700160` on messages.send,
 * drafts.create and drafts.update in the API description, the same for the media, multipart
 * and resumable upload protocols; the JSON `raw` route is smaller still, which is why larger
 * messages go through the upload route).
 */
export const MAX_MESSAGE_BYTES = 36_700_160;

/** Guess a MIME type from a file name. */
export function mimeTypeFor(filename: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(filename)?.[1]?.toLowerCase() ?? "";
  return MIME_BY_EXT[ext] ?? "application/octet-stream";
}

function tooLarge(size: number, path?: string): UsageError {
  const what = path
    ? `Attachment "${path}" is ${size} bytes`
    : `The message is at least ${size} bytes with its attachments encoded`;
  return new UsageError(
    "message_too_large",
    `${what}; Gmail accepts a message of at most ${MAX_MESSAGE_BYTES} bytes (35 MB). Send ` +
      "fewer or smaller attachments, or share large files by link.",
    { details: { size, limit: MAX_MESSAGE_BYTES, ...(path ? { path } : {}) } },
  );
}

async function loadAttachment(a: AttachmentInput): Promise<OutgoingAttachment> {
  if ("content" in a) {
    return {
      filename: a.filename,
      mimeType: a.mimeType ?? mimeTypeFor(a.filename),
      content: a.content,
    };
  }
  const filename = a.filename ?? a.path.split(/[\\/]/).pop() ?? "attachment";
  let content: Uint8Array;
  try {
    // A file larger than the whole message may be cannot be sent: say so before reading it.
    const size = (await Deno.stat(a.path)).size;
    if (size > MAX_MESSAGE_BYTES) throw tooLarge(size, a.path);
    content = await Deno.readFile(a.path);
  } catch (err) {
    if (err instanceof McsError) throw err;
    if (err instanceof Deno.errors.NotCapable) {
      // The file may exist; this build is just not allowed to read it. Say which grant is
      // missing instead of Deno's "run again with --allow-read" (the binary has fixed grants).
      throw new PermissionDeniedError(
        `Reading attachment "${a.path}" is not allowed by this build's permissions ` +
          "(--allow-read). Attach files from a directory the build grants, or rebuild with " +
          "--read-dir DIR (see lib/build/PACKAGING.md).",
        "--allow-read",
        { cause: err, details: { path: a.path } },
      );
    }
    throw new UsageError(
      "attachment_unreadable",
      `Cannot read attachment file "${a.path}": ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err },
    );
  }
  return { filename, mimeType: a.mimeType ?? mimeTypeFor(filename), content };
}

/** A composed message ready to send. */
export interface Composed {
  raw: Uint8Array;
  threadId?: string;
  /** The Message-ID header written into `raw` (with angle brackets). */
  messageId: string;
}

/** Validate input and build the raw message (fetching the original when replying). */
export async function compose(ctx: GmailContext, input: SendInput): Promise<Composed> {
  // Validate everything local before any network call.
  const to = parseAddressList(input.to, "to");
  const cc = parseAddressList(input.cc, "cc");
  const bcc = parseAddressList(input.bcc, "bcc");
  const replyTo = parseAddressList(input.replyTo, "reply-to");
  const from = input.from ? parseAddressList(input.from, "from") : [];
  if (from.length > 1) throw new UsageError("invalid_address", "from must be a single address.");
  if ((input.text ?? "") === "" && (input.html ?? "") === "" && !input.attachments?.length) {
    throw new UsageError("missing_body", "Give a text or html body (or at least one attachment).");
  }
  let subject = input.subject;
  let threadId: string | undefined;
  let inReplyTo: string | undefined;
  let references: string[] | undefined;
  if (input.replyToMessageId) {
    const orig = await ctx.http.call<GmailMessage>({
      path: `messages/${checkId(input.replyToMessageId, "message")}`,
      query: {
        format: "metadata",
        metadataHeaders: ["Message-ID", "References", "Subject", "From", "Reply-To", "To", "Cc"],
      } satisfies GmailParams["messagesGet"],
      op: OPS.read,
    });
    threadId = orig.threadId;
    const mid = header(orig.payload, "message-id").trim();
    if (mid) {
      inReplyTo = mid;
      const prior = header(orig.payload, "references").split(/\s+/).filter(Boolean);
      references = [...prior.filter((r) => r !== mid), mid];
    }
    const origSubject = header(orig.payload, "subject");
    subject ??= /^re:/i.test(origSubject) ? origSubject : `Re: ${origSubject}`;
    // --cc/--bcc add to a reply; only an explicit `to` (a draft reply) replaces its recipients.
    if (!to.length) {
      const replyAddr = header(orig.payload, "reply-to") || header(orig.payload, "from");
      to.push(...parseAddressList(replyAddr, "original sender"));
      if (input.replyAll) {
        const me = (await getProfile(ctx)).emailAddress.toLowerCase();
        const others = [
          ...parseAddressList(header(orig.payload, "to") || undefined, "original to"),
          ...parseAddressList(header(orig.payload, "cc") || undefined, "original cc"),
        ].filter((a) =>
          a.email.toLowerCase() !== me && ![...to, ...cc].some((t) => t.email === a.email)
        );
        cc.push(...others);
      }
    }
  }
  if (subject === undefined) throw new UsageError("missing_subject", "A subject is required.");
  const attachments: OutgoingAttachment[] = [];
  for (const a of input.attachments ?? []) attachments.push(await loadAttachment(a));
  // Base64 alone (4 bytes per 3) puts a lower bound on the size: refuse before building it.
  const atLeast = attachments.reduce((n, a) => n + Math.ceil(a.content.length / 3) * 4, 0);
  if (atLeast > MAX_MESSAGE_BYTES) throw tooLarge(atLeast);
  const messageId = newMessageId(from[0]?.email);
  const raw = buildMime({
    messageId,
    from: from[0],
    to,
    cc,
    bcc,
    replyTo,
    subject,
    text: input.text,
    html: input.html,
    attachments,
    inReplyTo,
    references,
  });
  if (raw.length > MAX_MESSAGE_BYTES) throw tooLarge(raw.length);
  return { raw, messageId, ...(threadId ? { threadId } : {}) };
}

function multipartRelated(
  metadata: unknown,
  raw: Uint8Array,
): { body: Uint8Array; contentType: string } {
  const b = "mcs_upload_" + crypto.randomUUID().replace(/-/g, "");
  const head = utf8(
    `--${b}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${
      JSON.stringify(metadata)
    }\r\n` +
      `--${b}\r\nContent-Type: message/rfc822\r\n\r\n`,
  );
  const tail = utf8(`\r\n--${b}--\r\n`);
  const body = new Uint8Array(head.length + raw.length + tail.length);
  body.set(head);
  body.set(raw, head.length);
  body.set(tail, head.length + raw.length);
  return { body, contentType: `multipart/related; boundary=${b}` };
}

/**
 * POST a message as JSON `raw`, or through `/upload/…?uploadType=media|multipart` when the JSON
 * body would exceed `ctx.maxJsonBytes`. `metadata` wraps the message (drafts nest it).
 *
 * No `uploadType=resumable`: media/multipart accept a message up to Gmail's 35 MB cap
 * ({@link MAX_MESSAGE_BYTES}, checked before this is called) in one request, and resuming only
 * pays off when a session outlives a broken connection — but every mcs invocation is a fresh
 * process: a send that fails before it is written is sent again as a whole by the caller, and
 * one whose outcome is unknown is checked in Sent first (`outcome_unknown`), so the extra round
 * trip (session POST, then PUT) would buy nothing. The emulator serves the resumable protocol
 * anyway, so a client that uses it can be tested.
 */
async function postMessage<T>(
  ctx: GmailContext,
  path: "messages/send" | "drafts",
  c: Composed,
  op: OperationInfo,
): Promise<T> {
  const rawB64 = encodeBase64Url(c.raw);
  const message = {
    raw: rawB64,
    ...(c.threadId ? { threadId: c.threadId } : {}),
  } satisfies GmailRequest["message"];
  const json = path === "drafts" ? { message } satisfies GmailRequest["draft"] : message;
  if (rawB64.length + 200 <= ctx.maxJsonBytes) {
    return await ctx.http.call<T>({ path, json, op });
  }
  const uploadPath = `/upload/gmail/v1/users/me/${path}`;
  if (!c.threadId && path === "messages/send") {
    return await ctx.http.call<T>({
      path: uploadPath,
      query: { uploadType: "media" } satisfies GmailParams["messagesSend"],
      body: c.raw,
      contentType: "message/rfc822",
      op,
    });
  }
  const meta: GmailRequest["message"] = c.threadId ? { threadId: c.threadId } : {};
  const { body, contentType } = multipartRelated(
    path === "drafts" ? { message: meta } : meta,
    c.raw,
  );
  return await ctx.http.call<T>({
    path: uploadPath,
    query: {
      uploadType: "multipart",
    } satisfies GmailParams["messagesSend"] & GmailParams["draftsCreate"],
    body,
    contentType,
    op,
  });
}

/**
 * Whether `err` leaves it unknown whether a (non-idempotent) request took effect: the network
 * layer says so (`outcome_unknown`), or the transport timed out or was reset (it may have been
 * after the request was written; counted as unknown to be safe).
 */
export function isOutcomeUnknown(err: unknown): err is McsError {
  if (!(err instanceof McsError)) return false;
  return err.code === "outcome_unknown" ||
    (err instanceof NetworkError && (err.code === "timeout" || err.code === "connection_reset"));
}

/**
 * The error for a send whose outcome is unknown: not retryable (a retry may send it twice),
 * with what the agent needs to check Sent first: the Message-ID header that went out and the
 * Gmail search that finds it.
 */
export function outcomeUnknown(
  cause: McsError,
  what: string,
  messageId: string | undefined,
  extra: Record<string, unknown> = {},
): McsError {
  const query = messageId ? `rfc822msgid:${messageId.replace(/^<|>$/g, "")}` : undefined;
  const check = query
    ? `Search for it before sending again: query "in:sent ${query}" (search_emails / ` +
      "mail search); if nothing is found after a minute, it was not sent."
    : "Check Sent (and Drafts) before sending again.";
  return new McsError(
    "outcome_unknown",
    `${what}: the request was sent but no answer came back (${cause.code}), so Gmail may or ` +
      `may not have sent it. Do not simply retry. ${check}`,
    "runtime",
    {
      retryable: false,
      cause,
      details: {
        ...extra,
        ...(messageId ? { message_id: messageId, query: `in:sent ${query}` } : {}),
        cause: cause.code,
      },
    },
  );
}

/** Send a message. */
export async function sendMessage(ctx: GmailContext, input: SendInput): Promise<SentMessage> {
  const composed = await compose(ctx, input);
  let res: GmailMessage;
  try {
    res = await postMessage<GmailMessage>(ctx, "messages/send", composed, OPS.send);
  } catch (err) {
    if (!isOutcomeUnknown(err)) throw err;
    throw outcomeUnknown(
      err,
      input.replyToMessageId ? "Reply" : "Send",
      composed.messageId,
      composed.threadId ? { thread_id: composed.threadId } : {},
    );
  }
  return {
    id: res.id,
    threadId: res.threadId,
    labels: await ctx.labels.namesFor(res.labelIds ?? []),
  };
}

/** Create a draft. */
export async function createDraft(ctx: GmailContext, input: SendInput): Promise<Draft> {
  const composed = await compose(ctx, input);
  const res = await postMessage<GmailDraft>(
    ctx,
    "drafts",
    composed,
    OPS.draft,
  );
  return { id: res.id, messageId: res.message.id, threadId: res.message.threadId };
}

/** List drafts with subject/recipient (one list call + one batch call). */
export async function listDrafts(
  ctx: GmailContext,
  o: { limit?: number; pageToken?: string } = {},
): Promise<Page<Draft>> {
  const limit = checkLimit(o.limit);
  const list = await ctx.http.call<GmailDraftList>({
    path: "drafts",
    query: { maxResults: limit, pageToken: o.pageToken } satisfies GmailParams["draftsList"],
    op: OPS.draft,
  });
  const drafts = list.drafts ?? [];
  const details = await ctx.http.batch<GmailDraft>(
    drafts.map((d) => ({
      path: `drafts/${encodeURIComponent(d.id)}`,
      query: { format: "metadata" } satisfies GmailParams["draftsGet"],
    })),
    OPS.draft,
  );
  const items = drafts.map((d, i): Draft => {
    const r = details[i];
    const m = r?.ok ? r.value.message : undefined;
    return {
      id: d.id,
      messageId: d.message.id,
      threadId: d.message.threadId,
      ...(m
        ? {
          subject: header(m.payload, "subject"),
          to: header(m.payload, "to"),
          snippet: m.snippet ?? "",
        }
        : {}),
    };
  });
  return { items, ...(list.nextPageToken ? { nextPageToken: list.nextPageToken } : {}) };
}

/** The Message-ID header of a draft, or undefined when it cannot be read now. */
async function draftMessageId(ctx: GmailContext, draftId: string): Promise<string | undefined> {
  try {
    const d = await ctx.http.call<GmailDraft>({
      path: `drafts/${draftId}`,
      query: { format: "metadata" } satisfies GmailParams["draftsGet"],
      op: OPS.draft,
    });
    return header(d.message?.payload, "message-id").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Send an existing draft. */
export async function sendDraft(ctx: GmailContext, draftId: string): Promise<SentMessage> {
  checkId(draftId, "draft");
  let res: GmailMessage;
  try {
    res = await ctx.http.call<GmailMessage>({
      path: "drafts/send",
      json: { id: draftId } satisfies GmailRequest["draft"],
      op: OPS.sendDraft,
    });
  } catch (err) {
    if (!isOutcomeUnknown(err)) throw err;
    // The draft's Message-ID is what Sent will show; read it now (best effort: if the draft is
    // gone it was most likely sent, and the agent is told to check Sent and Drafts).
    throw outcomeUnknown(err, `Sending draft ${draftId}`, await draftMessageId(ctx, draftId), {
      draft_id: draftId,
    });
  }
  return {
    id: res.id,
    threadId: res.threadId,
    labels: await ctx.labels.namesFor(res.labelIds ?? []),
  };
}
