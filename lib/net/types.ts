/**
 * The network port. Every module that talks HTTP takes a {@link FetchLike} (default: the
 * project's network layer from `lib/net/http.ts`), so tests and `mcs dev` can inject one and
 * every request honours the proxy, CA, timeout and retry policy in one place.
 *
 * @example
 * ```ts
 * import type { FetchLike } from "./types.ts";
 * async function profile(fetch: FetchLike, token: string) {
 *   const res = await fetch("https://gmail.googleapis.com/gmail/v1/users/me/profile", {
 *     headers: { authorization: `Bearer ${token}` },
 *     timeoutMs: 10_000, // GET: retried on 429/5xx by the network layer
 *   });
 *   return await res.json();
 * }
 * ```
 * @module
 */

/** Per-request options understood by the network layer, on top of `RequestInit`. */
export interface NetInit extends RequestInit {
  /** Total timeout in ms for this request (default from the layer, e.g. 30 s). */
  timeoutMs?: number;
  /**
   * Whether the request may be retried on 429/5xx/connection reset. Defaults to true for GET,
   * HEAD, OPTIONS, PUT, DELETE and false otherwise. Set explicitly to override.
   */
  idempotent?: boolean;
  /** Maximum retries (default from the layer's policy, `lib/net/retry.ts`). */
  retries?: number;
  /**
   * For a non-idempotent request: the statuses by which this endpoint says it did NOT process
   * the request, so it may be repeated (default `[429]`; e.g. `[429, 503]` at Auth0's
   * `/oauth/token`).
   */
  unprocessed?: readonly number[];
  /**
   * Whether a lost answer (timeout or reset once the request may have been written) is reported
   * as `outcome_unknown`, not retryable (default: when not idempotent). `false` for requests
   * without side effects worth checking (e.g. a token grant): they keep `timeout` /
   * `connection_reset`.
   */
  outcomeMatters?: boolean;
}

/** A fetch-compatible function. */
export type FetchLike = (input: string | URL | Request, init?: NetInit) => Promise<Response>;
