/**
 * {@link connectRedis}: one Redis connection for {@link RedisCacheStore}, on `@redis/client`
 * (loaded with a dynamic `import()` on the first command, so nothing else ever pays for it).
 *
 * Guarantees:
 * - **Nothing hangs**: a command waits at most `connectTimeoutMs` for the connection to be ready,
 *   then at most `commandTimeoutMs` for its reply (commands are never queued while offline).
 *   Past either, it fails with `store_unavailable` (retryable), which names the store
 *   (`redis://host:port/db`, never the password) and the last connection error, and says what to
 *   check.
 * - **Recovers by itself**: the client reconnects in the background (50 ms doubling to a quarter
 *   of `connectTimeoutMs` between attempts), so the first command after Redis comes back works;
 *   nothing to restart.
 * - The URL's password never appears in messages or logs: {@link redactRedisUrl}.
 * - An error reply from Redis is `store_command_failed` with Redis's own text.
 *
 * @example
 * ```ts
 * import { connectRedis } from "./redis_connection.ts";
 * const redis = connectRedis("redis://:secret@127.0.0.1:6379/0");
 * redis.where; // "redis://127.0.0.1:6379/0"
 * await redis.send(["PING"]); // "PONG", or store_unavailable
 * await redis.close();
 * ```
 * @module
 */

import { ConfigError, McsError } from "../errors.ts";
import type { RedisCommands } from "./redis_store.ts";

/** Options of {@link connectRedis}. */
export interface RedisConnectionOptions {
  /** Longest wait for a usable connection per command (default 2 s). */
  connectTimeoutMs?: number;
  /** Longest wait for a command's reply (default 2 s). */
  commandTimeoutMs?: number;
}

/** A Redis connection: {@link RedisCommands} plus `close`. */
export interface RedisConnection extends RedisCommands {
  /** Close the connection (pending commands fail). */
  close(): Promise<void>;
}

/** The environment variable naming the store. */
export const STORE_ENV = "MCS_STORE";

/**
 * Check a Redis URL (`redis://` or `rediss://`, host, optional port, optional `/db`) and return it
 * without its password, for messages.
 * @throws {ConfigError} `store_url_invalid` (the message never repeats the password).
 */
export function redactRedisUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badUrl("it is not a URL");
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw badUrl(`scheme ${u.protocol} is not redis: or rediss:`);
  }
  if (!u.hostname) throw badUrl("it names no host");
  if (u.pathname !== "" && u.pathname !== "/" && !/^\/\d+$/.test(u.pathname)) {
    throw badUrl("the path must be a database number (/0)");
  }
  const db = /^\/\d+$/.test(u.pathname) ? u.pathname : "/0";
  const user = u.username ? `${decodeURIComponent(u.username)}@` : "";
  return `${u.protocol}//${user}${u.host.includes(":") ? u.host : `${u.host}:6379`}${db}`;
}

function badUrl(why: string): ConfigError {
  return new ConfigError(
    "store_url_invalid",
    `${STORE_ENV} is not a Redis URL (${why}); use redis://[:password@]host:port/db or ` +
      "rediss://... for TLS.",
    { details: { env: STORE_ENV } },
  );
}

type Client = {
  isReady: boolean;
  on(event: string, fn: (arg: unknown) => void): unknown;
  off(event: string, fn: (arg: unknown) => void): unknown;
  connect(): Promise<unknown>;
  destroy(): void;
  sendCommand(
    args: string[],
    options: { timeout: number; rejectInFlight: boolean },
  ): Promise<unknown>;
};

/**
 * A lazy connection to `url`: nothing is loaded or sent until the first command.
 * @throws {ConfigError} `store_url_invalid` for a URL that is not redis:// or rediss://.
 */
export function connectRedis(url: string, options: RedisConnectionOptions = {}): RedisConnection {
  const where = redactRedisUrl(url);
  const password = (() => {
    const u = new URL(url);
    return u.password ? decodeURIComponent(u.password) : undefined;
  })();
  const connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
  const commandTimeoutMs = options.commandTimeoutMs ?? 2_000;
  const reconnectCapMs = Math.max(100, Math.floor(connectTimeoutMs / 4));
  let client: Promise<Client> | undefined;
  let isReply: (e: unknown) => boolean = () => false;
  let connecting: Promise<unknown> | undefined;
  let lastError = "no connection yet";
  let closed = false;
  const scrub = (text: string) => password ? text.replaceAll(password, "***") : text;

  const load = (): Promise<Client> =>
    client ??= import("@redis/client").then(({ createClient, ErrorReply }) => {
      isReply = (e) => e instanceof ErrorReply;
      const c = createClient({
        url,
        disableOfflineQueue: true,
        socket: {
          connectTimeout: connectTimeoutMs,
          // Retry often enough that a command waiting `connectTimeoutMs` sees a retry after
          // Redis is back: 50 ms doubling up to a quarter of that wait.
          reconnectStrategy: (retries: number) =>
            Math.min(50 * 2 ** Math.min(retries, 6), reconnectCapMs) +
            Math.floor(Math.random() * 50),
        },
      }) as unknown as Client;
      c.on("error", (e) => { // without a listener the client would throw
        lastError = scrub(e instanceof Error ? e.message || e.constructor.name : String(e));
      });
      return c;
    });

  const unavailable = (why: string, cause?: unknown) =>
    new McsError(
      "store_unavailable",
      `The state store (Redis at ${where}) is unavailable: ${scrub(why)}. Check that Redis is ` +
        `running and reachable from here and that ${STORE_ENV} has the right host, port and ` +
        "password; mcs reconnects by itself, so run the command again once it is back.",
      "runtime",
      { retryable: true, cause, details: { store: where } },
    );

  /** Wait (bounded) for the client to be ready; concurrent callers share one wait. */
  let readyWait: Promise<void> | undefined;
  const ready = (c: Client): Promise<void> => {
    if (c.isReady) return Promise.resolve();
    if (!connecting) {
      const p = c.connect();
      connecting = p;
      // connect() retries by itself until Redis answers; a rejection (closed) allows another try.
      p.catch(() => {
        if (connecting === p) connecting = undefined;
      });
    }
    return readyWait ??= new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        c.off("ready", done);
        readyWait = undefined;
        resolve();
      };
      const timer = setTimeout(done, connectTimeoutMs);
      c.on("ready", done);
    });
  };

  return {
    where,
    async send(args) {
      if (closed) throw unavailable("the connection was closed");
      const c = await load();
      await ready(c);
      if (!c.isReady) {
        throw unavailable(`no connection after ${connectTimeoutMs} ms (${lastError})`);
      }
      try {
        return await c.sendCommand([...args], { timeout: commandTimeoutMs, rejectInFlight: true });
      } catch (e) {
        const name = e instanceof Error ? e.constructor.name : "";
        const text = e instanceof Error ? e.message : String(e);
        if (isReply(e)) {
          throw new McsError(
            "store_command_failed",
            `Redis at ${where} refused a command (${args[0]}): ${scrub(text)}`,
            "runtime",
            { cause: e, details: { store: where } },
          );
        }
        throw unavailable(`${text || name}`, e);
      }
    },
    async close() {
      closed = true;
      if (client) (await client).destroy();
    },
  };
}
