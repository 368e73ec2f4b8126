/**
 * The production broker's HTTP handler: LinkAuth v0.2's routes (reference section 1) on the
 * store-backed {@link BrokerState}, with the protocol's stateless parts from `protocol.ts` and
 * LinkAuth's holes (section 14, plus the two found by running it) closed:
 *
 * - connect token required, non-empty and single-use (`/complete` and the OAuth redirect both
 *   consume it; `/complete` is closed once a redirect started);
 * - code look-ups limited per client address (failures across all codes) and per code (all
 *   requests, all clients), answering 429 with `Retry-After`; the client address is the socket's
 *   unless it is a trusted proxy (`MCS_BROKER_TRUSTED_PROXIES`), then `X-Forwarded-For`'s,
 *   and an IPv6 client counts as its /64;
 * - a session completes only as its template allows: `/complete` only for form templates, the
 *   OAuth callback only for OAuth or passthrough sessions whose redirect started; a ready
 *   payload is never overwritten;
 * - `/v1/proxy` only to allow-listed hosts, each resolved address checked (`guard.ts`) and the
 *   connection made to the checked address (`pin.ts`: no second DNS answer, so no rebinding), no
 *   redirects followed; the same guard on `callback_url` deliveries;
 * - API keys compared by SHA-256 hash, each key rate-limited (429 with `Retry-After`);
 * - page POSTs refused cross-site (`Origin` / `Sec-Fetch-Site`); every answer carries
 *   `X-Content-Type-Options`, `Referrer-Policy`, frame protection and a CSP;
 * - the log line of a request carries method, a redacted path, status and duration: never a
 *   code, token, query string or body;
 * - a denied sign-in or consent (`error` on the callback) marks the session `failed`: polls
 *   answer the terminal `expired` at once, the page says so;
 * - a passthrough session carrying an Auth0 connect `ticket` never outlives it (the ticket's
 *   `expires_in` as seen through `/v1/proxy`, else 300 s, Auth0's default);
 * - a live passthrough `custom_state` belongs to one session (409 for a second), so nobody can
 *   create a newer session to capture another agent's callback;
 * - request bodies are capped at 1 MiB (413): by `Content-Length`, and a chunked body without one
 *   is read only up to the cap; a negative TTL is refused;
 * - the OAuth callback is bound to the browser that started the redirect (a per-session
 *   HttpOnly, SameSite=Lax cookie, Secure over HTTPS), checked before the state is taken; another
 *   browser gets the connect page's "finish in the browser where you started" view (400), a
 *   client asking for JSON the "Browser Mismatch" problem.
 *
 * @example
 * ```ts
 * import { MemoryCacheStore } from "../cache/memory.ts";
 * import { brokerHandler } from "./handler.ts";
 * const broker = brokerHandler({
 *   store: new MemoryCacheStore(),
 *   apiKeyHashes: [],
 *   allowedHosts: ["*.auth0.com"],
 *   providers: () => Promise.resolve(undefined),
 * });
 * broker.setBase("https://broker.example.com");
 * ```
 * @module
 */
import type { CacheStore } from "../cache/types.ts";
import { readCapped } from "../net/read_capped.ts";
import { cidrContains, parseCidr, parseIp } from "../net/ip.ts";
import type { FetchLike } from "../net/types.ts";
import { ADDRESS_REFUSED, Outbox, sealResult } from "./delivery.ts";
import { ALGORITHM, decodeStrict } from "./envelope.ts";
import { resolveChecked } from "./guard.ts";
import type { PinnedFetch } from "./pin.ts";
import { Metrics } from "./metrics.ts";
import { pageAsset, pageView } from "./page.ts";
import { apiKeyProblem, internalError, json, prefersHtml, problem, safeEqual } from "./problem.ts";
import * as p from "./protocol.ts";
import {
  hex,
  plausibleCode,
  randomCode,
  type Session,
  sessionIdOf,
  sha256hex,
  token,
} from "./session.ts";
import { BrokerState } from "./state.ts";

/** Tunables (LinkAuth's defaults, section 10.1, and this broker's limits). */
export interface BrokerLimits {
  pollInterval: number;
  defaultTtl: number;
  maxTtl: number;
  /** Seconds a consumed session still answers `consumed`. */
  cleanupInterval: number;
  codeLength: number;
  /** Failed code look-ups per client address per window, across all codes. */
  addressFailures: number;
  /** Requests per code per window, across all clients. */
  perCode: number;
  windowMs: number;
  /** Requests per API key per minute. */
  perKeyPerMinute: number;
  maxWebhookPayload: number;
  /** Assumed lifetime of an Auth0 connect ticket not seen through the proxy, seconds. */
  ticketTtl: number;
  /** Largest request body accepted (by `Content-Length`), bytes. */
  maxBody: number;
}

