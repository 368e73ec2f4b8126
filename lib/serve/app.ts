/**
 * `mcs serve`'s HTTP application: one handler for `Deno.serve` that routes
 *
 * | route | what |
 * | --- | --- |
 * | `GET /healthz` | 200 while the process runs |
 * | `GET /readyz` | 200 when the store answers a write and read of a probe key, else 503 (`store_key_mismatch` when the store's key canary does not open here) |
 * | `GET /openapi.json` | the OpenAPI 3.1 document (`./openapi.ts`), no auth, built once |
 * | `POST /tools/<name>` | runs the tool (OpenAPI tool servers: Open WebUI) |
 * | `/mcp` | MCP Streamable HTTP (`lib/mcp/http.ts`), the user's own sessions |
 *
 * Guarantees:
 * - Gates, in order, for `/tools` and `/mcp`: Origin (a browser `Origin` must be loopback, in
 *   `allowedOrigins` or in `corsOrigins`, else 403), then the key and the user
 *   (`./identity.ts`), then the user's concurrency cap (429 with `Retry-After`), then the body
 *   size (413, counted while reading, whatever `Content-Length` claims).
 * - A tool call answers its result object (200); a failure the status of `./responses.ts` with
 *   the CLI contract's error document; a step the user must do a 200 `auth_required` document
 *   whose `message` the model can relay as is (link, code, "then ask again"). A call never waits
 *   for the user.
 * - Per user (team mode): the scope `scope(user)` builds (own runner, App and MCP sessions), kept
 *   by a {@link UserPool}; single-user mode has one scope.
 * - CORS is off unless `corsOrigins` is set; then preflights from those origins (only) are
 *   answered, allowing `authorization, content-type, x-session-id` (and MCP's session headers).
 * - Access log: one JSON line per request (`method`, `path`, `status`, `ms`, `user` hash) and
 *   nothing else: no query string, header, token or key.
 * - {@link ServeApp.drain} waits for the calls in flight (bounded), for a graceful SIGTERM.
 *
 * @example
 * ```ts
 * import { serveApp } from "./app.ts";
 * declare const options: Parameters<typeof serveApp>[0];
 * const app = serveApp(options);
 * const server = Deno.serve({ port: 8765 }, app.handler);
 * // on SIGTERM: server.shutdown(); await app.drain(25_000); await app.close();
 * ```
 * @module
 */

import { AuthChallenge } from "../auth/types.ts";
import { McsError } from "../errors.ts";
import { toolByName } from "../tools/catalog.ts";
import type { McpTool } from "../mcp/tools.ts";
import { challengeText } from "../mcp/server.ts";
import { isLoopback } from "../mcp/http.ts";
import { type CallerPolicy, identify, teamMode } from "./identity.ts";
import { openApiDocument } from "./openapi.ts";
import { errorResponse, json, retryAfterOf, statusOf } from "./responses.ts";
import { UserPool } from "./users.ts";
import { readCapped } from "../net/read_capped.ts";

/** One user's (or the single user's) tools and MCP endpoint. */
export interface UserScope {
  /** Validate and run a tool; throws McsError or AuthChallenge. */
  call(name: string, args: unknown, signal: AbortSignal): Promise<unknown>;
  /** Serve one `/mcp` request (gates already passed). */
  mcp(req: Request): Promise<Response>;
  close(): Promise<void>;
}

/** Options of {@link serveApp}. */
export interface ServeAppOptions {
  version: string;
  /** The tools the OpenAPI document lists. */
  tools: readonly McpTool[];
  policy: CallerPolicy;
  /** `MCS_SERVE_CORS_ORIGINS`: browser origins answered with CORS headers. */
  corsOrigins?: string[];
  /** `MCS_SERVE_ALLOWED_ORIGINS`: browser origins allowed besides loopback ones (no CORS). */
  allowedOrigins?: string[];
  /** Largest request body in bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Requests in flight per user (default 8). */
  maxConcurrent?: number;
  /** Warm user scopes kept at once (default 200) and their idle time (default 30 min). */
  maxUsers?: number;
  idleMs?: number;
  /** The scope of a user hash (team mode) or of the single user (`undefined`). */
  scope(user: string | undefined): UserScope;
  /** The CLI contract's document for a thrown value (`failure(e).doc`). */
  describe(e: unknown): Record<string, unknown>;
  /** Write and read a probe key in the store; throws when it cannot. */
  probe(): Promise<void>;
  /** One access-log line (JSON, no newline). */
  log(line: string): void;
  /** A note for the operator (a refused origin), plain text. */
  warn?(text: string): void;
}

