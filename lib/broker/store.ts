/**
 * Where the broker keeps its state: {@link openBrokerStore} is the single seam.
 *
 * - Default: a {@link FileCacheStore} in `MCS_BROKER_STATE_DIR` (sessions survive a restart; one
 *   host). Its expired entries are dropped for good by `compact`.
 * - `MCS_STORE=redis://…` (with `MCS_STORE_KEY`): the shared Redis store of `lib/cache/open.ts`,
 *   so several replicas serve the same sessions. Every value is sealed under `MCS_STORE_KEY`;
 *   every transition that must be atomic across replicas (ready-once consumption, the connect
 *   token's single use, the OAuth `state` and `custom_state` claims, the rate-limit counters) is
 *   one `update` on this store, which Redis runs under a per-key lock with fencing (see
 *   `lib/cache/redis_store.ts`). Redis expires entries itself, so there is nothing to compact.
 *   The Redis client is loaded only here, on this path (dynamic import).
 *
 * `check()` is the readiness probe `/health` runs (Redis answers PING and the key canary opens;
 * the directory is writable); `describe` names the store for the start-up line, never with a password.
 *
 * @example
 * ```ts
 * import { openBrokerStore } from "./store.ts";
 * const opened = await openBrokerStore(Deno.env, "/var/lib/mcs-broker");
 * opened.describe; // "/var/lib/mcs-broker" or "redis://10.0.0.5:6379/0 (prefix mcs:)"
 * await opened.check();
 * await opened.close();
 * ```
 * @module
 */
import { ensureWritable } from "../cache/dir.ts";
import { FileCacheStore } from "../cache/file_store.ts";
import type { CacheStore } from "../cache/types.ts";
import type { EnvReader } from "./config.ts";

/** The broker's store, how to probe it, and how to drop its expired entries. */
export interface BrokerStore {
  store: CacheStore;
  kind: "file" | "redis";
  /** Where the state is, without credentials (a directory, or the Redis URL and prefix). */
  describe: string;
  /** Readiness: resolves when the store can be used, throws otherwise. */
  check(): Promise<void>;
  /**
   * Remove expired entries (rate-limit windows, OAuth states, tickets) for good. A file store
   * sweeps them the first time an instance takes its lock, so this opens a fresh instance on
   * the same directory; a store with native expiry (Redis) needs nothing.
   */
  compact?: () => Promise<void>;
  /** Release the store (the Redis connection); no-op for the file store. */
  close(): Promise<void>;
}

/**
 * Open the broker's store: Redis when `MCS_STORE` is set, else the state directory (checked
 * writable now, so a bad directory fails at start). Opening Redis checks its key canary (a key
 * id whose bytes differ from the other replicas' fails the start), but a Redis that does not
 * answer does not: the broker starts while Redis is down and answers 503 until it is back.
 * @throws {ConfigError} `store_url_invalid`, `missing_setting`/`store_key_invalid`
 * (`MCS_STORE_KEY`), `store_key_mismatch`, `store_prefix_invalid`, or the state directory's
 * error.
 */
export async function openBrokerStore(
  env: EnvReader,
  stateDir: string,
  now: () => number = Date.now,
): Promise<BrokerStore> {
  if (env.get("MCS_STORE")?.trim()) {
    const { openStore } = await import("../cache/open.ts");
    const opened = await openStore({ env });
    return {
      store: opened.store,
      kind: opened.kind,
      describe: opened.describe,
      check: () => opened.check(),
      close: () => opened.close(),
    };
  }
  const store = new FileCacheStore(stateDir, { now });
  await ensureWritable(store.dir);
  return {
    store,
    kind: "file",
    describe: store.dir,
    check: () => ensureWritable(store.dir),
    compact: () => new FileCacheStore(stateDir, { now }).delete("broker/compact"),
    close: () => Promise.resolve(),
  };
}