const DEFAULT_LIMITS: BrokerLimits = {
  pollInterval: 5,
  defaultTtl: 600,
  maxTtl: 900,
  cleanupInterval: 60,
  codeLength: 8,
  addressFailures: 10,
  perCode: 10,
  windowMs: 60_000,
  perKeyPerMinute: 600,
  maxWebhookPayload: 65536,
  ticketTtl: 300,
  maxBody: 1024 * 1024,
};

/** What the handler needs. */
export interface BrokerHandlerOptions {
  store: CacheStore;
  /** SHA-256 hex of each API key (empty: no key needed; `mcs broker serve` refuses that). */
  apiKeyHashes: readonly string[];
  allowedHosts: readonly string[];
  providers: (name: string) => Promise<p.BrokerOAuthProvider | undefined>;
  allowPrivate?: boolean;
  trustedProxies?: readonly string[];
  upstream?: FetchLike;
  /**
   * Connect to the address the guard checked (`pin.ts`; closes DNS rebinding). Without it a
   * checked name is fetched through `upstream`, which resolves it again.
   */
  pinned?: PinnedFetch["fetch"];
  /** DNS for the address guard (tests). */
  resolve?: (host: string) => Promise<string[]>;
  now?: () => number;
  /** One line per request (already redacted). */
  log?: (line: string) => void;
  limits?: Partial<BrokerLimits>;
  /** Drop the store's expired entries for good (run by {@link BrokerHandler.sweep}). */
  compact?: () => Promise<void>;
  /**
   * SHA-256 hex of the bearer token `/metrics` requires (unset: `/metrics` is open, unless
   * {@link BrokerHandlerOptions.metricsOff}).
   */
  metricsTokenHash?: string;
  /**
   * Without a token, `/metrics` answers 404 (`startBroker` sets this when it listens on an address
   * other than loopback, so the counters are not open to the network by default).
   */
  metricsOff?: boolean;
  /** Readiness probe of the store for `/health` (default: one read). */
  check?: () => Promise<void>;
}

/** The handler and its parts. */
export interface BrokerHandler {
  handle(req: Request, remote: string): Promise<Response>;
  /** Set the public base URL (no trailing slash) once known. */
  setBase(base: string): void;
  readonly metrics: Metrics;
  readonly state: BrokerState;
  /** Drop expired sessions and count them (the server runs this every 30 s). */
  sweep(): Promise<void>;
  /** Wait for pending `callback_url` deliveries, then stop them. */
  close(): Promise<void>;
}

/** Redact a path for the log: codes, session ids and anything after them become `…`. */
export function redactPath(path: string): string {
  return path
    .replace(/^\/(connect|v1\/connect|v1\/oauth\/authorize|v1\/sessions)\/[^/]+/, "/$1/…")
    .slice(0, 80);
}