/** The application. */
export interface ServeApp {
  handler(req: Request): Promise<Response>;
  /**
   * Count `work` as a call in flight until it settles (for {@link ServeApp.drain}): MCP calls
   * whose response streams outlive their HTTP handler go through here.
   */
  track<T>(work: Promise<T>): Promise<T>;
  /** Wait until no call is in flight, at most `ms`; true when drained. */
  drain(ms: number): Promise<boolean>;
  /** Close every scope (their MCP sessions and connections). */
  close(): Promise<void>;
}

const CORS_ALLOW_HEADERS =
  "authorization, content-type, x-session-id, mcp-session-id, mcp-protocol-version, last-event-id";

class TooLarge extends Error {}

/** Read the body, refusing more than `max` bytes. */
async function readLimited(req: Request, max: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (declared > max) throw new TooLarge();
  if (!req.body) return new Uint8Array();
  // A declared length is the body's framing (HTTP/1.1 reads exactly that many bytes, HTTP/2
  // refuses a mismatch): read it whole on the runtime's native path. Only a body without one
  // (chunked) is counted chunk by chunk.
  if (Number.isSafeInteger(declared) && declared >= 0) {
    const whole = new Uint8Array(await req.arrayBuffer());
    if (whole.byteLength > max) throw new TooLarge();
    return whole;
  }
  const read = await readCapped(req.body, max);
  if (!read) throw new TooLarge();
  return read;
}

function jsonRpcError(status: number, message: string, headers = {}): Response {
  return json(status, { jsonrpc: "2.0", error: { code: -32000, message }, id: null }, headers);
}

