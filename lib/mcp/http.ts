/**
 * `mcs serve`'s HTTP side: MCP Streamable HTTP at `/mcp` (POST, GET and DELETE,
 * `Mcp-Session-Id`) on the SDK's web-standard transport, behind two gates.
 *
 * Guarantees:
 * - Origin (DNS rebinding, as the spec requires): a request with an `Origin` header is served
 *   only when that origin is on a loopback host (`localhost`, `127.0.0.1`, `[::1]`) or listed in
 *   `allowedOrigins`; anything else gets 403 before any other work. Requests without `Origin`
 *   (non-browser clients) pass this gate.
 * - Key: with `apiKey` set, every request needs `Authorization: Bearer <key>`, compared in
 *   constant time (SHA-256 of both sides, then a full XOR over the digests), else 401 with
 *   `WWW-Authenticate: Bearer`. {@link checkBind} refuses a non-loopback address without a key.
 * - Sessions: an `initialize` POST opens a session (a fresh MCP server sharing the process's
 *   tool runner, so setup is cheap); later requests carry its `Mcp-Session-Id`; DELETE ends it;
 *   an unknown id gets 404 (the client re-initializes). Sessions idle for `idleMs` are closed.
 * - Stateless requests: a POST without a session id that is not `initialize` is served by a
 *   one-shot server (plain JSON response), so hosts that skip the handshake still work.
 *
 * @example
 * ```ts
 * import { checkBind, mcpHttpHandler } from "./http.ts";
 * import { createMcpServer } from "./server.ts";
 * declare const options: Parameters<typeof createMcpServer>[0];
 * checkBind("127.0.0.1", undefined); // loopback: fine without a key
 * const http = mcpHttpHandler({ newServer: () => createMcpServer(options) });
 * Deno.serve({ hostname: "127.0.0.1", port: 8765 }, http.handler);
 * ```
 * @module
 */

import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { ConfigError } from "../errors.ts";

// The SDK's values come through one dynamic import (lib/mcp/sdk.ts): the bundle keeps them in
// a file that only `mcs mcp` and `mcs serve` read.
const sdk = await import("mcp-sdk");

/** Options of {@link mcpHttpHandler}. */
export interface McpHttpOptions {
  /** A fresh MCP server (one per session, or per stateless request). */
  newServer(): Server;
  /** The bearer key every request must present (`MCS_SERVE_API_KEY`); none: no key check. */
  apiKey?: string;
  /** Browser origins allowed besides loopback ones, e.g. `https://chat.example.com`. */
  allowedOrigins?: string[];
  /** Close sessions idle this long (default 30 min). */
  idleMs?: number;
  /** Log line (stderr). */
  log?(text: string): void;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** Whether `host` is a loopback name or address. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Refuse to listen on a non-loopback address without a key: anyone on the network could read
 * and send the user's mail.
 * @throws {ConfigError} `serve_api_key_required`
 */
export function checkBind(host: string, apiKey: string | undefined): void {
  if (isLoopback(host) || apiKey) return;
  throw new ConfigError(
    "serve_api_key_required",
    `Refusing to listen on ${host} without a key: anyone who can reach it could use the mailbox. ` +
      "Set MCS_SERVE_API_KEY (clients then send Authorization: Bearer <key>), or listen on " +
      "127.0.0.1.",
    { details: { host, env: "MCS_SERVE_API_KEY" } },
  );
}

async function digest(s: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
}

/** The digest of the configured key, computed once per key (the request's own is per call). */
let expectedDigest: { secret: string; digest: Promise<Uint8Array> } | undefined;

/** Compare two secrets in time independent of where (or whether) they differ. */
export async function sameSecret(given: string, expected: string): Promise<boolean> {
  if (expectedDigest?.secret !== expected) {
    expectedDigest = { secret: expected, digest: digest(expected) };
  }
  const [a, b] = await Promise.all([digest(given), expectedDigest.digest]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function jsonRpcError(status: number, code: number, message: string, headers = {}): Response {
  return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function originAllowed(origin: string, allowed: string[]): boolean {
  if (allowed.includes(origin)) return true;
  try {
    return isLoopback(new URL(origin).hostname);
  } catch {
    return false;
  }
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: Server;
  lastUsed: number;
}

/** The request handler for `Deno.serve`, and `close()` to end every session. */
export function mcpHttpHandler(options: McpHttpOptions): {
  handler(req: Request): Promise<Response>;
  close(): Promise<void>;
} {
  const sessions = new Map<string, Session>();
  const allowed = options.allowedOrigins ?? [];
  const idleMs = options.idleMs ?? 30 * 60_000;

  const sweep = () => {
    const now = Date.now();
    for (const [id, s] of sessions) {
      if (now - s.lastUsed > idleMs) {
        sessions.delete(id);
        s.server.close().catch(() => {});
      }
    }
  };

  const openSession = async (req: Request, body: unknown): Promise<Response> => {
    sweep();
    const server = options.newServer();
    let session: Session | undefined;
    const transport = new sdk.WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      onsessioninitialized: (id: string) => {
        session = { transport, server, lastUsed: Date.now() };
        sessions.set(id, session);
      },
      onsessionclosed: (id: string) => {
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return await transport.handleRequest(req, { parsedBody: body });
  };

  const stateless = async (req: Request, body: unknown): Promise<Response> => {
    const server = options.newServer();
    const transport = new sdk.WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    await server.connect(transport);
    try {
      return await transport.handleRequest(req, { parsedBody: body });
    } finally {
      server.close().catch(() => {});
    }
  };

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname !== "/mcp") {
      return new Response("Not found: the MCP endpoint is /mcp\n", { status: 404 });
    }
    const origin = req.headers.get("origin");
    if (origin !== null && !originAllowed(origin, allowed)) {
      options.log?.(`refused a request from origin ${JSON.stringify(origin)} (403)`);
      return jsonRpcError(403, -32000, `Forbidden: origin ${origin} is not allowed`);
    }
    if (options.apiKey !== undefined) {
      const auth = req.headers.get("authorization") ?? "";
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      if (!m || !(await sameSecret(m[1].trim(), options.apiKey))) {
        return jsonRpcError(
          401,
          -32001,
          "Unauthorized: send Authorization: Bearer <MCS_SERVE_API_KEY>",
          {
            "www-authenticate": 'Bearer realm="mcs"',
          },
        );
      }
    }
    const sid = req.headers.get("mcp-session-id");
    if (sid !== null) {
      const session = sessions.get(sid);
      if (!session) return jsonRpcError(404, -32001, "Session not found: initialize again");
      session.lastUsed = Date.now();
      return await session.transport.handleRequest(req);
    }
    if (req.method !== "POST") {
      return jsonRpcError(400, -32000, "Bad request: Mcp-Session-Id header required");
    }
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return jsonRpcError(400, -32700, "Parse error: the body is not JSON");
    }
    const messages = Array.isArray(body) ? body : [body];
    if (messages.some((m) => sdk.isInitializeRequest(m))) return await openSession(req, body);
    return await stateless(req, body);
  };

  return {
    handler,
    async close() {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(all.map((s) => s.server.close().catch(() => {})));
    },
  };
}
