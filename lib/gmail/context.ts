/**
 * The shared context the Gmail feature modules run on, and a small bounded-concurrency map.
 *
 * @example
 * ```ts
 * import { mapPool } from "./context.ts";
 * const squares = await mapPool([1, 2, 3], 2, async (n) => n * n); // [1, 4, 9]
 * ```
 * @module
 */

import type { GmailHttp } from "./http.ts";
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