/** Build the application. */
export function serveApp(options: ServeAppOptions): ServeApp {
  const cors = new Set(options.corsOrigins ?? []);
  const allowed = new Set([...(options.allowedOrigins ?? []), ...cors]);
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const team = teamMode(options.policy);
  const pool = new UserPool<UserScope>((user) => options.scope(team ? user : undefined), {
    maxConcurrent: options.maxConcurrent,
    maxUsers: options.maxUsers,
    idleMs: options.idleMs,
  });
  const openapi = JSON.stringify(openApiDocument({
    tools: options.tools,
    version: options.version,
    key: options.policy.apiKey !== undefined,
  }));
  let inflight = 0;
  let idle: (() => void)[] = [];

  const settled = () => {
    if (--inflight > 0) return;
    const waiting = idle;
    idle = [];
    for (const w of waiting) w();
  };

  const originOk = (origin: string) => {
    if (allowed.has(origin)) return true;
    try {
      return isLoopback(new URL(origin).hostname);
    } catch {
      return false;
    }
  };

  const corsHeaders = (origin: string | null): Record<string, string> =>
    origin !== null && cors.has(origin)
      ? {
        "access-control-allow-origin": origin,
        "access-control-expose-headers": "mcp-session-id",
        vary: "Origin",
      }
      : {};

  const runTool = async (
    scope: UserScope,
    name: string,
    body: Uint8Array,
    signal: AbortSignal,
  ): Promise<Response> => {
    let args: unknown = {};
    const text = new TextDecoder().decode(body).trim();
    if (text) {
      try {
        args = JSON.parse(text);
      } catch {
        return errorResponse(
          400,
          "invalid_json",
          "The request body is not JSON: send the tool's arguments as a JSON object.",
        );
      }
    }
    try {
      return json(200, await scope.call(name, args, signal));
    } catch (e) {
      const doc = options.describe(e);
      if (e instanceof AuthChallenge || doc.auth_required === true) {
        return json(200, { ...doc, message: challengeText(name, doc) });
      }
      return json(statusOf(e), doc, retryAfterOf(e));
    }
  };

  const route = async (req: Request, who: { user?: string }): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname;
    const origin = req.headers.get("origin");
    if (req.method === "OPTIONS") {
      if (origin === null || !cors.has(origin)) {
        return new Response(null, { status: cors.size ? 403 : 405 });
      }
      return new Response(null, {
        status: 204,
        headers: {
          ...corsHeaders(origin),
          "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
          "access-control-allow-headers": CORS_ALLOW_HEADERS,
          "access-control-max-age": "600",
        },
      });
    }
    if (req.method === "GET" && path === "/healthz") return json(200, { ok: true });
    if (req.method === "GET" && path === "/readyz") {
      try {
        await options.probe();
        return json(200, { ok: true });
      } catch (e) {
        // A replica whose store key differs from the others' must be taken out, and say why.
        if (e instanceof McsError && e.code === "store_key_mismatch") {
          return errorResponse(503, e.code, e.message);
        }
        return errorResponse(
          503,
          "serve_store_unavailable",
          "The state store does not answer (a probe write and read failed); retry later.",
        );
      }
    }
    if (req.method === "GET" && path === "/openapi.json") {
      return new Response(openapi, {
        headers: { "content-type": "application/json", ...corsHeaders(origin) },
      });
    }
    const isMcp = path === "/mcp";
    let tool: string | undefined;
    try {
      tool = path.startsWith("/tools/") ? decodeURIComponent(path.slice(7)) : undefined;
    } catch {
      tool = path.slice(7); // not valid percent-encoding: no tool has that name (404 below)
    }
    if (!isMcp && tool === undefined) {
      return errorResponse(404, "not_found", `Not found: ${path}. See GET /openapi.json and /mcp.`);
    }
    const fail = (status: number, code: string, message: string, headers = {}) =>
      isMcp
        ? jsonRpcError(status, message, headers)
        : errorResponse(status, code, message, headers);
    if (origin !== null && !originOk(origin)) {
      options.warn?.(`refused a request from origin ${JSON.stringify(origin)} (403)`);
      return fail(403, "serve_origin_forbidden", `Forbidden: origin ${origin} is not allowed.`);
    }
    const caller = await identify(req, options.policy);
    if (!caller.ok) {
      return isMcp
        ? jsonRpcError(caller.status, caller.doc.error.message, caller.headers)
        : json(caller.status, caller.doc, caller.headers ?? {});
    }
    who.user = caller.user;
    if (tool !== undefined) {
      if (req.method !== "POST") {
        return fail(405, "method_not_allowed", "Use POST with the tool's arguments as JSON.", {
          allow: "POST",
        });
      }
      if (!toolByName(tool)) {
        return fail(404, "tool_not_found", `Unknown tool ${tool}: see GET /openapi.json.`);
      }
    }
    const slot = pool.enter(caller.user ?? "");
    if (!slot) {
      return fail(
        429,
        "serve_too_many_calls",
        "Too many calls in flight for this user: retry in a moment.",
        { "retry-after": "1" },
      );
    }
    inflight++;
    try {
      let body: Uint8Array<ArrayBuffer>;
      try {
        body = req.method === "POST" ? await readLimited(req, maxBody) : new Uint8Array();
      } catch (e) {
        if (!(e instanceof TooLarge)) throw e;
        return fail(413, "serve_body_too_large", `Request body larger than ${maxBody} bytes.`);
      }
      if (tool !== undefined) return await runTool(slot.scope, tool, body, req.signal);
      const forward = new Request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.method === "POST" ? body : undefined,
        signal: req.signal,
      });
      return await slot.scope.mcp(forward);
    } finally {
      slot.leave();
      settled();
    }
  };

  return {
    async handler(req) {
      const start = performance.now();
      const who: { user?: string } = {};
      let status = 500;
      try {
        const res = await route(req, who);
        status = res.status;
        const origin = req.headers.get("origin");
        if (req.method !== "OPTIONS" && origin !== null && cors.has(origin)) {
          const headers = new Headers(res.headers);
          for (const [k, v] of Object.entries(corsHeaders(origin))) headers.set(k, v);
          return new Response(res.body, {
            status: res.status,
            statusText: res.statusText,
            headers,
          });
        }
        return res;
      } catch (e) {
        status = 500;
        return json(500, options.describe(e));
      } finally {
        options.log(JSON.stringify({
          time: new Date().toISOString(),
          method: req.method,
          path: new URL(req.url).pathname,
          status,
          ms: Math.round((performance.now() - start) * 10) / 10,
          user: who.user ?? null,
        }));
      }
    },
    track(work) {
      inflight++;
      return work.finally(settled);
    },
    drain(ms) {
      if (inflight === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), ms);
        idle.push(() => {
          clearTimeout(t);
          resolve(true);
        });
      });
    },
    close: () => pool.close(),
  };
}
