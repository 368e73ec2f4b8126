/**
 * The shared context the Gmail feature modules run on, a small bounded-concurrency map, and the
 * one fetch of many resources (message or thread metadata) with the context's strategy.
 *
 * @example
 * ```ts
 * import { mapPool } from "./context.ts";
 * const squares = await mapPool([1, 2, 3], 2, async (n) => n * n); // [1, 4, 9]
 * ```
 * @module
 */

import { McsError } from "../errors.ts";
import type { OperationInfo } from "./google_error.ts";
import { type BatchResult, fetchProgress, type GmailHttp, type Query } from "./http.ts";
import type { LabelResolver } from "./labels.ts";

/** How metadata of many messages is fetched. */
export type MetadataStrategy = "batch" | "pool" | "sequential";

/** What every feature module needs. */
export interface GmailContext {
  http: GmailHttp;
  labels: LabelResolver;
  metadataStrategy: MetadataStrategy;
  /** In-flight requests for the pool strategy and multi-id operations (default 4). */
  concurrency: number;
  /** Default body limit for reads (characters). */
  maxBodyChars: number;
  /** Above this many bytes of JSON body, sends use the upload endpoint. */
  maxJsonBytes: number;
}

/** Map with at most `limit` promises in flight; results in input order. */
export async function mapPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * GET many resources with the context's strategy: `batch` (the batch endpoint, for two or
 * more), `pool` (`concurrency` GETs in flight) or `sequential` (one after another). Results are
 * per item, in input order; an item's typed failure is its result, anything else throws. Every
 * strategy reports its progress the same way ({@link fetchProgress}).
 */
export async function fetchMany<T>(
  ctx: GmailContext,
  requests: readonly { path: string; query?: Query }[],
  op: OperationInfo,
): Promise<BatchResult<T>[]> {
  if (ctx.metadataStrategy === "batch" && requests.length > 1) {
    return await ctx.http.batch<T>(requests, op);
  }
  const fetched = fetchProgress(ctx.http.onProgress, requests.length);
  const limit = ctx.metadataStrategy === "sequential" ? 1 : ctx.concurrency;
  return await mapPool(requests, limit, async (req): Promise<BatchResult<T>> => {
    try {
      const value = await ctx.http.call<T>({ ...req, op });
      fetched(1);
      return { ok: true, value };
    } catch (error) {
      if (!(error instanceof McsError)) throw error;
      fetched(1);
      return { ok: false, error };
    }
  });
}
