/**
 * `mcs serve`'s use of the state store: each user's namespace, and the readiness probe.
 *
 * Guarantees:
 * - A user's state lives under `users/<hash>/` of the root store (the hash of `./identity.ts`),
 *   then the usual profile / tenant / client namespaces: two users never read each other's keys,
 *   and the single-user mode's entries (no `users/` prefix) are the CLI's own.
 * - {@link probeStore} writes a fresh probe key (expiring in a minute), reads it back, compares and
 *   deletes it: a store that cannot do all of that throws, and `/readyz` answers 503.
 *
 * @example
 * ```ts
 * import { MemoryCacheStore } from "../cache/memory.ts";
 * import { probeStore, userStore } from "./store.ts";
 * const root = new MemoryCacheStore();
 * await userStore(root, "0f3a…").set("k", 1); // stored as "users/0f3a…/k"
 * await probeStore(root); // throws when the store is unusable
 * ```
 * @module
 */

import type { CacheStore } from "../cache/types.ts";
import { namespaced } from "../cache/namespace.ts";
import { McsError } from "../errors.ts";

/** The namespace of user `hash` in `root`. */
export function userStore(root: CacheStore, hash: string): CacheStore {
  return namespaced(root, "users", hash);
}

/**
 * Write, read back and delete a probe key.
 * @throws {McsError} `serve_store_unavailable` (retryable), or the store's own error
 */
export async function probeStore(root: CacheStore): Promise<void> {
  const key = `serve/readyz/${crypto.randomUUID()}`;
  const value = crypto.randomUUID();
  await root.set(key, value, { expiresAt: Date.now() + 60_000 });
  const read = await root.get<string>(key);
  await root.delete(key);
  if (read !== value) {
    throw new McsError(
      "serve_store_unavailable",
      "The state store did not return the probe value it was given.",
      "runtime",
      { retryable: true },
    );
  }
}
