/**
 * {@link RedisCacheStore}: the shared {@link CacheStore} for servers that run as several replicas
 * (`mcs serve`, `mcs mcp` with `MCS_STORE=redis://...`): the same semantics as the file store,
 * on one Redis, every value sealed.
 *
 * Design:
 * - **Layout**: under a deployment prefix (default `mcs:`, so several deployments can share one
 *   Redis), entry `k` is the string `<prefix>d:<k>`, its update lock `<prefix>l:<k>`, and a
 *   quarantined value `<prefix>q:<k>#<epoch ms>`.
 * - **Every value is sealed** ({@link Sealer}: AES-256-GCM under `MCS_STORE_KEY`, bound to its
 *   Redis key), so nothing that is a token is readable in Redis, and a value copied to another
 *   key (another user's) does not open there.
 * - **Expiry**: the envelope carries `expiresAt`, checked against the store's clock on every read
 *   and listing (the authority, as in the file store); Redis also gets `PX` (the time left plus
 *   {@link EXPIRY_SLACK_MS}, for clock skew between replicas) so it drops the entry itself.
 * - **`update` is a real read-modify-write across processes and replicas**: it takes the key's
 *   lock (`SET <lock> <token> NX PX lockTtlMs`), reads, runs `fn` once, and writes with a script
 *   that checks the lock still holds its token (fencing) and releases it in the same step. A
 *   holder slower than the lock's time-to-live writes nothing (`store_lock_expired`, retryable)
 *   instead of overwriting a newer value. `set` and `delete` go through a script that waits (polls)
 *   while another writer holds the key's lock, so a `set` can never slip between an update's read
 *   and its write. Compare-and-set (rotated refresh tokens, leases) is an `update` whose `fn`
 *   compares. `fn` may be async, runs exactly once, and must not write to the same key (the
 *   lock is not re-entrant: such a write waits for `lockWaitMs`, then fails with `cache_busy`);
 *   reading any key, and writing other keys, is fine. Keep it short: its time counts against
 *   `lockTtlMs`.
 * - **Bounded waits**: a writer waits at most `lockWaitMs` for a key's lock (`cache_busy`,
 *   retryable); a holder that died frees it after `lockTtlMs` (lower than `lockWaitMs`, so a
 *   waiter outlasts a dead holder). Every command is bounded by the connection's timeouts
 *   (`store_unavailable`, see redis_connection.ts).
 * - **`keys(prefix)` and `clear(prefix)` use `SCAN`** (never `KEYS`, which blocks Redis);
 *   `clear` deletes each entry under the same lock rules as `delete`, and its quarantined values.
 * - **Unreadable values** (not an envelope, or one that does not open under a known key: wrong
 *   key, altered, moved) are moved aside, if unchanged, to the quarantine key (kept
 *   {@link QUARANTINE_KEEP_MS}), read as absent, and reported once through `onWarning` by key
 *   and reason, never with the value (the store remembers the last {@link REPORTED_KEYS_KEPT}
 *   keys it reported, so its memory stays flat however many bad keys it meets). A value sealed
 *   under a key id this replica does not hold is read as absent but left in place: during a
 *   rolling key rotation another replica may hold it.
 *
 * @example
 * ```ts
 * import { RedisCacheStore } from "./redis_store.ts";
 * import { parseStoreKeys, Sealer } from "./seal.ts";
 * import { connectRedis } from "./redis_connection.ts";
 * const sealer = new Sealer(await parseStoreKeys(Deno.env.get("MCS_STORE_KEY")));
 * const store = new RedisCacheStore(connectRedis("redis://127.0.0.1:6379/0"), { sealer });
 * await store.update<number>("work/counter", (n) => ({ value: (n ?? 0) + 1 }));
 * ```
 * @module
 */

import { McsError } from "../errors.ts";
import type { CacheStore, UpdateResult, WriteOptions } from "./types.ts";
import { type Clock, isLive, serializeValue } from "./entry.ts";
import { Sealer } from "./seal.ts";

/** The few Redis commands the store sends: one command, its reply (RESP2 decoded). */
export interface RedisCommands {
  /**
   * Send one command. Rejects with an {@link McsError} (`store_unavailable` when Redis cannot be
   * reached in time; `store_command_failed` for an error reply).
   */
  send(args: readonly string[]): Promise<unknown>;
  /** Where the store is, without credentials (`redis://host:port/db`), for messages. */
  readonly where: string;
}

