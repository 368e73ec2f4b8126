/**
 * Read side: search with Gmail query syntax (one list call + one batch call for metadata, with
 * labels resolved in parallel), read a message, read a thread, the profile.
 *
 * @example
 * ```ts
 * import { searchMessages } from "./read.ts";
 * declare const ctx: import("./context.ts").GmailContext;
 * const page = await searchMessages(ctx, { query: "from:alice is:unread", limit: 20 });
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import { fetchMany, type GmailContext } from "./context.ts";
import { decodeMessage, summarize } from "./decode.ts";
import { OPS } from "./scopes.ts";
import type {
  GmailBody,
  GmailMessage,
  GmailMessageList,
  GmailParams,
  GmailProfile,
  GmailThread,
  Message,
  MessageSummary,
  Page,
  Thread,
} from "./types.ts";

/** Options of {@link searchMessages}. */
export interface SearchOptions {
  /** Gmail search syntax, e.g. `from:alice subject:"invoice" is:unread newer_than:7d`. */
  query?: string;
  /** Label names (or ids) every result must carry. */
  labels?: string[];
  /** 1..100, default 20. */
  limit?: number;
  /** Cursor from a previous page. */
  pageToken?: string;
  includeSpamTrash?: boolean;
}

/** Hard cap on one page. */
export const MAX_LIMIT = 100;

const METADATA_HEADERS = ["From", "To", "Subject", "Date"];

/** Validate a page size. */
export function checkLimit(limit: number | undefined, fallback = 20): number {
  const n = limit ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new UsageError(
      "invalid_limit",
      `limit must be an integer from 1 to ${MAX_LIMIT} (got ${
        String(limit)
      }); use the returned nextPageToken to get more results.`,
      { details: { limit } },
    );
  }
  return n;
}

/** Fetch many messages in `format=metadata` using the context's strategy; missing ones are dropped. */
export async function fetchMetadata(
  ctx: GmailContext,
  ids: readonly string[],
): Promise<GmailMessage[]> {
  const req = (id: string) => ({
    path: `messages/${encodeURIComponent(id)}`,
    query: {
      format: "metadata",
      metadataHeaders: METADATA_HEADERS,
    } satisfies GmailParams["messagesGet"],
  });
  const results = await fetchMany<GmailMessage>(ctx, ids.map(req), OPS.search);
  const out: GmailMessage[] = [];
  for (const r of results) {
    if (r.ok) out.push(r.value);
    else if (r.error.code !== "not_found") throw r.error; // deleted since the list: skip
  }
  return out;
}

/**
 * The query `messages.list` and `threads.list` both take: the Gmail search, label names resolved
 * to ids, the limit checked, the page cursor.
 */
export async function listQuery(
  ctx: GmailContext,
  o: SearchOptions,
): Promise<GmailParams["messagesList"] & GmailParams["threadsList"]> {
  return {
    q: o.query?.trim() || undefined,
    labelIds: o.labels?.length ? await ctx.labels.idsFor(o.labels) : undefined,
    maxResults: checkLimit(o.limit),
    pageToken: o.pageToken,
    includeSpamTrash: o.includeSpamTrash || undefined,
  };
}

/** Search (or list, without a query) messages, newest first, with metadata and label names. */
export async function searchMessages(
  ctx: GmailContext,
  o: SearchOptions = {},
): Promise<Page<MessageSummary>> {
  const [list] = await Promise.all([
    ctx.http.call<GmailMessageList>({
      path: "messages",
      query: await listQuery(ctx, o),
      op: OPS.search,
    }),
    ctx.labels.list(), // warm the label cache in parallel with the list call
  ]);
  const ids = (list.messages ?? []).map((m) => m.id);
  const metas = await fetchMetadata(ctx, ids);
  const items: MessageSummary[] = [];
  for (const m of metas) items.push(summarize(m, await ctx.labels.namesFor(m.labelIds ?? [])));
  return {
    items,
    ...(list.nextPageToken ? { nextPageToken: list.nextPageToken } : {}),
    ...(list.resultSizeEstimate !== undefined
      ? { resultSizeEstimate: list.resultSizeEstimate }
      : {}),
  };
}

/** Options of {@link getMessage}. */
export interface ReadOptions {
  /** Characters of body text/HTML to return (default from the client; 0 = unlimited). */
  maxBodyChars?: number;
}

function bodyFetcher(ctx: GmailContext, messageId: string) {
  return async (attachmentId: string) =>
    (await ctx.http.call<GmailBody>({
      path: `messages/${encodeURIComponent(messageId)}/attachments/${
        encodeURIComponent(attachmentId)
      }`,
      op: OPS.read,
    })).data;
}

/** Decode an already fetched full message. */
export async function decodeFull(
  ctx: GmailContext,
  m: GmailMessage,
  o: ReadOptions = {},
): Promise<Message> {
  return await decodeMessage(m, {
    labelNames: await ctx.labels.namesFor(m.labelIds ?? []),
    maxBodyChars: o.maxBodyChars ?? ctx.maxBodyChars,
    fetchBody: bodyFetcher(ctx, m.id),
  });
}

function checkId(id: string, what: string): string {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(id)) {
    throw new UsageError("invalid_id", `Invalid ${what} id "${id.slice(0, 64)}".`);
  }
  return id;
}

/** Fetch the raw `format=full` resource. */
export async function getRawMessage(ctx: GmailContext, id: string): Promise<GmailMessage> {
  return await ctx.http.call<GmailMessage>({
    path: `messages/${checkId(id, "message")}`,
    query: { format: "full" } satisfies GmailParams["messagesGet"],
    op: OPS.read,
  });
}

/** Read one message: decoded text, HTML, attachments, `truncated`. */
export async function getMessage(
  ctx: GmailContext,
  id: string,
  o: ReadOptions = {},
): Promise<Message> {
  const [m] = await Promise.all([getRawMessage(ctx, id), ctx.labels.list()]);
  return await decodeFull(ctx, m, o);
}

/** Read a whole thread (oldest first). */
export async function getThread(
  ctx: GmailContext,
  id: string,
  o: ReadOptions = {},
): Promise<Thread> {
  const [t] = await Promise.all([
    ctx.http.call<GmailThread>({
      path: `threads/${checkId(id, "thread")}`,
      query: { format: "full" } satisfies GmailParams["threadsGet"],
      op: OPS.readThread,
    }),
    ctx.labels.list(),
  ]);
  const messages: Message[] = [];
  for (const m of t.messages ?? []) messages.push(await decodeFull(ctx, m, o));
  return { id: t.id, messages };
}

/** The mailbox profile. */
export async function getProfile(ctx: GmailContext): Promise<GmailProfile> {
  return await ctx.http.call({ path: "profile", op: OPS.profile });
}

export { checkId };
