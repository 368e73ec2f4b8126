/**
 * Where the broker keeps its state: {@link openBrokerStore} is the single seam. Today it opens a
 * {@link FileCacheStore} in `MCS_BROKER_STATE_DIR` (sessions survive a restart; one host).
 * Replicas need a shared store with an atomic `update`: when the Redis store lands
 * (`openStore` in `lib/cache/open.ts`, selected by `MCS_STORE`), call it here when `MCS_STORE`
 * is set; nothing else in the broker changes.
 *
 * @example
 * ```ts
 * import { openBrokerStore } from "./store.ts";
 * const { store, compact } = await openBrokerStore(Deno.env, "/var/lib/mcs-broker");
 * ```
 * @module
 */
import { ensureWritable } from "../cache/dir.ts";
import { FileCacheStore } from "../cache/file_store.ts";
import type { CacheStore } from "../cache/types.ts";
import type { EnvReader } from "./config.ts";

/** The broker's store and how to drop its expired entries. */
export interface BrokerStore {
  store: CacheStore;
  /**
   * Remove expired entries (rate-limit windows, OAuth states, tickets) for good. A file store
   * sweeps them the first time an instance takes its lock, so this opens a fresh instance on
   * the same directory; a store with native expiry (Redis) needs nothing.
   */
  compact?: () => Promise<void>;
}

/** Open the broker's store (checked writable now, so a bad directory fails at start). */
export async function openBrokerStore(
  _env: EnvReader,
  stateDir: string,
  now: () => number = Date.now,
): Promise<BrokerStore> {
  // Seam for the shared store: `if (_env.get("MCS_STORE")) return { store: await openStore(_env) };`
  const store = new FileCacheStore(stateDir, { now });
  await ensureWritable(store.dir);
  return {
    store,
    compact: () => new FileCacheStore(stateDir, { now }).delete("broker/compact"),
  };
}
