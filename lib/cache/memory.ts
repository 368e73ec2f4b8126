/**
 * {@link MemoryCacheStore}: an in-process {@link CacheStore} with the same semantics as the file
 * store (JSON copies in and out, expiry against an injectable clock, serialised `update`), for
 * unit tests of other modules.
 *
 * @example
 * ```ts
 * import { MemoryCacheStore } from "./memory.ts";
 * let now = 0;
 * const store = new MemoryCacheStore({ now: () => now });
 * await store.set("at:gmail", "tok", { expiresAt: 1_000 });
 * now = 1_000;
 * await store.get("at:gmail"); // undefined: expired
 * ```
 * @module
 */

import type { CacheStore, UpdateResult, WriteOptions } from "./types.ts";
import { type Clock, isLive, serializeValue } from "./entry.ts";
import { Mutex } from "./mutex.ts";

/** Options for {@link MemoryCacheStore}. */
export interface MemoryCacheStoreOptions {
  /** Clock in epoch milliseconds (default `Date.now`). */
  now?: Clock;
}

/** A {@link CacheStore} held in a `Map`; values are stored as JSON text, so callers get copies. */
export class MemoryCacheStore implements CacheStore {
  readonly #entries = new Map<string, { json: string; exp?: number }>();
  readonly #now: Clock;
  readonly #mutex = new Mutex();

  constructor(options: MemoryCacheStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  get<T>(key: string): Promise<T | undefined> {
    return Promise.resolve(this.#get<T>(key));
  }

  set<T>(key: string, value: T, options: WriteOptions = {}): Promise<void> {
    return this.#mutex.run(() => Promise.resolve(this.#put(key, value, options.expiresAt)));
  }

  delete(key: string): Promise<void> {
    return this.#mutex.run(() => Promise.resolve(void this.#entries.delete(key)));
  }

  update<T>(
    key: string,
    fn: (current: T | undefined) => UpdateResult<T> | Promise<UpdateResult<T>>,
  ): Promise<T | undefined> {
    return this.#mutex.run(async () => {
      const next = await fn(this.#get<T>(key));
      this.#put(key, next.value, next.expiresAt);
      return next.value;
    });
  }

  keys(prefix = ""): Promise<string[]> {
    const now = this.#now();
    const out = [...this.#entries]
      .filter(([k, e]) => k.startsWith(prefix) && isLive(e.exp, now))
      .map(([k]) => k);
    return Promise.resolve(out.sort());
  }

  clear(prefix = ""): Promise<void> {
    return this.#mutex.run(() => {
      for (const k of [...this.#entries.keys()]) if (k.startsWith(prefix)) this.#entries.delete(k);
      return Promise.resolve();
    });
  }

  #get<T>(key: string): T | undefined {
    const e = this.#entries.get(key);
    return e && isLive(e.exp, this.#now()) ? JSON.parse(e.json) as T : undefined;
  }

  #put(key: string, value: unknown, expiresAt: number | undefined): void {
    if (value === undefined) {
      this.#entries.delete(key);
      return;
    }
    this.#entries.set(key, { json: serializeValue(value, { expiresAt }), exp: expiresAt });
  }
}