/** Build the handler. */
export function brokerHandler(o: BrokerHandlerOptions): BrokerHandler {
  const L: BrokerLimits = { ...DEFAULT_LIMITS, ...o.limits };
  const now = o.now ?? Date.now;
  const upstream: FetchLike = o.upstream ?? ((input, init) => fetch(input, init));
  const state = new BrokerState(o.store, { now, cleanupMs: L.cleanupInterval * 1000 });
  const metrics = new Metrics();
  const trusted = (o.trustedProxies ?? []).map((t) =>
    parseCidr(t) ?? parseCidr(`${t}/${parseIp(t)!.length * 8}`)!
  );
  const allowPrivate = o.allowPrivate ?? false;
  const guardOpts = { allowPrivate, resolve: o.resolve };
  /** The upstream that reaches `url` at the guard's `address` (pinned) when there is one. */
  const via = (address: string | undefined): FetchLike =>
    address && o.pinned
      ? (input, init) =>
        o.pinned!(new URL(input instanceof Request ? input.url : String(input)), address, {
          ...init,
          redirect: "manual",
        })
      : upstream;
  /** Upstream for callbacks: the address guard first, then the checked address. */
  const guarded: FetchLike = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const checked = await resolveChecked(url.hostname, guardOpts);
    if (checked.verdict) throw new GuardError();
    return await via(checked.address)(input, { ...init, redirect: "manual" });
  };
  const outbox = new Outbox(guarded);
  let base = "";

  const isTrusted = (addr: string) => {
    const ip = parseIp(addr);
    return !!ip && trusted.some((c) => cidrContains(c, ip));
  };
  let warnedNoForwardedFor = false;
  /** The client address and whether the request arrived over HTTPS (trusted proxies only). */
  const clientOf = (req: Request, remote: string) => {
    if (!isTrusted(remote)) return { addr: remote, https: false };
    const chain = (req.headers.get("x-forwarded-for") ?? "").split(",").map((s) => s.trim())
      .filter(Boolean);
    if (chain.length === 0 && !warnedNoForwardedFor) {
      // Every client behind this proxy then counts as the proxy: one guess limit for all.
      warnedNoForwardedFor = true;
      o.log?.(
        `a request from the trusted proxy ${remote} had no X-Forwarded-For: every client behind ` +
          `it shares one address and one code-guess limit. Make the proxy set it (nginx: ` +
          `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; Caddy and Traefik do by ` +
          `default). Said once.`,
      );
    }
    let addr = remote;
    for (let i = chain.length - 1; i >= 0; i--) {
      addr = chain[i];
      if (!isTrusted(addr)) break;
    }
    return { addr, https: req.headers.get("x-forwarded-proto") === "https" };
  };

  // --- shared checks ---------------------------------------------------------------------

  /** The API key: its hash when valid, or the nested 401/403, or a per-key 429. */
  const apiKey = async (req: Request): Promise<string | undefined | Response> => {
    if (o.apiKeyHashes.length === 0) return undefined;
    const key = req.headers.get("x-api-key");
    if (!key) return apiKeyProblem(true);
    const hash = await sha256hex(key);
    let ok = false;
    for (const h of o.apiKeyHashes) ok = safeEqual(hash, h) || ok; // compare against every key
    if (!ok) return apiKeyProblem(false);
    const r = await state.hit(`key:${hash}`, L.perKeyPerMinute, 60_000);
    if (r.limited) {
      metrics.inc("rate_limited", { limit: "api_key" });
      return problem(429, "Too Many Requests", "Rate limit exceeded for this API key.", {}, {
        "retry-after": String(r.retryAfterS),
      });
    }
    return hash;
  };

  /** The browser routes' look-up: per-code and per-address limits, then the session id. */
  const lookup = async (
    code: string,
    addr: string,
  ): Promise<{ error: Response; id?: undefined } | { error?: undefined; id: string }> => {
    const limited = (kind: string, retryAfterS: number) => {
      metrics.inc("rate_limited", { limit: kind });
      return { error: p.tooMany(retryAfterS) };
    };
    // The address's failure is counted before the look-up (one atomic update in the shared
    // store) and taken back if the code was right, so parallel guesses, on any replicas, cannot
    // overshoot the limit.
    const bucket = addressBucket(addr);
    const byAddr = await state.hit(`fail:${bucket}`, L.addressFailures, L.windowMs);
    if (byAddr.limited) return limited("address", byAddr.retryAfterS);
    const canonical = plausibleCode(code) ? code.replace(/-/g, "").toUpperCase() : "";
    const byCode = await state.hit(`code:${canonical || "invalid"}`, L.perCode, L.windowMs);
    if (byCode.limited) return limited("code", byCode.retryAfterS);
    const id = canonical ? await sessionIdOf(canonical) : "";
    if (!id || !(await state.get(id))) return { error: p.notFound() };
    await state.unhit(`fail:${bucket}`, L.windowMs);
    return { id };
  };

  /** CSRF: page POSTs must come from the broker's own origin (or from no browser at all). */
  const crossSite = (req: Request, https: boolean): boolean => {
    const site = req.headers.get("sec-fetch-site");
    if (site && site !== "same-origin" && site !== "none") return true;
    const origin = req.headers.get("origin");
    if (origin === null) return false;
    // The public origin, or the origin this request was addressed to (a browser cannot forge
    // `Origin`, and an attacker's page has its own).
    const host = req.headers.get("host");
    const proto = new URL(req.url).protocol === "https:" || https ? "https:" : "http:";
    return origin !== new URL(base).origin && (!host || origin !== `${proto}//${host}`);
  };
  const csrfRefused = () =>
    problem(403, "Cross-Site Request", "This request must come from the broker's own page.");

  // --- agent API ---------------------------------------------------------------------------

  const create = async (req: Request): Promise<Response> => {
    const decoded = await p.readJson(req);
    if (decoded instanceof Response) return decoded;
    const key = await apiKey(req);
    if (key instanceof Response) return key;
    const checked = await p.checkCreate(decoded.body, {
      hasProvider: async (id) => !!(await o.providers(id)),
      allowedHosts: o.allowedHosts,
    });
    if (checked instanceof Response) return checked;
    const { draft, body } = checked;
    const t = now();
    let expiresAt = t + Math.min(body.ttl || L.defaultTtl, L.maxTtl) * 1000;
    const ticket = draft.customAuthorizeUrl
      ? new URL(draft.customAuthorizeUrl).searchParams.get("ticket")
      : null;
    if (ticket) {
      expiresAt = Math.min(expiresAt, (await state.ticketExpiry(ticket)) ?? t + L.ticketTtl * 1000);
    }
    for (;;) {
      const code = randomCode(L.codeLength);
      const sessionId = await sessionIdOf(code);
      if (
        draft.customState !== undefined &&
        !(await state.claimCustomState(draft.customState, sessionId, expiresAt, key))
      ) {
        return problem(
          409,
          "Custom State In Use",
          "custom_state is held by another live session; use a fresh random state.",
        );
      }
      const s = p.newSession(checked, { sessionId, code, apiKey: key, createdAt: t, expiresAt });
      if (await state.add(s)) {
        metrics.inc("sessions_created");
        return p.createdBody(s, base, L.pollInterval);
      }
    }
  };

  const poll = async (req: Request, id: string): Promise<Response> => {
    const key = await apiKey(req);
    if (key instanceof Response) return key;
    const auth = req.headers.get("authorization");
    if (!auth || !auth.startsWith("Bearer ")) return p.pollUnauthorized();
    const presented = auth.slice(7).trim();
    const t = now();
    const answer = await state.transact<Response>(id, (s) => {
      if (!s) return { result: p.notFound() };
      if (!safeEqual(presented, s.pollToken)) return { result: p.badPollToken() };
      if (s.lastPoll !== undefined && t - s.lastPoll < L.pollInterval * 1000) {
        return { result: p.slowDown(L.pollInterval) };
      }
      const next: Session = { ...s, lastPoll: t, pollCount: s.pollCount + 1 };
      if (s.status !== "ready") return { session: next, result: p.pollBody(next, L.pollInterval) };
      // Ready-once: this transition is atomic in the store, so one poll alone gets the payload.
      const handed = { ciphertext: s.ciphertext, algorithm: s.algorithm };
      const consumed: Session = {
        ...next,
        status: "consumed",
        consumedAt: t,
        ciphertext: undefined,
        lastPoll: undefined,
      };
      metrics.inc("sessions_consumed");
      return { session: consumed, result: p.pollBody(consumed, L.pollInterval, handed) };
    });
    return answer;
  };

  const webhook = async (req: Request, url: URL, id: string): Promise<Response> => {
    const raw = new Uint8Array(await req.arrayBuffer());
    const presented = url.searchParams.get("token") ?? "";
    return await state.transact<Response>(id, async (s) => {
      if (!s) return { result: p.notFound() };
      if (!s.webhookToken) {
        return {
          result: problem(
            403,
            "Webhook Not Enabled",
            "This session does not have webhooks enabled.",
          ),
        };
      }
      if (!safeEqual(presented, s.webhookToken)) {
        return {
          result: problem(403, "Invalid Webhook Token", "The provided webhook token is not valid."),
        };
      }
      if (raw.length > L.maxWebhookPayload) {
        return {
          result: problem(
            413,
            "Payload Too Large",
            `Webhook payload exceeds the maximum allowed size of ${L.maxWebhookPayload} bytes.`,
          ),
        };
      }
      if (s.status !== "pending" && s.status !== "confirmed") {
        return {
          result: problem(500, "Storage Error", "Failed to store encrypted webhook payload."),
        };
      }
      const next = { ...s };
      await sealResult(next, p.webhookPlaintext(req, raw));
      return { session: next, result: json(200, { status: "accepted", session_id: id }) };
    });
  };

  const proxy = async (req: Request): Promise<Response> => {
    const decoded = await p.readJson(req);
    if (decoded instanceof Response) return decoded;
    const key = await apiKey(req);
    if (key instanceof Response) return key;
    const body = p.checkProxy(decoded.body);
    if (body instanceof Response) return body;
    let target: URL | undefined;
    try {
      target = new URL(body.url);
    } catch {
      target = undefined;
    }
    if (!target || !p.hostAllowed(o.allowedHosts, target.hostname)) {
      metrics.inc("proxy_calls", { outcome: "not_allowed" });
      return p.domainNotAllowed();
    }
    let address: string | undefined;
    if (/^https?:$/.test(target.protocol)) {
      const checked = await resolveChecked(target.hostname, guardOpts);
      const verdict = checked.verdict;
      address = checked.address;
      if (verdict) {
        metrics.inc("proxy_calls", { outcome: "blocked" });
        return verdict === "blocked"
          ? problem(
            403,
            "SSRF Blocked",
            "Request blocked: target resolves to a private/reserved IP.",
          )
          : problem(502, "Bad Gateway", "Failed to reach upstream: the host does not resolve.");
      }
    }
    const { response, upstreamBody } = await p.relay(via(address), target, body);
    metrics.inc("proxy_calls", { outcome: response.status === 200 ? "relayed" : "failed" });
    if (upstreamBody) await noteTicket(upstreamBody);
    return response;
  };

  /** An Auth0 `/connect` answer through the proxy tells the ticket's lifetime. */
  const noteTicket = async (text: string) => {
    if (!text.includes('"ticket"')) return;
    try {
      const j = JSON.parse(text);
      const ticket = j?.connect_params?.ticket;
      if (typeof ticket === "string" && typeof j.expires_in === "number" && j.expires_in > 0) {
        await state.recordTicket(ticket, now() + j.expires_in * 1000);
      }
    } catch {
      // not JSON: nothing to learn
    }
  };

  // --- browser routes --------------------------------------------------------------------

  const connectInfo = async (req: Request, code: string, addr: string, https: boolean) => {
    const found = await lookup(code, addr);
    if (found.error) return found.error;
    const s = await state.get(found.id);
    if (!s) return p.notFound();
    return p.connectInfoBody(s, p.securityBanner(req, base, https ? "https" : null));
  };

  const confirm = async (req: Request, code: string, addr: string, https: boolean) => {
    if (crossSite(req, https)) return csrfRefused();
    const found = await lookup(code, addr);
    if (found.error) return found.error;
    return await state.transact<Response>(found.id, (s) => {
      if (!s) return { result: p.notFound() };
      if (s.status !== "pending") return { result: p.alreadyConfirmed() };
      const next: Session = { ...s, status: "confirmed", connectToken: token("ct_") };
      return { session: next, result: json(200, { connect_token: next.connectToken }) };
    });
  };

  const complete = async (req: Request, code: string, addr: string, https: boolean) => {
    if (crossSite(req, https)) return csrfRefused();
    const body = await p.readComplete(req);
    if (body instanceof Response) return body;
    const found = await lookup(code, addr);
    if (found.error) return found.error;
    let ready: Session | undefined;
    const answer = await state.transact<Response>(found.id, (s) => {
      if (!s) return { result: p.notFound() };
      // Only a confirmed FORM session, before any redirect, may take a browser ciphertext: an
      // OAuth or passthrough session completes through its callback alone.
      if (s.status !== "confirmed" || s.oauthStarted || s.templateType !== "form") {
        return { result: p.notCompletable() };
      }
      if (
        !s.connectToken || !body.connect_token || !safeEqual(body.connect_token, s.connectToken)
      ) {
        return { result: p.badConnectToken() };
      }
      if (
        body.algorithm !== ALGORITHM || body.ciphertext.length > 65536 ||
        !decodeStrict(body.ciphertext)
      ) {
        return {
          result: problem(400, "Invalid Ciphertext", `Expected a ${ALGORITHM} envelope.`),
        };
      }
      ready = {
        ...s,
        status: "ready",
        ciphertext: body.ciphertext,
        algorithm: body.algorithm,
        connectToken: undefined,
      };
      return { session: ready, result: new Response(null, { status: 204 }) };
    });
    if (ready) {
      metrics.inc("sessions_completed");
      outbox.deliver(ready);
    }
    return answer;
  };

  const authorize = async (url: URL, code: string, addr: string, https: boolean) => {
    const found = await lookup(code, addr);
    if (found.error) return found.error;
    const presented = url.searchParams.get("connect_token") ?? "";
    // The browser that starts the redirect gets a cookie; only it may complete the callback.
    const binding = token("");
    const bindingHash = await sha256hex(binding);
    const withCookie = (s: Session, location: string) =>
      new Response(null, {
        status: 302,
        headers: [
          ["location", location],
          ["set-cookie", bindingCookie(s, binding, https, now())],
        ],
      });
    const s0 = await state.get(found.id);
    const provider = s0?.oauthProvider && !s0.customAuthorizeUrl
      ? await o.providers(s0.oauthProvider)
      : undefined;
    const { verifier, challenge } = await p.pkce();
    const oauthState = token("");
    let bind: Session | undefined;
    const answer = await state.transact<Response>(found.id, (s) => {
      if (!s) return { result: p.notFound() };
      if (s.status !== "confirmed") return { result: p.codeNotConfirmed() };
      if (!s.connectToken || !presented || !safeEqual(presented, s.connectToken)) {
        return { result: p.authorizeBadToken() };
      }
      if (s.customAuthorizeUrl) {
        const next: Session = {
          ...s,
          connectToken: undefined,
          oauthStarted: true,
          codeVerifier: "",
          browserBinding: bindingHash,
        };
        return { session: next, result: withCookie(next, s.customAuthorizeUrl) };
      }
      if (s.templateType !== "oauth") {
        return { result: problem(400, "Not an OAuth Session", "This session does not use OAuth.") };
      }
      if (!provider) return { result: p.providerError(s.oauthProvider ?? "", 503) };
      bind = {
        ...s,
        connectToken: undefined,
        oauthStarted: true,
        codeVerifier: verifier,
        oauthState,
        browserBinding: bindingHash,
      };
      const location = p.authorizeUrl(provider, s, {
        redirectUri: `${base}/v1/oauth/callback`,
        state: oauthState,
        challenge,
      });
      return { session: bind, result: withCookie(bind, location) };
    });
    if (bind) await state.bindState(oauthState, bind.sessionId, bind.expiresAt);
    return answer;
  };

  const callback = async (req: Request, url: URL, https: boolean): Promise<Response> => {
    const q = url.searchParams;
    const st = q.get("state");
    const id = st ? (await state.peekState(st)) ?? (await state.byCustomState(st)) : undefined;
    if (!id) return p.invalidState(q);
    const s0 = await state.get(id);
    // A person's browser gets the connect page's view saying what happened and what to do (no
    // state, code or id in it); a client asking for JSON gets the problem document.
    const mismatch = () =>
      prefersHtml(req) ? pageView("mismatch", 400) : problem(
        400,
        "Browser Mismatch",
        "This sign-in was started in another browser (or its cookie was blocked). Finish it in " +
          "the browser where it started, or ask the agent for a new code.",
      );
    // The hash of this browser's binding cookie (the cookie is named after the session).
    const heldHash = async (s: Session) => {
      const held = cookieValue(req, bindingCookieName(s));
      return held ? await sha256hex(held) : undefined;
    };
    const bound = async (s: Session) => {
      if (!s.browserBinding) return true;
      const h = await heldHash(s);
      return h !== undefined && safeEqual(h, s.browserBinding);
    };
    // Checked before the state is taken: a callback from another browser burns nothing. Checked
    // again inside the transition below, on the session as it is then: the redirect that sets
    // the binding may land between this read and that one.
    if (s0 && !(await bound(s0))) return mismatch();
    if (st) await state.takeState(st);
    const provider = s0?.oauthProvider && !s0.customAuthorizeUrl
      ? await o.providers(s0.oauthProvider)
      : undefined;
    const t = now();
    let ready: Session | undefined;
    let denied = false;
    let exchange: { s: Session; verifier: string } | undefined;
    const landing = (s: Session) =>
      new Response(null, {
        status: 302,
        headers: [
          [
            "location",
            `${base}/connect/${s.code}?status=${s.status === "failed" ? "denied" : "success"}`,
          ],
          ["set-cookie", clearBindingCookie(s, https)],
        ],
      });
    const fail = (s: Session, error: string): Session => ({
      ...s,
      status: "failed",
      failure: error,
      codeVerifier: undefined,
      oauthState: undefined,
    });
    let answer = await state.transact<Response>(id, async (s) => {
      // Only a confirmed session whose redirect started, and whose state this is, is written.
      const waiting = s && s.status === "confirmed" && s.oauthStarted &&
        s.codeVerifier !== undefined &&
        (s.oauthState !== undefined
          ? safeEqual(s.oauthState, st!)
          : !!s.customAuthorizeUrl && s.customState === st);
      if (!s || !waiting) return { result: p.invalidState(q) };
      if (!(await bound(s))) return { result: mismatch() };
      if (q.has("error")) {
        denied = true;
        const error = (q.get("error") ?? "").replace(/[^a-z_]/g, "").slice(0, 40);
        const next = fail(s, error || "access_denied");
        return { session: next, result: landing(next) };
      }
      const next: Session = { ...s, codeVerifier: undefined, oauthState: undefined };
      if (s.customAuthorizeUrl) {
        await sealResult(next, p.captureParams(s, q));
        ready = next;
        return { session: next, result: landing(next) };
      }
      if (!q.get("code")) {
        return { result: problem(400, "Invalid Callback", "Missing code parameter.") };
      }
      if (!provider) {
        return { result: problem(400, "Not an OAuth Session", "This session does not use OAuth.") };
      }
      // Claim the callback (the verifier works once), then exchange outside the store's lock.
      exchange = { s: next, verifier: s.codeVerifier! };
      return { session: next, result: landing(next) };
    });
    if (exchange && provider) {
      const tokens = await p.exchangeCode(upstream, provider, {
        code: q.get("code")!,
        verifier: exchange.verifier,
        redirectUri: `${base}/v1/oauth/callback`,
        now: t,
      });
      answer = await state.transact<Response>(id, async (s) => {
        if (!s || s.status !== "confirmed") return { result: p.invalidState(q) };
        if (tokens instanceof Response) {
          // The agent learns at once (terminal), the person sees the problem.
          return { session: fail(s, "exchange_failed"), result: tokens };
        }
        const next = { ...s };
        await sealResult(next, tokens);
        ready = next;
        return { session: next, result: landing(next) };
      });
    }
    if (denied) metrics.inc("sessions_denied");
    if (ready) {
      metrics.inc("sessions_completed");
      outbox.deliver(ready);
    }
    return answer;
  };

  // --- routing -----------------------------------------------------------------------------

  const route = async (req: Request, remote: string): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname;
    const { addr, https } = clientOf(req, remote);
    const m = req.method === "HEAD" ? "GET" : req.method;
    const notAllowed = (allow: string) => json(405, { detail: "Method Not Allowed" }, { allow });
    const GET = "GET, HEAD";
    const seg = (re: RegExp) => {
      const r = path.match(re);
      try {
        return r ? decodeURIComponent(r[1]) : undefined;
      } catch {
        return undefined; // not valid percent-encoding: no such route (404)
      }
    };
    let v: string | undefined;
    const tooLarge = () =>
      problem(413, "Payload Too Large", `Request bodies are limited to ${L.maxBody} bytes.`);
    if (Number(req.headers.get("content-length") ?? 0) > L.maxBody) return tooLarge();
    if (req.body && !req.headers.has("content-length")) {
      // A chunked body declares no length: read it with the same cap, stopping at the limit.
      const bytes = await readCapped(req.body, L.maxBody);
      if (!bytes) return tooLarge();
      req = new Request(req.url, { method: req.method, headers: req.headers, body: bytes });
    }
    if (path === "/health") {
      if (m !== "GET") return notAllowed(GET);
      try {
        await (o.check ? o.check() : o.store.get("broker/health"));
        return json(200, { status: "ok" });
      } catch {
        return json(503, { status: "unavailable" }, { "retry-after": "5" });
      }
    }
    if (path === "/metrics") {
      if (m !== "GET") return notAllowed(GET);
      if (!o.metricsTokenHash && o.metricsOff) return json(404, { detail: "Not Found" });
      if (o.metricsTokenHash) {
        const auth = req.headers.get("authorization") ?? "";
        const presented = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
        if (!presented || !safeEqual(await sha256hex(presented), o.metricsTokenHash)) {
          return problem(
            401,
            "Unauthorized",
            "/metrics needs the bearer token set in MCS_BROKER_METRICS_TOKEN.",
            {},
            { "www-authenticate": 'Bearer realm="metrics"' },
          );
        }
      }
      return new Response(metrics.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    if (path === "/v1/sessions") return m === "POST" ? await create(req) : notAllowed("POST");
    if ((v = seg(/^\/v1\/sessions\/([^/]+)$/)) !== undefined) {
      return m === "GET" ? await poll(req, v) : notAllowed(GET);
    }
    if ((v = seg(/^\/v1\/sessions\/([^/]+)\/webhook$/)) !== undefined) {
      return m === "POST" ? await webhook(req, url, v) : notAllowed("POST");
    }
    if (path === "/v1/proxy") return m === "POST" ? await proxy(req) : notAllowed("POST");
    const secure = https || base.startsWith("https://") || url.protocol === "https:";
    if (path === "/v1/oauth/callback") {
      return m === "GET" ? await callback(req, url, secure) : notAllowed(GET);
    }
    if ((v = seg(/^\/v1\/oauth\/authorize\/([^/]+)$/)) !== undefined) {
      return m === "GET" ? await authorize(url, v, addr, secure) : notAllowed(GET);
    }
    if ((v = seg(/^\/v1\/connect\/([^/]+)$/)) !== undefined) {
      return m === "GET" ? await connectInfo(req, v, addr, https) : notAllowed(GET);
    }
    if ((v = seg(/^\/v1\/connect\/([^/]+)\/confirm$/)) !== undefined) {
      return m === "POST" ? await confirm(req, v, addr, https) : notAllowed("POST");
    }
    if ((v = seg(/^\/v1\/connect\/([^/]+)\/complete$/)) !== undefined) {
      return m === "POST" ? await complete(req, v, addr, https) : notAllowed("POST");
    }
    const page = pageAsset(path);
    if (page) return m === "GET" ? page : notAllowed(GET);
    return json(404, { detail: "Not Found" });
  };

  const handle = async (req: Request, remote: string): Promise<Response> => {
    const started = performance.now();
    let res: Response;
    try {
      res = await route(req, remote);
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      if (typeof code === "string" && STORE_TROUBLE.has(code)) {
        // The shared store is down or busy: say so (and when to retry), not a bare 500. Its
        // code only in the log: the message names the store, never request data.
        o.log?.(`state store trouble (${code}) on ${redactPath(new URL(req.url).pathname)}`);
        res = problem(
          503,
          "State Store Unavailable",
          "The broker cannot reach its state store right now; retry shortly.",
          { code },
          { "retry-after": "5" },
        );
      } else {
        // The error's kind only: messages may carry request data.
        o.log?.(
          `internal error (${(e as Error)?.name ?? typeof e}) on ${
            redactPath(new URL(req.url).pathname)
          }`,
        );
        res = internalError();
      }
    }
    const h = res.headers;
    h.set("x-content-type-options", "nosniff");
    h.set("referrer-policy", "no-referrer");
    h.set("x-frame-options", "DENY");
    if (!h.has("content-security-policy")) {
      h.set("content-security-policy", "default-src 'none'; frame-ancestors 'none'");
    }
    if (!h.has("cache-control")) h.set("cache-control", "no-store");
    const https = base.startsWith("https://") || clientOf(req, remote).https;
    if (https) h.set("strict-transport-security", "max-age=31536000; includeSubDomains");
    metrics.inc("requests", { class: `${Math.floor(res.status / 100)}xx` });
    o.log?.(
      `${req.method} ${redactPath(new URL(req.url).pathname)} ${res.status} ${
        Math.round(performance.now() - started)
      }ms`,
    );
    if (req.method === "HEAD" && res.body) {
      await res.body.cancel();
      return new Response(null, { status: res.status, headers: res.headers });
    }
    return res;
  };

  return {
    handle,
    setBase: (b) => (base = b.replace(/\/+$/, "")),
    metrics,
    state,
    sweep: async () => {
      const n = await state.sweep();
      if (n) metrics.inc("sessions_expired", undefined, n);
      await o.compact?.();
    },
    close: async () => {
      await outbox.settled();
      await outbox.close();
    },
  };
}

