/**
 * The retry policy: the ONE place that decides whether, and after how long, mcs repeats a
 * request. The network layer (`http.ts`), the Gmail core (`lib/gmail/http.ts`) and the Auth0
 * transport (`lib/auth/auth0/transport.ts`) all ask {@link nextRetry}; none has constants or a
 * `Retry-After` parser of its own.
 *
 * Guarantees:
 * - **Backoff**: Google's documented exponential backoff, `min(maxMs, baseMs·2ⁿ + random·baseMs)`
 *   (1 s, 2 s, 4 s, … plus up to 1 s of jitter), at most {@link RetryPolicy.retries} retries.
 * - **`Retry-After`** ({@link parseRetryAfter}: delta-seconds, fractions allowed, or an HTTP
 *   date) replaces the backoff when present. One that is longer than
 *   {@link RetryPolicy.maxRetryAfterMs}, or than the time left before the caller's deadline, is
 *   not waited for at all: the decision is `give_up` at once with `retryAfterS`, so the caller's
 *   error carries `retry_after_s` instead of blocking and then failing without it.
 * - **Idempotency rule**: an idempotent request (GET, HEAD, OPTIONS, PUT, DELETE, or declared
 *   so) is retried on 429, 500, 502, 503, 504. A non-idempotent one (a send, a POST) is retried
 *   only on a status by which the server says it did NOT process the request: 429 by default,
 *   plus what the caller knows for its endpoint (`unprocessed`, e.g. 503 at Auth0's
 *   `/oauth/token`). A lost answer to a non-idempotent request is never retried here: the
 *   network layer reports it as `outcome_unknown`.
 *
 * Why hand-written rather than `exponential-backoff` (npm): measured on this machine, importing
 * it from source costs +33 to +54 ms (a CommonJS package starts Deno's Node-compat loader)
 * against under 1 ms for this module, and its API cannot wait for a `Retry-After`, stop at a
 * deadline or be cancelled by an `AbortSignal`, which are most of what this policy does.
 *
 * @example
 * ```ts
 * import { nextRetry, parseRetryAfter } from "./retry.ts";
 * const d = nextRetry({
 *   attempt: 0, status: 429, idempotent: false,
 *   retryAfterMs: parseRetryAfter("1.5"),
 * });
 * // d = { retry: true, delayMs: 1500 }
 * ```
 * @module
 */

/** The knobs of the policy. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First backoff delay in ms; doubles per retry, plus up to this much jitter. */
  baseMs: number;
  /** Largest backoff delay in ms. */
  maxMs: number;
  /** Longest `Retry-After` waited for, in ms; a longer one fails at once. */
  maxRetryAfterMs: number;
}

/** The program's policy: 3 retries (1 s, 2 s, 4 s + jitter), `Retry-After` up to 30 s. */
export const RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  retries: 3,
  baseMs: 1000,
  maxMs: 8000,
  maxRetryAfterMs: 30_000,
});

/** Statuses worth retrying for an idempotent request. */
const RETRYABLE = new Set([429, 500, 502, 503, 504]);

/** Whether an HTTP status is worth retrying for an idempotent request (429, 500, 502–504). */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE.has(status);
}

/** Statuses by which a server says it did not process a request (default for non-idempotent). */
export const UNPROCESSED_STATUSES: readonly number[] = [429];

/**
 * Parse a `Retry-After` value, delta-seconds (`"2"`, also `"1.5"`) or an HTTP date, into
 * milliseconds from `now`. `undefined` when absent or unparseable; never negative.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (!/[a-z]/i.test(v)) return undefined; // "-1", "1e3", "": not a date either
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Whole seconds for a `retry_after_s` field (rounded up, at least 1 when positive). */
export function retryAfterSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/** The backoff before retry number `attempt + 1` (0-based `attempt`), jitter from `random`. */
export function backoffMs(
  attempt: number,
  policy: RetryPolicy = RETRY_POLICY,
  random: () => number = Math.random,
): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** attempt + random() * policy.baseMs);
}

/** What happened to the last attempt. */
export interface RetryInput {
  /** 0-based number of the attempt that just failed. */
  attempt: number;
  /** Its HTTP status; absent when no response came (e.g. a connection reset). */
  status?: number;
  /** Whether the request may be repeated at will. */
  idempotent: boolean;
  /**
   * Whether the status is retryable in the first place (default {@link isRetryableStatus}; the
   * Gmail core widens it to rate-limit 403s).
   */
  retryable?: boolean;
  /** For a non-idempotent request: statuses meaning "not processed" (default `[429]`). */
  unprocessed?: readonly number[];
  /** The server's `Retry-After` in ms ({@link parseRetryAfter}), if any. */
  retryAfterMs?: number;
  /** Milliseconds left before the caller's deadline (default: no deadline). */
  remainingMs?: number;
  /** Policy (default {@link RETRY_POLICY}). */
  policy?: RetryPolicy;
  /** Jitter source in [0, 1) (default `Math.random`). */
  random?: () => number;
}

/** Why no retry. */
export type GiveUpReason =
  /** The failure is not one this request may be repeated on. */
  | "not_retryable"
  /** Every retry was used. */
  | "exhausted"
  /** The server asked for a wait longer than the policy or the deadline allows. */
  | "retry_after_too_long"
  /** The next backoff would end after the deadline. */
  | "deadline";

/** The decision of {@link nextRetry}. */
export type RetryDecision =
  | { retry: true; delayMs: number }
  | {
    retry: false;
    reason: GiveUpReason;
    /** The server's `Retry-After` in whole seconds, when it gave one. */
    retryAfterS?: number;
  };

/** Decide whether to retry after a failed attempt, and after how long (see the module docs). */
export function nextRetry(input: RetryInput): RetryDecision {
  const policy = input.policy ?? RETRY_POLICY;
  const ra = input.retryAfterMs;
  const retryAfterS = ra === undefined ? undefined : retryAfterSeconds(ra);
  const giveUp = (reason: GiveUpReason): RetryDecision =>
    retryAfterS === undefined ? { retry: false, reason } : { retry: false, reason, retryAfterS };
  const { status } = input;
  const retryable = status === undefined
    ? input.idempotent // no answer: only an idempotent request may be repeated
    : (input.retryable ?? isRetryableStatus(status)) &&
      (input.idempotent || (input.unprocessed ?? UNPROCESSED_STATUSES).includes(status));
  if (!retryable) return giveUp("not_retryable");
  const remaining = input.remainingMs ?? Infinity;
  if (ra !== undefined && (ra > policy.maxRetryAfterMs || ra >= remaining)) {
    return giveUp("retry_after_too_long");
  }
  if (input.attempt >= policy.retries) return giveUp("exhausted");
  const delayMs = ra ?? backoffMs(input.attempt, policy, input.random);
  if (delayMs >= remaining) return giveUp("deadline");
  return { retry: true, delayMs };
}

/**
 * A sleep that an `AbortSignal` cuts short (rejecting with its reason). A real `setTimeout`
 * (which keeps the process alive, unlike `AbortSignal.timeout`); only retries pay for it.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