/** Options of {@link RedisCacheStore}. */
export interface RedisCacheStoreOptions {
  /** Seals and opens every value. */
  sealer: Sealer;
  /** Deployment prefix of every Redis key (default {@link DEFAULT_PREFIX}). */
  prefix?: string;
  /** Clock in epoch milliseconds for expiry (default `Date.now`). */
  now?: Clock;
  /** Receives one message per quarantined or unreadable value (default `console.error`). */
  onWarning?: (message: string) => void;
  /** How long an update may hold a key's lock (default {@link LOCK_TTL_MS}). */
  lockTtlMs?: number;
  /** How long a writer waits for a key's lock before `cache_busy` (default {@link LOCK_WAIT_MS}). */
  lockWaitMs?: number;
  /**
   * Awaited before every operation; its rejection is the operation's. `openStore` passes the
   * key canary's `ready` (key_canary.ts), so nothing is read or moved aside before this process's
   * keys are proven to be the other replicas'.
   */
  ready?: () => Promise<void>;
}

/** Default deployment prefix. */
export const DEFAULT_PREFIX = "mcs:";
/** Default time-to-live of an update's lock: 10 s. */
export const LOCK_TTL_MS = 10_000;
/** Default longest wait for a key's lock: 12 s (longer than a dead holder's lock lives). */
export const LOCK_WAIT_MS = 12_000;
/** Redis keeps an expiring entry this much longer than its `expiresAt` (clock skew). */
export const EXPIRY_SLACK_MS = 5_000;
/** How long a quarantined value is kept for inspection: 7 days. */
export const QUARANTINE_KEEP_MS = 7 * 24 * 3600 * 1000;
/**
 * How many unreadable keys a store remembers having reported (the most recently reported): a
 * long-running server with many bad keys keeps its memory flat, and a key reported again after
 * this many others is reported once more.
 */
export const REPORTED_KEYS_KEPT = 10_000;

/**
 * Write or delete an entry. KEYS: entry, lock. ARGV: token ("" = not holding the lock), mode
 * ("set" | "del"), sealed value, PX ("" = none). Without a token it writes only while nobody
 * holds the lock (0 otherwise); with one, only while the lock still holds that token (-1
 * otherwise), releasing the lock in the same step.
 */
const WRITE = `
local l = redis.call('GET', KEYS[2])
if ARGV[1] == '' then
  if l then return 0 end
else
  if l ~= ARGV[1] then return -1 end
  redis.call('DEL', KEYS[2])
end
if ARGV[2] == 'del' then redis.call('DEL', KEYS[1])
elseif ARGV[4] == '' then redis.call('SET', KEYS[1], ARGV[3])
else redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4]) end
return 1`;