/**
 * The per-address limit's bucket of a client address: an IPv6 address counts as its /64 (one
 * host usually holds a whole /64, so counting single addresses would let it guess without end);
 * an IPv4 (or IPv4-mapped) address as itself.
 */
function addressBucket(addr: string): string {
  const ip = parseIp(addr);
  if (!ip || ip.length !== 16) return addr;
  if (ip.subarray(0, 12).every((b, i) => b === (i < 10 ? 0 : 0xff))) {
    return [...ip.subarray(12)].join(".");
  }
  return `${hex(ip.subarray(0, 8)).match(/..../g)!.join(":")}::/64`;
}

/** The browser-binding cookie's name: one per session, so parallel sign-ins do not collide. */
function bindingCookieName(s: Session): string {
  return `mcs_cb_${s.sessionId.slice(0, 16)}`;
}

/**
 * The browser-binding cookie: HttpOnly, SameSite=Lax (sent on the provider's top-level redirect
 * back, never on a cross-site subrequest), Secure over HTTPS, scoped to the callback path, and
 * living as long as the session.
 */
function bindingCookie(s: Session, value: string, secure: boolean, t: number): string {
  const maxAge = Math.max(1, Math.ceil((s.expiresAt - t) / 1000));
  return `${bindingCookieName(s)}=${value}; Path=/v1/oauth/callback; Max-Age=${maxAge}; ` +
    `HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

/** The same cookie, expired (the callback is done). */
function clearBindingCookie(s: Session, secure: boolean): string {
  return `${bindingCookieName(s)}=; Path=/v1/oauth/callback; Max-Age=0; HttpOnly; ` +
    `SameSite=Lax${secure ? "; Secure" : ""}`;
}

/** A cookie's value from the request's `Cookie` header. */
function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** Store error codes that mean "try again shortly" (lib/cache: Redis down, lock contention). */
const STORE_TROUBLE = new Set(["store_unavailable", "cache_busy", "store_lock_expired"]);

/** A guarded upstream call refused by the address guard (never retried). */
class GuardError extends Error {
  constructor() {
    super("target address refused by the broker's address guard");
    this.name = ADDRESS_REFUSED;
  }
}
