/**
 * {@link openStore}: the state store factory. The file store in the cache directory is the
 * default and the CLI's store; `MCS_STORE=redis://host:port/db` (or `rediss://`, with a password
 * in the URL if needed) selects Redis, shared by the replicas of a server, with every value
 * sealed under `MCS_STORE_KEY` (see seal.ts) and keys under `MCS_STORE_PREFIX` (default `mcs:`).
 *
 * Configuration problems (a malformed URL, a missing or malformed key) fail here, at once, as
 * {@link ConfigError}s. So does a key that differs from the other replicas' under the same key
 * id: the key canary (key_canary.ts) is checked here, and a `store_key_mismatch` refuses the
 * start. When Redis does not answer, the server starts anyway (its calls fail with
 * `store_unavailable` until Redis is back); the store then runs the canary check before its
 * first operation, and `check()` runs it every time. The Redis client is loaded only on that
 * path (dynamic imports), never by other commands.
 *
 * @example
 * ```ts
 * import { openStore } from "./open.ts";
 * const opened = await openStore({ env: { get: (n) => Deno.env.get(n) } });
 * opened.describe; // "redis://127.0.0.1:6379/0 (prefix mcs:)" or the cache directory
 * await opened.check(); // throws store_unavailable when Redis is down (a readiness probe)
 * await opened.store.set("k", 1);
 * await opened.close();
 * ```
 * @module
 */

import { ConfigError, McsError } from "../errors.ts";
import type { CacheStore } from "./types.ts";
import type { EnvLike } from "./dir.ts";

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** Where `MCS_STORE`, `MCS_STORE_KEY`, `MCS_STORE_PREFIX` and the cache directory are read. */
  env: EnvLike;
  /** The file store's directory (default: the cache directory the environment names). */
  cacheDir?: string;
  /** Receives quarantine warnings (default `console.error`). */
  onWarning?: (message: string) => void;
  /** Redis timeouts (default 2 s each): per command, for a usable connection and for a reply. */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/** An opened store. */
export interface OpenedStore {
  /** The root store (namespace it per profile/user as usual). */
  store: CacheStore;
  kind: "file" | "redis";
  /** Where it is, without credentials: the directory, or the Redis URL and prefix. */
  describe: string;
  /**
   * Readiness probe: resolves when the store can be used (Redis answers PING and the key canary
   * opens; the cache directory is writable); throws `store_unavailable` or `store_key_mismatch`
   * (Redis) or the cache directory's ConfigError.
   */
  check(): Promise<void>;
  /** Release the connection (no-op for the file store). */
  close(): Promise<void>;
}

/** The variables read here. */
export const STORE_ENV_NAMES = ["MCS_STORE", "MCS_STORE_KEY", "MCS_STORE_PREFIX"] as const;

const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/** True when the environment selects a shared (Redis) store. */
export function wantsSharedStore(env: EnvLike): boolean {
  return Boolean(env.get("MCS_STORE")?.trim());
}

/**
 * Open the store the environment selects.
 * @throws {ConfigError} `store_url_invalid`, `missing_setting` / `store_key_invalid` (the key),
 * `store_prefix_invalid`, `store_key_mismatch` (a key id's bytes differ from the store's).
 */
export async function openStore(options: OpenStoreOptions): Promise<OpenedStore> {
  const url = options.env.get("MCS_STORE")?.trim();
  if (!url) {
    const { FileCacheStore } = await import("./file_store.ts");
    const { ensureWritable, resolveCacheDir } = await import("./dir.ts");
    const dir = options.cacheDir ?? resolveCacheDir(options.env);
    const store = new FileCacheStore(dir, { onWarning: options.onWarning });
    return {
      store,
      kind: "file",
      describe: dir,
      check: () => ensureWritable(dir), // a few file-system calls; cache_dir_* ConfigError
      close: () => Promise.resolve(),
    };
  }
  const { connectRedis } = await import("./redis_connection.ts");
  const redis = connectRedis(url, options); // validates the URL first
  const prefix = options.env.get("MCS_STORE_PREFIX")?.trim() || undefined;
  if (prefix !== undefined && !PREFIX.test(prefix)) {
    throw new ConfigError(
      "store_prefix_invalid",
      "MCS_STORE_PREFIX must be 1 to 64 of A-Z a-z 0-9 _ . : - (e.g. team-a:).",
      { details: { env: "MCS_STORE_PREFIX" } },
    );
  }
  const { parseStoreKeys, Sealer } = await import("./seal.ts");
  const sealer = new Sealer(await parseStoreKeys(options.env.get("MCS_STORE_KEY")));
  const { RedisCacheStore, DEFAULT_PREFIX } = await import("./redis_store.ts");
  const { KeyCanary } = await import("./key_canary.ts");
  const canary = new KeyCanary(redis, sealer, prefix ?? DEFAULT_PREFIX);
  try {
    await canary.ready();
  } catch (e) {
    // Only a proven mismatch refuses the start; Redis trouble is the store's to report later.
    if (e instanceof McsError && e.code === "store_key_mismatch") {
      await redis.close();
      throw e;
    }
  }
  const store = new RedisCacheStore(redis, {
    sealer,
    prefix,
    onWarning: options.onWarning,
    ready: () => canary.ready(),
  });
  return {
    store,
    kind: "redis",
    describe: `${redis.where} (prefix ${prefix ?? DEFAULT_PREFIX})`,
    check: async () => {
      await redis.send(["PING"]);
      await canary.check();
    },
    close: () => redis.close(),
  };
}
