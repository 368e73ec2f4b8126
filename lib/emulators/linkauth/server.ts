/**
 * The LinkAuth broker emulator's server: the route table (reference section 1, with Starlette's
 * HEAD, 404 and 405 answers), HSTS, and the test hooks of {@link LinkAuthBroker}. The routes
 * live in `sessions.ts`, `connect.ts`, `oauth.ts` and `relay.ts`; the state in `state.ts`.
 *
 * @example
 * ```ts
 * import { startLinkAuthBroker } from "./server.ts";
 * const broker = await startLinkAuthBroker({ apiKeys: ["k"] });
 * await broker.close();
 * ```
 * @module
 */
import { connectRoutes } from "./connect.ts";
import { type Ctx, type LinkAuthBrokerOptions, resolveConfig } from "./context.ts";
import { Outbox, sealResult } from "../../broker/delivery.ts";
import { ALGORITHM as ENVELOPE_ALGORITHM } from "../../broker/envelope.ts";
import { oauthRoutes } from "./oauth.ts";
import { pageAsset } from "../../broker/page.ts";
import { internalError, json } from "../../broker/problem.ts";
import type { SessionDraft } from "../../broker/protocol.ts";
import { relayRoutes } from "./relay.ts";
import { sessionRoutes } from "./sessions.ts";
import { CodeLimiter, type Session, SessionStore } from "./state.ts";

/**
 * A read-only view of a broker session (test hook): what its create request decided (less the
 * display name, fields and callback URL), its ids and state, and the poll interval in force.
 */
export type BrokerSessionView =
  & Omit<SessionDraft, "displayName" | "fields" | "callbackUrl">
  & Pick<Session, "sessionId" | "code" | "status" | "expiresAt" | "algorithm" | "pollCount">
  & { interval: number };

/** The running emulator. */
export interface LinkAuthBroker {
  /** Base URL, no trailing slash. */
  readonly url: string;
  close(): Promise<void>;
  /** Every live (unexpired, not cleaned up) session. */
  sessions(): BrokerSessionView[];
  /** One session by code (any case/hyphenation) or session id. */
  session(codeOrId: string): BrokerSessionView | undefined;
  /** Act as the user completing a form: encrypt `plaintext` to the agent key; status `ready`. */
  complete(codeOrId: string, plaintext: unknown): Promise<void>;
  /** Store a raw ciphertext/algorithm (tamper and wrong-algorithm tests); status `ready`. */
  inject(codeOrId: string, ciphertext: string, algorithm?: string): void;
  /** Make a session expire now. */
  expire(codeOrId: string): void;
  /** Requests the proxy relayed (method and URL only). */
  readonly proxyLog: ReadonlyArray<{ method: string; url: string }>;
  /** Resolves once every scheduled `callback_url` delivery (with its retries) has finished. */
  deliveriesSettled(): Promise<void>;
}

