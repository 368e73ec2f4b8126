/**
 * Test helpers for `mcs serve`: the real CLI in its own process (its base URL read from stderr;
 * the MCP endpoint for the SDK clients of `../mcp/_mcp.ts`), plain `fetch` requests, Open WebUI's signed user header, and the exit status.
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
import { type Ran, startMcs } from "../cli/_mcs.ts";

/** A running `mcs serve`. */
export interface Serve {
  base: string;
  /** The MCP endpoint, `base + "/mcp"`. */
  url: string;
  /** The process id. */
  pid: number;
  readonly stderr: string;
  /** `fetch(base + path)`. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** POST a JSON body to `path`. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** POST a JSON-RPC `body` to the MCP endpoint (JSON, accepting JSON or an event stream). */
  rpc(body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Send `signal` and wait for the exit. */
  stop(signal?: Deno.Signal): Promise<Ran>;
  /** The JSON access-log lines so far. */
  accessLog(): Record<string, unknown>[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** The `accept` header Streamable HTTP asks of a client's POST. */
export const MCP_ACCEPT = "application/json, text/event-stream";

/** A JSON-RPC `tools/call` of `name` (id 1 unless given). */
export function toolCall(name: string, args: Record<string, unknown> = {}, id = 1) {
  return { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } };
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
  const live = await startMcs(["serve", "--port", "0", ...args], /MCP on (http:\/\/[^/\s]+)\/mcp/, {
    env,
    denoFlags,
  });
  const base = live.ready[1];
  const request = (path: string, init: RequestInit = {}) => fetch(base + path, init);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  return {
    base,
    url: `${base}/mcp`,
    pid: live.pid,
    get stderr() {
      return live.stderr;
    },
    request,
    post,
    rpc: (body, headers = {}) => post("/mcp", body, { accept: MCP_ACCEPT, ...headers }),
    stop: live.stop,
    accessLog: () =>
      live.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)),
    [Symbol.asyncDispose]: () => live[Symbol.asyncDispose](),
  };
}

/** An Open WebUI user token (HS256, issuer open-webui), as `FORWARD_USER_INFO_HEADER_JWT_SECRET` makes. */
export async function userJwt(
  secret: string,
  sub: string,
  o: { expiresIn?: string | number; issuer?: string; issuedAt?: number } = {},
): Promise<string> {
  return await new SignJWT({ email: `${sub}@example.com`, name: sub, role: "user" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuer(o.issuer ?? "open-webui")
    .setIssuedAt(o.issuedAt)
    .setExpirationTime(o.expiresIn ?? "300s")
    .sign(new TextEncoder().encode(secret));
}

/** The signed user header of {@link userJwt} (`x-openwebui-user-jwt`) for `sub`. */
export async function asUser(secret: string, sub: string): Promise<Record<string, string>> {
  return { "x-openwebui-user-jwt": await userJwt(secret, sub) };
}
