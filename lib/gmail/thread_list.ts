/**
 * List threads: one `threads.list` call, then every thread's metadata (`threads.get
 * format=metadata`) through the batch endpoint (or a bounded pool) — never one request after
 * another — summarised as subject, participants, message count, last date, labels, unread.
 *
 * @example
 * ```ts
 * import { listThreads } from "./thread_list.ts";
 * declare const ctx: import("./context.ts").GmailContext;
 * const page = await listThreads(ctx, { query: "is:unread", limit: 10 });
 * page.items[0]?.messageCount;
 * ```
 * @module
 */

import { fetchMany, type GmailContext } from "./context.ts";
import type { BatchResult } from "./http.ts";
import { decodeHtmlEntities, header } from "./decode.ts";
import { listQuery, type SearchOptions } from "./read.ts";
import { OPS } from "./scopes.ts";
import type {
  GmailMessage,
  GmailParams,
  GmailThread,
  GmailThreadList,
  Page,
  ThreadSummary,
} from "./types.ts";

type ThreadJson = GmailThread;

const HEADERS = ["From", "To", "Subject", "Date"];

/** Fetch many threads in `format=metadata` with the context's strategy (batch by default). */
async function fetchThreads(
  ctx: GmailContext,
  ids: readonly string[],
): Promise<BatchResult<ThreadJson>[]> {
  const req = (id: string) => ({
    path: `threads/${encodeURIComponent(id)}`,
    query: { format: "metadata", metadataHeaders: HEADERS } satisfies GmailParams["threadsGet"],
  });
  return await fetchMany<ThreadJson>(ctx, ids.map(req), OPS.readThread);
}

function isoDate(m: GmailMessage | undefined): string {
  const ms = Number(m?.internalDate);
  return m?.internalDate && Number.isFinite(ms) ? new Date(ms).toISOString() : "";
}

/** Distinct senders, in order of first message, as they appear in `From`. */
function participants(messages: readonly GmailMessage[]): string[] {
  const seen = new Map<string, string>();
  for (const m of messages) {
    const from = header(m.payload, "from");
    const key = (/<([^>]+)>/.exec(from)?.[1] ?? from).trim().toLowerCase();
    if (key && !seen.has(key)) seen.set(key, from);
  }
  return [...seen.values()];
}

/** Summarise a `format=metadata` thread (messages oldest first, as Gmail returns them). */
export function summarizeThread(
  t: ThreadJson,
  snippet: string,
  labelNames: (ids: string[]) => Promise<string[]>,
): Promise<ThreadSummary> {
  const msgs = t.messages ?? [];
  const first = msgs[0];
  const last = msgs[msgs.length - 1];
  const labelIds = [...new Set(msgs.flatMap((m) => m.labelIds ?? []))];
  return labelNames(labelIds).then((labels) => ({
    id: t.id,
    subject: header(first?.payload, "subject"),
    participants: participants(msgs),
    messageCount: msgs.length,
    lastMessageId: last?.id ?? "",
    date: isoDate(last),
    snippet,
    labels,
    unread: labelIds.includes("UNREAD"),
  }));
}

/**
 * List threads matching a Gmail query (or labels), newest activity first. Threads deleted
 * between the list and the metadata fetch are dropped; other failures throw.
 */
export async function listThreads(
  ctx: GmailContext,
  o: SearchOptions = {},
): Promise<Page<ThreadSummary>> {
  const [list] = await Promise.all([
    ctx.http.call<GmailThreadList>({
      path: "threads",
      query: await listQuery(ctx, o),
      op: OPS.listThreads,
    }),
    ctx.labels.list(), // warm the label cache in parallel with the list call
  ]);
  const rows = list.threads ?? [];
  const results = await fetchThreads(ctx, rows.map((t) => t.id));
  const items: ThreadSummary[] = [];
  for (const [i, r] of results.entries()) {
    if (!r.ok) {
      if (r.error.code === "not_found") continue; // deleted since the list
      throw r.error;
    }
    items.push(
      await summarizeThread(
        r.value,
        decodeHtmlEntities(rows[i].snippet ?? ""),
        (ids) => ctx.labels.namesFor(ids),
      ),
    );
  }
  return {
    items,
    ...(list.nextPageToken ? { nextPageToken: list.nextPageToken } : {}),
    ...(list.resultSizeEstimate !== undefined
      ? { resultSizeEstimate: list.resultSizeEstimate }
      : {}),
  };
}
