/**
 * `withLease`: a cross-process critical section, built on {@link CacheStore.update}, for auth
 * steps that must happen once even when an agent starts several `mcs` processes at the same
 * moment (create one broker session, start one Connected Accounts flow, complete it once).
 *
 * Why a lease and not the store's own lock held across the network: the file store has one lock
 * for the whole store, so holding it across a broker or Auth0 round trip (up to the 15 s request
 * timeout, several of them for a connect step) would stall every write of every mcs process on
 * that cache directory, unrelated profiles and tenants included; `Deno.FsFile.lock` has no
 * timeout, so a waiter could not bound its wait behind a stopped (not dead) holder; and the work
 * itself writes to the store (agent key generation, refresh token rotation, the My Account
 * token, the broker session the port creates inside a connect step), which an `update`
 * callback must not do (the lock is not re-entrant: it would deadlock). The lease instead holds
 * the store lock only for the few milliseconds it takes to claim or release a small entry; the
 * holder then does its network calls and writes freely, and everyone else waits, bounded, until
 * it releases (then re-reads what it stored, so the second process reuses the session the first
 * one created) or until the lease runs out (a holder that crashed, or hangs past its own
 * timeouts), when one waiter takes over.
 *
 * The time-to-live must exceed the holder's worst case (its requests' timeouts); a holder still
 * running past it may overlap with the one that took over, so callers still publish with a
 * compare-and-set `update` and re-check state first thing inside the lease.
 *
 * @example
 * ```ts
 * import { withLease } from "./lease.ts";
 * import type { CacheStore } from "../cache/types.ts";
 * async function sessionOnce(cache: CacheStore, create: () => Promise<string>) {
 *   return await withLease(cache, "linkauth/lease/login.gmail", async () => {
 *     const existing = await cache.get<string>("linkauth/session/login.gmail");
 *     if (existing) return existing; // created by a parallel process while we waited
 *     const fresh = await create();
 *     await cache.set("linkauth/session/login.gmail", fresh);
 *     return fresh;
 *   }, { ttlMs: 30_000 });
 * }
 * ```
 * @module
 */

import type { CacheStore } from "../cache/types.ts";
import { McsError } from "../errors.ts";

/** Options of {@link withLease}. */
export interface LeaseOptions {
  /** How long a holder may keep the lease before a waiter may take it over (ms). */
  ttlMs: number;
  /** Longest wait for another holder (default `ttlMs` plus one poll): bounded, never forever. */
  waitMs?: number;
  /** Pause between looks at a held lease (default 50 ms). */
  pollMs?: number;
  /**
   * Wall clock, epoch ms (default `Date.now`). Leases are about real processes overlapping in
   * real time, so do not pass a protocol clock that tests freeze.
   */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Said in the error raised when the wait runs out (default "another mcs process"). */
  what?: string;
}

/** What the store holds while a lease is taken. */
interface StoredLease {
  owner: string;
  /** Epoch ms after which the lease may be taken over. */
  until: number;
}

/**
 * Run `fn` while holding the lease `key` (at most one holder across processes sharing `cache`,
 * as long as holders finish within `ttlMs`). Waits for a current holder up to `waitMs`.
 * @throws {McsError} `auth_flow_busy` (retryable) when another holder kept it past the wait.
 */
export async function withLease<T>(
  cache: CacheStore,
  key: string,
  fn: () => Promise<T>,
  options: LeaseOptions,
): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const pollMs = options.pollMs ?? 50;
  const owner = crypto.randomUUID();
  const deadline = now() + (options.waitMs ?? options.ttlMs + pollMs);
  for (;;) {
    const t = now();
    const held = await cache.update<StoredLease>(key, (cur) => {
      // No store expiry: `until` is wall-clock time, the store may run on a test's fake clock.
      if (cur && cur.owner !== owner && cur.until > t) return { value: cur };
      return { value: { owner, until: t + options.ttlMs } };
    });
    if (held?.owner === owner) break;
    if (now() >= deadline) {
      throw new McsError(
        "auth_flow_busy",
        `${
          options.what ?? "Another mcs process"
        } is still setting up this sign-in step; run the command again in a moment.`,
        "runtime",
        { retryable: true },
      );
    }
    await sleep(pollMs);
  }
  try {
    return await fn();
  } finally {
    await cache.update<StoredLease>(
      key,
      (cur) => cur && cur.owner !== owner ? { value: cur } : { value: undefined },
    );
  }
}