/** Release a lock if it still holds the token. KEYS: lock. ARGV: token. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Move an unchanged value aside. KEYS: entry, quarantine key. ARGV: value seen, keep ms. */
const QUARANTINE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0`;

/** A {@link CacheStore} on Redis; see the module documentation for the guarantees. */
export class RedisCacheStore implements CacheStore {
  readonly #redis: RedisCommands;
  readonly #sealer: Sealer;
  readonly #prefix: string;
  readonly #now: Clock;
  readonly #warn: (message: string) => void;
  readonly #lockTtlMs: number;
  readonly #lockWaitMs: number;
  readonly #ready: (() => Promise<void>) | undefined;
  /** Unreadable keys already reported, oldest first (at most {@link REPORTED_KEYS_KEPT}). */
  readonly #reported = new Set<string>();

  /** Sends nothing: the first command connects. */
  constructor(redis: RedisCommands, options: RedisCacheStoreOptions) {
    this.#redis = redis;
    this.#sealer = options.sealer;
    this.#prefix = options.prefix ?? DEFAULT_PREFIX;
    this.#now = options.now ?? Date.now;
    this.#warn = options.onWarning ?? ((message) => console.error(message));
    this.#lockTtlMs = options.lockTtlMs ?? LOCK_TTL_MS;
    this.#lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS;
    this.#ready = options.ready;
  }

  /** The Redis key of entry `key`. */
  entryKey(key: string): string {
    return `${this.#prefix}d:${key}`;
  }

  #lockKey(key: string): string {
    return `${this.#prefix}l:${key}`;
  }

  async get<T>(key: string): Promise<T | undefined> {
    await this.#ready?.();
    return await this.#read<T>(key);
  }

  async set<T>(key: string, value: T, options: WriteOptions = {}): Promise<void> {
    await this.#ready?.();
    if (value === undefined) return await this.delete(key);
    const json = serializeValue(value, options);
    await this.#unlockedWrite(key, json, options.expiresAt);
  }

  async delete(key: string): Promise<void> {
    await this.#ready?.();
    await this.#unlockedWrite(key, undefined, undefined);
  }

  async update<T>(
    key: string,
    fn: (current: T | undefined) => UpdateResult<T> | Promise<UpdateResult<T>>,
  ): Promise<T | undefined> {
    await this.#ready?.();
    const token = crypto.randomUUID();
    const lock = this.#lockKey(key);
    await this.#waitFor(
      key,
      async () =>
        await this.#redis.send(["SET", lock, token, "NX", "PX", String(this.#lockTtlMs)]) === "OK",
    );
    let next: UpdateResult<T>;
    try {
      const current = await this.#read<T>(key);
      next = await fn(current);
      if (next.value !== undefined) serializeValue(next.value, next);
    } catch (e) {
      await this.#redis.send(["EVAL", RELEASE, "1", lock, token]).catch(() => {});
      throw e;
    }
    const json = next.value === undefined ? undefined : serializeValue(next.value, next);
    const done = await this.#write(key, token, json, next.expiresAt);
    if (done === -1) {
      throw new McsError(
        "store_lock_expired",
        `An update of store entry "${key}" took longer than its lock lasts (${this.#lockTtlMs} ms), ` +
          "so it wrote nothing (another writer may have gone ahead). Run the command again.",
        "runtime",
        { retryable: true, details: { key, lock_ttl_ms: this.#lockTtlMs } },
      );
    }
    return next.value;
  }

  async keys(prefix = ""): Promise<string[]> {
    await this.#ready?.();
    const now = this.#now();
    const out: string[] = [];
    const start = this.entryKey("");
    for await (const batch of this.#scan(this.entryKey(prefix))) {
      const values = await this.#redis.send(["MGET", ...batch]) as (string | null)[];
      for (const [i, redisKey] of batch.entries()) {
        const raw = values[i];
        if (raw === null || raw === undefined) continue;
        const key = redisKey.slice(start.length);
        const opened = await this.#open(key, redisKey, raw);
        if (opened && isLive(opened.exp, now)) out.push(key);
      }
    }
    return out.sort();
  }

  async clear(prefix = ""): Promise<void> {
    await this.#ready?.();
    const start = this.entryKey("");
    for await (const batch of this.#scan(this.entryKey(prefix))) {
      for (const redisKey of batch) await this.delete(redisKey.slice(start.length));
    }
    for await (const batch of this.#scan(`${this.#prefix}q:${prefix}`)) {
      await this.#redis.send(["DEL", ...batch]);
    }
  }

  /** Read and open entry `key`; absent, expired and unreadable values are `undefined`. */
  async #read<T>(key: string): Promise<T | undefined> {
    const redisKey = this.entryKey(key);
    const raw = await this.#redis.send(["GET", redisKey]);
    if (typeof raw !== "string") return undefined;
    const opened = await this.#open(key, redisKey, raw);
    return opened && isLive(opened.exp, this.#now()) ? JSON.parse(opened.json) as T : undefined;
  }

  /** Open a raw value; quarantine (or, for an unknown key id, skip) what does not open. */
  async #open(
    key: string,
    redisKey: string,
    raw: string,
  ): Promise<{ json: string; exp?: number } | undefined> {
    const opened = await this.#sealer.open(redisKey, raw);
    if ("json" in opened) return opened;
    if (opened.unknownKey) {
      this.#warnOnce(
        redisKey,
        `mcs: store entry "${key}" is unreadable here (${opened.reason}); treating it as absent. ` +
          "Add that key to MCS_STORE_KEY on this replica (see README: state on Redis).",
      );
      return undefined;
    }
    await this.#quarantine(key, redisKey, raw, opened.reason);
    return undefined;
  }

  async #quarantine(key: string, redisKey: string, raw: string, reason: string): Promise<void> {
    const dest = `${this.#prefix}q:${key}#${Date.now()}`;
    try {
      const moved = await this.#redis.send([
        "EVAL",
        QUARANTINE,
        "2",
        redisKey,
        dest,
        raw,
        String(QUARANTINE_KEEP_MS),
      ]);
      if (moved !== 1) return; // a writer replaced it meanwhile
      this.#warn(
        `mcs: store entry "${key}" in ${this.#redis.where} was unreadable (${reason}); moved it ` +
          `aside to ${dest} (kept 7 days) and continuing without it (other entries are unaffected).`,
      );
    } catch (e) {
      this.#warnOnce(
        redisKey,
        `mcs: store entry "${key}" is unreadable (${reason}) and could not be moved aside ` +
          `(${e instanceof Error ? e.message : String(e)}); continuing without it.`,
      );
    }
  }

  /** Warn unless `redisKey` is among the {@link REPORTED_KEYS_KEPT} most recently reported. */
  #warnOnce(redisKey: string, message: string): void {
    if (this.#reported.has(redisKey)) return;
    this.#reported.add(redisKey);
    if (this.#reported.size > REPORTED_KEYS_KEPT) {
      this.#reported.delete(this.#reported.values().next().value!);
    }
    this.#warn(message);
  }

  /** `set`/`delete`: write once nobody holds the key's lock (waiting, bounded). */
  async #unlockedWrite(key: string, json: string | undefined, exp: number | undefined) {
    const sealed = json === undefined ? undefined : await this.#seal(key, json, exp);
    await this.#waitFor(key, async () => await this.#write(key, "", json, exp, sealed) === 1);
  }

  async #seal(key: string, json: string, exp: number | undefined): Promise<string> {
    return await this.#sealer.seal(this.entryKey(key), json, exp);
  }

  /** Run the write script; an already expired value is a delete. */
  async #write(
    key: string,
    token: string,
    json: string | undefined,
    exp: number | undefined,
    sealed?: string,
  ): Promise<number> {
    let mode = json === undefined ? "del" : "set";
    let px = "";
    if (exp !== undefined && json !== undefined) {
      const left = exp - this.#now();
      if (left <= 0) mode = "del";
      else px = String(Math.ceil(left) + EXPIRY_SLACK_MS);
    }
    const value = mode === "set" ? sealed ?? await this.#seal(key, json!, exp) : "";
    const args = [this.entryKey(key), this.#lockKey(key), token, mode, value, px];
    return Number(await this.#redis.send(["EVAL", WRITE, "2", ...args]));
  }

  /** Retry `attempt` with a growing pause (2 ms to 50 ms) until it succeeds or `lockWaitMs`. */
  async #waitFor(key: string, attempt: () => Promise<boolean>): Promise<void> {
    const deadline = performance.now() + this.#lockWaitMs;
    for (let pause = 2;; pause = Math.min(pause * 2, 50)) {
      if (await attempt()) return;
      const left = deadline - performance.now();
      if (left <= 0) break;
      const jitter = Math.random() * pause;
      await new Promise((r) => setTimeout(r, Math.min(pause / 2 + jitter, left)));
    }
    const seconds = Math.round(this.#lockWaitMs / 100) / 10;
    throw new McsError(
      "cache_busy",
      `The store is busy: another writer has held the lock of entry "${key}" in ` +
        `${this.#redis.where} for more than ${seconds} s. Run the command again in a moment; a ` +
        `holder that died frees it within ${Math.round(this.#lockTtlMs / 1000)} s.`,
      "runtime",
      { retryable: true, details: { key, waited_ms: this.#lockWaitMs } },
    );
  }

  /** Keys matching `start*`, in batches, with SCAN (never KEYS). */
  async *#scan(start: string): AsyncGenerator<string[]> {
    const match = start.replace(/[*?[\]\\]/g, (c) => `\\${c}`) + "*";
    let cursor = "0";
    const seen = new Set<string>();
    do {
      const reply = await this.#redis.send(["SCAN", cursor, "MATCH", match, "COUNT", "500"]);
      const [next, found] = reply as [string, string[]];
      cursor = String(next);
      // SCAN may return a key twice; only keys that really start with `start` (glob-safe).
      const fresh = found.filter((k) => k.startsWith(start) && !seen.has(k));
      for (const k of fresh) seen.add(k);
      if (fresh.length > 0) yield fresh;
    } while (cursor !== "0");
  }
}
