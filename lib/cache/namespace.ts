/**
 * {@link namespaced}: a view of a {@link CacheStore} whose keys all live under a prefix built from
 * namespace parts (profile, tenant, client…), so two tenants or profiles never see each other's
 * entries, and `clear()` on the view removes exactly that namespace (e.g. `mcs auth logout`).
 *
 * Parts are escaped (`%` → `%25`, `/` → `%2F`) and joined with `/`, plus a trailing `/`, so
 * `["a/b"]` and `["a", "b"]` differ, and `"t1"` never matches `"t12"`. Views nest.
 *
 * @example
 * ```ts
 * import { MemoryCacheStore } from "./memory.ts";
 * import { namespaced } from "./namespace.ts";
 * const root = new MemoryCacheStore();
 * const work = namespaced(root, "work", "tenant.eu.auth0.com", "client123");
 * await work.set("rt", "…"); // stored as "work/tenant.eu.auth0.com/client123/rt"
 * await namespaced(root, "work").clear(); // logout: removes every key of profile "work"
 * ```
 * @module
 */

import { McsError } from "../errors.ts";
import type { CacheStore } from "./types.ts";

/** The key prefix for namespace `parts` (each non-empty). */
export function namespacePrefix(...parts: string[]): string {
  if (parts.length === 0 || parts.some((p) => p === "")) {
    throw new McsError("cache_namespace_invalid", "Cache namespace parts must be non-empty.");
  }
  return parts.map((p) => p.replaceAll("%", "%25").replaceAll("/", "%2F")).join("/") + "/";
}

/** A view of `store` where every key is prefixed with {@link namespacePrefix}(...parts). */
export function namespaced(store: CacheStore, ...parts: string[]): CacheStore {
  const prefix = namespacePrefix(...parts);
  return {
    get: (key) => store.get(prefix + key),
    set: (key, value, options) => store.set(prefix + key, value, options),
    delete: (key) => store.delete(prefix + key),
    update: (key, fn) => store.update(prefix + key, fn),
    keys: async (p = "") => (await store.keys(prefix + p)).map((k) => k.slice(prefix.length)),
    clear: (p = "") => store.clear(prefix + p),
  };
}
