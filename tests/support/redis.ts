/**
 * A real `redis-server` (the Debian package) for tests: started on a free loopback port in a
 * temporary directory, without persistence, and stopped (and the directory removed) on dispose.
 * `stop()` and `start()` simulate an outage on the same port. Tests declare the requirement with
 * {@link redisServer} so they skip without the binary locally and fail under CI (`.ci/run`
 * installs it).
 *
 * @example
 * ```ts
 * import { redisServer, startRedis } from "./redis.ts";
 * import { testRequiring } from "./requires.ts";
 * testRequiring(redisServer, {
 *   name: "uses redis",
 *   async fn() {
 *     await using redis = await startRedis();
 *     redis.url; // redis://127.0.0.1:<port>/0
 *     await redis.stop(); // an outage
 *     await redis.start(); // back on the same port (empty: no persistence)
 *     redis.pause(); // hung: commands time out
 *     redis.resume(); // back, data intact
 *   },
 * });
 * ```
 * @module
 */

import { freePort } from "./ports.ts";
import { requires } from "./requires.ts";

/** The binary (Debian's `redis-server` package). */
export const REDIS_SERVER = "/usr/bin/redis-server";

/** The requirement for tests that need a real Redis. */
export const redisServer = requires(
  "redis-server",
  await Deno.stat(REDIS_SERVER).then((s) => s.isFile, () => false),
);

/** A running test Redis. */
export interface TestRedis extends AsyncDisposable {
  /** `redis://127.0.0.1:<port>/0` (with `:password@` when started with one). */
  readonly url: string;
  readonly port: number;
  /** Stop the server (SIGTERM, waits for exit). */
  stop(): Promise<void>;
  /** Start it again on the same port (its data is gone: no persistence). */
  start(): Promise<void>;
  /** Freeze the server (SIGSTOP): connections stay open, nothing answers (a hung Redis). */
  pause(): void;
  /** Let a paused server run again (SIGCONT), its data intact. */
  resume(): void;
  /** Send one command over a fresh raw connection (for assertions on raw values). */
  command(...args: string[]): Promise<unknown>;
}

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** `requirepass`: the URL then carries it. */
  password?: string;
}

/** Start a `redis-server` on a free port; dispose to stop it and remove its directory. */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  const dir = await Deno.makeTempDir({ prefix: "mcs-redis-" });
  let port = freePort();
  let proc: Deno.ChildProcess | undefined;
  const args = () => [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--logfile",
    `${dir}/redis.log`,
    ...(options.password ? ["--requirepass", options.password] : []),
  ];
  const command = (...cmd: string[]) => resp(port, options.password, cmd);
  /** Start on `port`; false when the server exited (the port was taken meanwhile). */
  const launch = async (): Promise<boolean> => {
    const p = new Deno.Command(REDIS_SERVER, {
      args: args(),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    proc = p;
    let exited = false;
    p.status.then(() => exited = true);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exited) {
        proc = undefined;
        return false;
      }
      try {
        // Ours, not another test's server that took the port: it works in our directory.
        const reply = await command("CONFIG", "GET", "dir") as string[];
        if (reply[1] === dir || reply[1] === await Deno.realPath(dir)) return true;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        const log = await Deno.readTextFile(`${dir}/redis.log`).catch(() => "");
        throw new Error(`redis-server did not start on port ${port}:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const start = async () => {
    if (!await launch()) throw new Error(`redis-server could not listen on ${port} again`);
  };
  const stop = async () => {
    if (!proc) return;
    const p = proc;
    proc = undefined;
    try {
      p.kill("SIGTERM");
    } catch {
      // already gone
    }
    await p.status;
  };
  for (let attempt = 0; !await launch(); attempt++) {
    if (attempt >= 4) throw new Error("redis-server found no free port");
    port = freePort();
  }
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  return {
    url: `redis://${auth}127.0.0.1:${port}/0`,
    port,
    stop,
    start,
    pause: () => proc?.kill("SIGSTOP"),
    resume: () => proc?.kill("SIGCONT"),
    command,
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Send one command over a fresh connection and decode the reply (RESP2, enough for tests). */
async function resp(port: number, password: string | undefined, cmd: string[]): Promise<unknown> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const enc = new TextEncoder();
    const frame = (a: string[]) =>
      `*${a.length}\r\n` + a.map((x) => `$${enc.encode(x).length}\r\n${x}\r\n`).join("");
    const out = (password ? frame(["AUTH", password]) : "") + frame(cmd);
    await conn.write(enc.encode(out));
    const reader = new Reader(conn);
    if (password) await reader.reply();
    return await reader.reply();
  } finally {
    conn.close();
  }
}

class Reader {
  #buf = new Uint8Array(0);
  #conn: Deno.Conn;
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  async #fill(): Promise<void> {
    const chunk = new Uint8Array(65536);
    const n = await this.#conn.read(chunk);
    if (n === null) throw new Error("connection closed");
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
  }
  async #line(): Promise<string> {
    for (;;) {
      const i = this.#buf.findIndex((b, j) => b === 13 && this.#buf[j + 1] === 10);
      if (i >= 0) {
        const line = new TextDecoder().decode(this.#buf.subarray(0, i));
        this.#buf = this.#buf.subarray(i + 2);
        return line;
      }
      await this.#fill();
    }
  }
  async #bytes(n: number): Promise<string> {
    while (this.#buf.length < n + 2) await this.#fill();
    const s = new TextDecoder().decode(this.#buf.subarray(0, n));
    this.#buf = this.#buf.subarray(n + 2);
    return s;
  }
  async reply(): Promise<unknown> {
    const line = await this.#line();
    const body = line.slice(1);
    switch (line[0]) {
      case "+":
        return body;
      case "-":
        throw new Error(`redis: ${body}`);
      case ":":
        return Number(body);
      case "$":
        return Number(body) < 0 ? null : await this.#bytes(Number(body));
      case "*": {
        const n = Number(body);
        if (n < 0) return null;
        const out: unknown[] = [];
        for (let i = 0; i < n; i++) out.push(await this.reply());
        return out;
      }
      default:
        throw new Error(`redis: unexpected reply ${line}`);
    }
  }
}

/** Every key in the Redis (SCAN) with its raw string value (non-strings omitted). */
export async function dumpStrings(redis: TestRedis): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.command("SCAN", cursor, "COUNT", "1000") as [string, string[]];
    cursor = next;
    for (const k of keys) {
      const v = await redis.command("GET", k).catch(() => null);
      if (typeof v === "string") out.set(k, v);
    }
  } while (cursor !== "0");
  return out;
}