/** Start the emulator on 127.0.0.1. */
export function startLinkAuthBroker(
  options: LinkAuthBrokerOptions = {},
): Promise<LinkAuthBroker> {
  const now = options.now ?? Date.now;
  const config = resolveConfig(options);
  const upstream = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const ctx: Ctx = {
    config,
    now,
    upstream,
    sessions: new SessionStore({ now, cleanupMs: config.cleanupMs, codeLength: config.codeLength }),
    limiter: new CodeLimiter({
      now,
      limit: config.codeAttemptLimit,
      windowMs: config.codeAttemptWindowMs,
    }),
    outbox: new Outbox(upstream),
    proxyLog: [],
    base: "",
  };
  const sessions = sessionRoutes(ctx);
  const connect = connectRoutes(ctx);
  const oauth = oauthRoutes(ctx);
  const relay = relayRoutes(ctx);

  const handler = async (
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname;
    const client = info.remoteAddr.hostname;
    // Starlette answers HEAD on every GET route.
    const m = req.method === "HEAD" ? "GET" : req.method;
    const notAllowed = (allow: string) => json(405, { detail: "Method Not Allowed" }, { allow });
    const GET = "GET, HEAD";
    let r: RegExpMatchArray | null;
    if (path === "/health") return m === "GET" ? json(200, { status: "ok" }) : notAllowed(GET);
    if (path === "/v1/sessions") {
      return m === "POST" ? await sessions.create(req) : notAllowed("POST");
    }
    if ((r = path.match(/^\/v1\/sessions\/([^/]+)$/))) {
      return m === "GET" ? sessions.poll(req, decodeURIComponent(r[1])) : notAllowed(GET);
    }
    if ((r = path.match(/^\/v1\/sessions\/([^/]+)\/webhook$/))) {
      return m === "POST"
        ? await relay.webhook(req, url, decodeURIComponent(r[1]))
        : notAllowed("POST");
    }
    if (path === "/v1/proxy") return m === "POST" ? await relay.proxy(req) : notAllowed("POST");
    if (path === "/v1/oauth/callback") {
      return m === "GET" ? await oauth.callback(url) : notAllowed(GET);
    }
    if ((r = path.match(/^\/v1\/oauth\/authorize\/([^/]+)$/))) {
      return m === "GET"
        ? await oauth.authorize(url, decodeURIComponent(r[1]), client)
        : notAllowed(GET);
    }
    if ((r = path.match(/^\/v1\/connect\/([^/]+)$/))) {
      return m === "GET"
        ? await connect.info(req, decodeURIComponent(r[1]), client)
        : notAllowed(GET);
    }
    if ((r = path.match(/^\/v1\/connect\/([^/]+)\/confirm$/))) {
      return m === "POST"
        ? await connect.confirm(decodeURIComponent(r[1]), client)
        : notAllowed("POST");
    }
    if ((r = path.match(/^\/v1\/connect\/([^/]+)\/complete$/))) {
      return m === "POST"
        ? await connect.complete(req, decodeURIComponent(r[1]), client)
        : notAllowed("POST");
    }
    // deliberate: closes hole 12 — our own page (no third-party script, strict CSP). The extra
    // code-entry page `/connect` is the draft's manual_code_entry mode, which `mcs dev` shows.
    const page = pageAsset(path);
    if (page) return m === "GET" ? page : notAllowed(GET);
    return json(404, { detail: "Not Found" });
  };

  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: options.port ?? 0,
      onListen: () => {},
      ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
    },
    async (req, info) => {
      let res: Response;
      try {
        res = await handler(req, info as Deno.ServeHandlerInfo<Deno.NetAddr>);
      } catch {
        res = internalError();
      }
      if (req.headers.get("x-forwarded-proto") === "https" || ctx.base.startsWith("https://")) {
        res.headers.set("strict-transport-security", "max-age=31536000; includeSubDomains");
      }
      if (req.method === "HEAD" && res.body) {
        await res.body.cancel();
        return new Response(null, { status: res.status, headers: res.headers });
      }
      return res;
    },
  );
  const scheme = options.tls ? "https" : "http";
  ctx.base = (options.baseUrl ?? `${scheme}://127.0.0.1:${server.addr.port}`).replace(/\/+$/, "");

  const view = (s: Session): BrokerSessionView => ({
    sessionId: s.sessionId,
    code: s.code,
    status: s.status,
    publicKey: s.publicKey,
    templateType: s.templateType,
    oauthProvider: s.oauthProvider,
    oauthScopes: s.oauthScopes,
    oauthExtraParams: s.oauthExtraParams,
    customAuthorizeUrl: s.customAuthorizeUrl,
    customCallbackParams: s.customCallbackParams,
    customState: s.customState,
    expiresAt: s.expiresAt,
    interval: config.pollInterval,
    algorithm: s.algorithm,
    pollCount: s.pollCount,
  });
  const mustFind = (codeOrId: string) => {
    const s = ctx.sessions.findSync(codeOrId);
    if (!s) throw new Error(`no live session ${codeOrId}`);
    return s;
  };

  return Promise.resolve({
    url: ctx.base,
    close: async () => {
      await ctx.outbox.close();
      await server.shutdown();
    },
    sessions: () => ctx.sessions.live().map(view),
    session: (codeOrId) => {
      const s = ctx.sessions.findSync(codeOrId);
      return s ? view(s) : undefined;
    },
    complete: async (codeOrId, plaintext) => {
      const s = mustFind(codeOrId);
      if (s.status === "ready" || s.status === "consumed") {
        throw new Error("session already completed");
      }
      await sealResult(s, plaintext);
      ctx.outbox.deliver(s);
    },
    inject: (codeOrId, ciphertext, algorithm = ENVELOPE_ALGORITHM) => {
      const s = mustFind(codeOrId);
      s.ciphertext = ciphertext;
      s.algorithm = algorithm;
      s.status = "ready";
    },
    expire: (codeOrId) => {
      const s = ctx.sessions.findSync(codeOrId);
      if (s) s.expiresAt = now();
    },
    proxyLog: ctx.proxyLog,
    deliveriesSettled: () => ctx.outbox.settled(),
  });
}
