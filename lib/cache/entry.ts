/**
 * Rules shared by every {@link CacheStore} implementation: when an entry is live, and which
 * writes are valid. Kept in one place so the file and memory stores cannot drift apart.
 *
 * @example
 * ```ts
 * import { isLive, serializeValue } from "./entry.ts";
 * isLive(undefined, Date.now()); // true: no expiry
 * isLive(1_000, 2_000); // false: expired
 * serializeValue({ a: 1 }, { expiresAt: 5 }); // '{"a":1}'
 * ```
 * @module
 */

import { McsError } from "../errors.ts";
import type { WriteOptions } from "./types.ts";

/** A clock in epoch milliseconds (injectable for expiry tests). */
export type Clock = () => number;

/** True when an entry with expiry `exp` (epoch ms, or none) is still readable at `now`. */
export function isLive(exp: number | undefined, now: number): boolean {
  return exp === undefined || now < exp;
}

/**
 * Validate a write and return the value's JSON text. Throws `cache_value_not_json` when the value
 * has no JSON form (a function, a symbol) and `cache_invalid_expiry` for a non-finite expiry.
 */
export function serializeValue(value: unknown, options: WriteOptions = {}): string {
  const exp = options.expiresAt;
  if (exp !== undefined && (typeof exp !== "number" || !Number.isFinite(exp))) {
    throw new McsError("cache_invalid_expiry", `expiresAt must be epoch milliseconds, got ${exp}`);
  }
  const text = JSON.stringify(value);
  if (typeof text !== "string") {
    throw new McsError("cache_value_not_json", "Cache values must be JSON-serialisable.");
  }
  return text;
}
