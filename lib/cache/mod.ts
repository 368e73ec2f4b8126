/**
 * The cache store: where every stateless mcs invocation keeps its state.
 *
 * @example
 * ```ts
 * import { ensureWritable, FileCacheStore, namespaced, resolveCacheDir } from "./mod.ts";
 * import { denoEnv } from "../config/env.ts";
 * const store = new FileCacheStore(resolveCacheDir(denoEnv));
 * await ensureWritable(store.dir); // only in commands that persist state
 * const profile = namespaced(store, "default", "tenant.us.auth0.com", "client123");
 * await profile.set("rt", "…");
 * ```
 * @module
 */

export type { CacheStore, UpdateResult, WriteOptions } from "./types.ts";
export { DIR_MODE, ensureWritable, type EnvLike, FILE_MODE, resolveCacheDir } from "./dir.ts";
export { FileCacheStore, type FileCacheStoreOptions } from "./file_store.ts";
export { MemoryCacheStore, type MemoryCacheStoreOptions } from "./memory.ts";
export { namespaced, namespacePrefix } from "./namespace.ts";
export type { Clock } from "./entry.ts";
