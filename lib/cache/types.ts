/**
 * The cache store port: where every stateless invocation keeps its state.
 *
 * Values are JSON-serialisable. Entries may carry an expiry. `update` runs a read-modify-write
 * under a cross-process lock so that parallel invocations never lose an update.
 *
 * @example
 * ```ts
 * import type { CacheStore } from "./types.ts";
 * async function bump(store: CacheStore) {
 *   await store.update<number>("counter", (n) => ({ value: (n ?? 0) + 1 }));
 * }
 * ```
 * @module
 */

/** Options for a write. */
export interface WriteOptions {
  /** Epoch milliseconds after which the entry reads as absent. */
  expiresAt?: number;
}

/** Result of an update function: the new value (or `undefined` to delete) and its expiry. */
export interface UpdateResult<T> {
  value: T | undefined;
  expiresAt?: number;
}

/** The port. Keys are strings; a `/` in a key is a namespace separator. */
export interface CacheStore {
  /** Read a value; `undefined` when absent or expired. Reads never write. */
  get<T>(key: string): Promise<T | undefined>;
  /** Write a value atomically. */
  set<T>(key: string, value: T, options?: WriteOptions): Promise<void>;
  /** Remove a value (no error if absent). */
  delete(key: string): Promise<void>;
  /**
   * Atomic read-modify-write under a cross-process lock. `fn` receives the current value
   * (undefined when absent/expired) and returns the new one; its result is returned.
   */
  update<T>(
    key: string,
    fn: (current: T | undefined) => UpdateResult<T> | Promise<UpdateResult<T>>,
  ): Promise<T | undefined>;
  /** List keys under a prefix (non-expired only). */
  keys(prefix?: string): Promise<string[]>;
  /** Remove every key under a prefix (e.g. a profile's whole state on logout). */
  clear(prefix?: string): Promise<void>;
}
