/**
 * Test helpers for `mcs serve`'s HTTP side: the real CLI in its own process (its base URL read
 * from stderr), plain `fetch` requests, Open WebUI's signed user header, and the exit status.
 *
 * @example
 * ```ts
 * import { startServe } from "./_serve.ts";
 * await using srv = await startServe({ MCS_AUTH: "static" });
 * const r = await srv.post("/tools/list_labels", {});
 * ```
 * @module
 */

import { SignJWT } from "jose";
import { mcsArgs, mcsEnv, ROOT_PATH } from "../cli/_mcs.ts";

/** A running `mcs serve`. */
export interface Serve {
  base: string;
  /** The process id. */
  pid: number;
  readonly stderr: string;
  /** `fetch(base + path)`. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** POST a JSON body to `path`. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Send `signal` and wait for the exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** The JSON access-log lines so far. */
  accessLog(): Record<string, unknown>[];
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Start `mcs serve --port 0 ...args` with only `env` (plus the toolchain's). `denoFlags` go to
 * `deno run` before the script (the bench's `--cpu-prof`).
 */
export async function startServe(
  env: Record<string, string>,
  args: string[] = [],
  denoFlags: string[] = [],
): Promise<Serve> {
  const child = new Deno.Command(Deno.execPath(), {
    args: mcsArgs(["serve", "--port", "0", ...args], ["-P=mcs", ...denoFlags]),
    cwd: ROOT_PATH,
    env: mcsEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let stderr = "";
  let base: string | undefined;
  while (!base) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`mcs serve ended before listening: ${stderr}`);
    stderr += value;
    base = /MCP on (http:\/\/[^/\s]+)\/mcp/.exec(stderr)?.[1];
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      stderr += value;
    }
  })();
  let status: Promise<Deno.CommandStatus> | undefined;
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (!status) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      status = child.status;
    }
    const s = await status;
    await rest;
    await stdout;
    return s;
  };
  const request = (path: string, init: RequestInit = {}) => fetch(base + path, init);
  return {
    base,
    pid: child.pid,
    get stderr() {
      return stderr;
    },
    request,
    post: (path, body, headers = {}) =>
      request(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      }),
    stop,
    accessLog: () => stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)),
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** An Open WebUI user token (HS256, issuer open-webui), as `FORWARD_USER_INFO_HEADER_JWT_SECRET` makes. */
export async function userJwt(
  secret: string,
  sub: string,
  o: { expiresIn?: string | number; issuer?: string } = {},
): Promise<string> {
  return await new SignJWT({ email: `${sub}@example.com`, name: sub, role: "user" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuer(o.issuer ?? "open-webui")
    .setIssuedAt()
    .setExpirationTime(o.expiresIn ?? "300s")
    .sign(new TextEncoder().encode(secret));
}
