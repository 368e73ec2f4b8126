/**
 * The per-user scopes of `mcs serve` in team mode: each user (a {@link userHash}) gets its own
 * scope — its own tool runner and App (LinkAuth session and key, Auth0 refresh token, connected
 * account, Google token, all in the user's store namespace) and its own MCP sessions — built on
 * first use and kept warm.
 *
 * Guarantees:
 * - Isolation: a scope is only ever reached through its user's hash; two users never share a
 *   runner, a store namespace or an MCP session map.
 * - Bounded: at most `maxUsers` scopes; beyond that the least recently used idle one is closed,
 *   and scopes idle for `idleMs` are closed too. Closing loses nothing: the state lives in the
 *   store, and the next call rebuilds the scope from it.
 * - Per-user concurrency cap: {@link UserPool.enter} refuses (undefined) a user already running
 *   `maxConcurrent` requests; the caller answers 429 with `Retry-After`.
 *
 * @example
 * ```ts
 * import { UserPool } from "./users.ts";
 * const pool = new UserPool((user) => ({ user, close: async () => {} }), { maxConcurrent: 4 });
 * const slot = pool.enter("3f2a..."); // undefined when the user is at the cap
 * try { slot?.scope.user; } finally { slot?.leave(); }
 * ```
 * @module
 */

/** What the pool keeps per user. */
export interface Closable {
  close(): Promise<void> | void;
}

/** Limits of a {@link UserPool}. */
export interface UserPoolOptions {
  /** Requests in flight per user (default 8). */
  maxConcurrent?: number;
  /** Scopes kept at once (default 200: a warm scope holds its own connections, a few MiB). */
  maxUsers?: number;
  /** Close a scope unused this long (default 30 min). */
  idleMs?: number;
  /** Clock (epoch ms), for tests. */
  now?(): number;
}

interface Entry<T> {
  scope: T;
  inflight: number;
  lastUsed: number;
}

/** Scopes by user, with LRU and idle eviction and a per-user concurrency cap. */
export class UserPool<T extends Closable> {
  readonly #create: (user: string) => T;
  readonly #entries = new Map<string, Entry<T>>();
  readonly #maxConcurrent: number;
  readonly #maxUsers: number;
  readonly #idleMs: number;
  readonly #now: () => number;

  constructor(create: (user: string) => T, options: UserPoolOptions = {}) {
    this.#create = create;
    this.#maxConcurrent = options.maxConcurrent ?? 8;
    this.#maxUsers = options.maxUsers ?? 200;
    this.#idleMs = options.idleMs ?? 30 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Scopes held now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Take one of `user`'s slots: its scope (built if needed) and `leave()`, to call exactly once
   * when the request is done; undefined when the user is at the cap.
   */
  enter(user: string): { scope: T; leave(): void } | undefined {
    const now = this.#now();
    let entry = this.#entries.get(user);
    if (entry) {
      if (entry.inflight >= this.#maxConcurrent) return undefined;
      this.#entries.delete(user); // re-inserted below: the map's order is the LRU order
    } else {
      this.#evict(now);
      entry = { scope: this.#create(user), inflight: 0, lastUsed: now };
    }
    this.#entries.set(user, entry);
    entry.inflight++;
    entry.lastUsed = now;
    const e = entry;
    let left = false;
    return {
      scope: e.scope,
      leave: () => {
        if (left) return;
        left = true;
        e.inflight--;
        e.lastUsed = this.#now();
      },
    };
  }

  #evict(now: number): void {
    for (const [user, e] of this.#entries) {
      if (e.inflight === 0 && now - e.lastUsed > this.#idleMs) this.#drop(user, e);
    }
    for (const [user, e] of this.#entries) {
      if (this.#entries.size < this.#maxUsers) break;
      if (e.inflight === 0) this.#drop(user, e);
    }
  }

  #drop(user: string, e: Entry<T>): void {
    this.#entries.delete(user);
    Promise.resolve().then(() => e.scope.close()).catch(() => {});
  }

  /** Close every scope. */
  async close(): Promise<void> {
    const all = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(
      all.map((e) => Promise.resolve().then(() => e.scope.close()).catch(() => {})),
    );
  }
}
