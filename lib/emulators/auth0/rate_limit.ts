/**
 * The Auth0 tenant emulator's rate limiter: a token bucket per API (auth0.md section 6), with
 * the `x-ratelimit-limit` / `x-ratelimit-remaining` / `x-ratelimit-reset` headers Auth0 sends on
 * rate-limited endpoints. `reset` is UNIX seconds when the bucket is full again.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./rate_limit.ts";
 * const bucket = new TokenBucket(() => ({ burst: 2, perSecond: 1 }), Date.now);
 * bucket.take().allowed; // true
 * bucket.take().headers["x-ratelimit-remaining"]; // "0"
 * ```
 * @module
 */
import type { RateLimit } from "./state.ts";

/** The outcome of one request against the bucket. */
export interface BucketResult {
  allowed: boolean;
  /** `x-ratelimit-*` headers to send with the response. */
  headers: Record<string, string>;
  /** Seconds until one request is allowed again (≥ 1), for a `retry-after` header. */
  retryAfterS: number;
}

/** A token bucket whose size and refill rate are read on every request (tests change them). */
export class TokenBucket {
  #tokens?: number;
  #at = 0;

  constructor(readonly limit: () => RateLimit, readonly now: () => number) {}

  /** Consume one token if there is one. */
  take(): BucketResult {
    const { burst, perSecond } = this.limit();
    const now = this.now();
    const rate = Math.max(perSecond, 1e-9) / 1000; // tokens per ms
    const current = this.#tokens === undefined
      ? burst
      : Math.min(burst, this.#tokens + Math.max(0, now - this.#at) * rate);
    const allowed = current >= 1;
    this.#tokens = allowed ? current - 1 : current;
    this.#at = now;
    const fullInMs = (burst - this.#tokens) / rate;
    return {
      allowed,
      headers: {
        "x-ratelimit-limit": String(burst),
        "x-ratelimit-remaining": String(Math.floor(this.#tokens)),
        "x-ratelimit-reset": String(Math.ceil((now + fullInMs) / 1000)),
      },
      retryAfterS: Math.max(1, Math.ceil((1 - this.#tokens) / rate / 1000)),
    };
  }
}
