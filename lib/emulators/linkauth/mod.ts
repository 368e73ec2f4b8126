/**
 * A LinkAuth v0.2 broker emulator that speaks the real wire protocol (reference sections 1–7):
 * sessions, codes, poll states, slow_down, the connect page, OAuth with PKCE and the code
 * exchange, passthrough capture, encryption to the agent key and `/v1/proxy`.
 *
 * It deliberately does NOT copy the real broker's known holes (reference section 14):
 * - `/complete` needs a non-empty, matching connect token, and is closed once an OAuth redirect
 *   started (no empty-token injection);
 * - failed code look-ups are limited per client across all codes (no enumeration), keyed on the
 *   socket address, never on `X-Forwarded-For`;
 * - `/v1/proxy` relays only to allowlisted hosts (an empty allowlist relays nothing), requires
 *   the API key when keys are configured and sends no CORS headers;
 * - OAuth `state` is random (not the code-derived session id), a ready session is never
 *   overwritten, passthrough redirects only go to allowlisted hosts, TTLs must be positive,
 *   tokens are compared in constant time.
 * Webhooks and `callback_url` delivery are not emulated (rejected with 400).
 *
 * @example
 * ```ts
 * import { startLinkAuthBroker } from "./mod.ts";
 * const broker = await startLinkAuthBroker({ apiKeys: ["k"] });
 * // ... point a LinkAuthConnector at broker.url ...
 * await broker.close();
 * ```
 * @module
 */

import { decodeBase64Strict, encodeBase64Url } from "../../encoding/base64.ts";
import { encryptEnvelope, ENVELOPE_ALGORITHM } from "../../auth/linkauth/crypto.ts";
import type { FetchLike } from "../../net/types.ts";
import { CONNECT_HTML, CONNECT_JS, PAGE_HEADERS } from "./page.ts";
import { apiKeyProblem, isoformat, json, problem, safeEqual, validation } from "./problem.ts";

/** An OAuth provider the broker can send users to (e.g. the Auth0 emulator). */
export interface BrokerOAuthProvider {
  authorizeUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Default scope when the session asks for none. */
  scope?: string;
  /** Extra authorize parameters always sent (e.g. `audience`). */
  extraParams?: Record<string, string>;
  /** Token endpoint client authentication (default `client_secret_post`). */
  tokenAuthMethod?: "client_secret_post" | "client_secret_basic";
}

/** Options. */
export interface LinkAuthBrokerOptions {
  /** Port on 127.0.0.1 (default 0: ephemeral). */
  port?: number;
  tls?: { cert: string; key: string };
  /** Base URL used in generated links (default: the listening address). */
  baseUrl?: string;
  /** API keys; empty or absent means open access (as the real broker). */
  apiKeys?: readonly string[];
  /** OAuth providers by id (the session's `oauth_provider`). */
  providers?: Record<string, BrokerOAuthProvider>;
  /** Host patterns (`host` or `*.suffix`) the proxy and passthrough redirects may target. */
  allowedHosts?: readonly string[];
  /** Whether `/v1/proxy` is enabled (default true). */
  proxyEnabled?: boolean;
  /** Seconds between accepted polls (default 5). */
  pollInterval?: number;
  /** Session TTL default and cap in seconds (600 / 900). */
  defaultTtl?: number;
  maxTtl?: number;
  /** Seconds a consumed session stays visible as `consumed` before it 404s (default 60). */
  cleanupInterval?: number;
  /** User code length (default 8). */
  codeLength?: number;
  /** Failed code look-ups allowed per client per window, across all codes (default 10). */
  codeAttemptLimit?: number;
  codeAttemptWindowMs?: number;
  /** Upstream fetch for the code exchange and the proxy (inject a CA here). */
  fetch?: FetchLike;
  now?: () => number;
}

/** Session status as the broker stores it. */
export type BrokerSessionStatus = "pending" | "confirmed" | "ready" | "consumed";

/** A read-only view of a broker session (test hook). */
export interface BrokerSessionView {
  sessionId: string;
  code: string;
  status: BrokerSessionStatus;
  publicKey: string;
  templateType: "form" | "oauth";
  oauthProvider?: string;
  oauthScopes?: string[];
  oauthExtraParams?: Record<string, string>;
  customAuthorizeUrl?: string;
  customCallbackParams?: string[];
  customState?: string;
  expiresAt: number;
  interval: number;
  algorithm?: string;
  pollCount: number;
}

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
}

interface Session {
  sessionId: string;
  code: string;
  publicKey: string;
  apiKey?: string;
  displayName: string;
  templateType: "form" | "oauth";
  fields: FieldSpec[];
  oauthProvider?: string;
  oauthScopes?: string[];
  oauthExtraParams?: Record<string, string>;
  customAuthorizeUrl?: string;
  customCallbackParams?: string[];
  customState?: string;
  status: BrokerSessionStatus;
  pollToken: string;
  connectToken?: string;
  /** Set once the OAuth (or passthrough) redirect was issued: closes `/complete`. */
  oauthStarted: boolean;
  oauthState?: string;
  codeVerifier?: string;
  ciphertext?: string;
  algorithm?: string;
  createdAt: number;
  expiresAt: number;
  consumedAt?: number;
  lastPoll?: number;
  pollCount: number;
}

interface FieldSpec {
  name: string;
  label: string;
  type: string;
  required: boolean;
  options: string[] | null;
}

const TEMPLATES: Record<string, { displayName: string; fields: FieldSpec[] }> = {
  api_key: {
    displayName: "API Key",
    fields: [{
      name: "api_key",
      label: "API Key",
      type: "password",
      required: true,
      options: null,
    }],
  },
  basic_auth: {
    displayName: "Login Credentials",
    fields: [
      { name: "username", label: "Username", type: "text", required: true, options: null },
      { name: "password", label: "Password", type: "password", required: true, options: null },
    ],
  },
};

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const PROXY_METHODS = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$/;

/** Start the emulator on 127.0.0.1. */
export function startLinkAuthBroker(
  options: LinkAuthBrokerOptions = {},
): Promise<LinkAuthBroker> {
  const now = options.now ?? Date.now;
  const upstream: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const apiKeys = [...(options.apiKeys ?? [])];
  const providers = options.providers ?? {};
  const allowed = [...(options.allowedHosts ?? [])];
  const pollInterval = options.pollInterval ?? 5;
  const defaultTtl = options.defaultTtl ?? 600;
  const maxTtl = options.maxTtl ?? 900;
  const cleanupMs = (options.cleanupInterval ?? 60) * 1000;
  const codeLength = options.codeLength ?? 8;
  const attemptLimit = options.codeAttemptLimit ?? 10;
  const attemptWindow = options.codeAttemptWindowMs ?? 60_000;

  const byId = new Map<string, Session>();
  const failures = new Map<string, number[]>();
  const proxyLog: { method: string; url: string }[] = [];
  let base = "";

  // -- helpers -----------------------------------------------------------------------------------

  const visible = (s: Session | undefined): Session | undefined => {
    if (!s) return undefined;
    const t = now();
    if (s.expiresAt <= t || (s.consumedAt !== undefined && s.consumedAt + cleanupMs <= t)) {
      byId.delete(s.sessionId);
      return undefined;
    }
    return s;
  };
  const normalise = (code: string) => code.replace(/-/g, "").toUpperCase();
  const sha256hex = async (text: string) =>
    Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
  const byCode = async (code: string) => visible(byId.get(await sha256hex(normalise(code))));
  const find = async (codeOrId: string) =>
    /^[0-9a-f]{64}$/.test(codeOrId) ? visible(byId.get(codeOrId)) : await byCode(codeOrId);
  const token = (prefix: string) =>
    prefix + encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const newCode = () => {
    const chars: string[] = [];
    while (chars.length < codeLength) {
      for (const b of crypto.getRandomValues(new Uint8Array(16))) {
        if (b < 252 && chars.length < codeLength) chars.push(ALPHABET[b % 36]); // no modulo bias
      }
    }
    const half = Math.floor(codeLength / 2);
    return `${chars.slice(0, half).join("")}-${chars.slice(half).join("")}`;
  };
  const hostAllowed = (hostname: string) =>
    allowed.some((p) =>
      p.startsWith("*.")
        ? hostname.endsWith(p.slice(1)) && hostname.length > p.length - 1
        : hostname === p.toLowerCase()
    );

  const checkApiKey = (req: Request): Response | string | undefined => {
    if (apiKeys.length === 0) return undefined;
    const key = req.headers.get("x-api-key");
    if (!key) return apiKeyProblem(true);
    let ok = false;
    for (const k of apiKeys) ok = safeEqual(key, k) || ok; // compare against every key
    return ok ? key : apiKeyProblem(false);
  };

  /** Per-client limiter across all codes: only failed look-ups count. */
  const limited = (client: string) => {
    const t = now();
    const recent = (failures.get(client) ?? []).filter((x) => x > t - attemptWindow);
    failures.set(client, recent);
    return recent.length >= attemptLimit;
  };
  const recordFailure = (client: string) =>
    failures.get(client)?.push(now()) ?? failures.set(client, [now()]);
  const tooMany = () => problem(429, "Too Many Requests", "Rate limit exceeded. Try again later.");
  const notFound = () => problem(404, "Session Not Found", "Session not found or expired.");

  /** Look a `{code}` up for a browser route, counting misses against the client. */
  const lookupForClient = async (code: string, client: string) => {
    if (limited(client)) return { error: tooMany() };
    const s = /^[A-Za-z0-9-]{1,32}$/.test(code) ? await byCode(code) : undefined;
    if (!s) {
      recordFailure(client);
      return { error: notFound() };
    }
    return { session: s };
  };

  const store = async (s: Session, plaintext: unknown) => {
    s.ciphertext = await encryptEnvelope(s.publicKey, plaintext);
    s.algorithm = ENVELOPE_ALGORITHM;
    s.status = "ready";
  };

  const readJson = async (req: Request): Promise<Record<string, unknown> | Response> => {
    try {
      const body = await req.json();
      if (!body || typeof body !== "object" || Array.isArray(body)) {
        return validation(["body"], "Input should be a valid dictionary", body);
      }
      return body as Record<string, unknown>;
    } catch {
      return validation(["body"], "JSON decode error");
    }
  };

  // -- routes ------------------------------------------------------------------------------------

  const createSession = async (req: Request): Promise<Response> => {
    const body = await readJson(req);
    if (body instanceof Response) return body;
    const key = checkApiKey(req);
    if (key instanceof Response) return key;
    if (typeof body.public_key !== "string") {
      return validation(["body", "public_key"], "Field required");
    }
    const invalidKey = (detail: string) => problem(400, "Invalid Public Key", detail);
    if (!body.public_key.trim()) return invalidKey("public_key is required and must not be empty.");
    const der = decodeBase64Strict(body.public_key);
    if (!der) {
      return invalidKey(
        "public_key is not valid base64. Expected base64-encoded DER (SubjectPublicKeyInfo).",
      );
    }
    let bits = 0;
    try {
      const k = await crypto.subtle.importKey(
        "spki",
        der,
        { name: "RSA-OAEP", hash: "SHA-256" },
        true,
        [
          "encrypt",
        ],
      );
      bits = (k.algorithm as RsaHashedKeyAlgorithm).modulusLength;
    } catch {
      return invalidKey(
        "public_key is not a valid public key. Expected RSA SubjectPublicKeyInfo in DER format.",
      );
    }
    if (bits < 2048) return invalidKey(`RSA key too small (${bits} bits). Minimum is 2048 bits.`);

    const str = (v: unknown) => (typeof v === "string" ? v : undefined);
    const strList = (v: unknown) =>
      Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;
    const template = str(body.template);
    const provider = str(body.oauth_provider);
    let templateType: "form" | "oauth";
    let fields: FieldSpec[] = [];
    let displayName = str(body.display_name);
    if (provider) {
      if (!providers[provider]) {
        return problem(
          400,
          "OAuth Provider Error",
          `OAuth provider '${provider}' is not configured. Set OAUTH_${provider.toUpperCase()}_CLIENT_ID and OAUTH_${provider.toUpperCase()}_CLIENT_SECRET environment variables.`,
        );
      }
      templateType = "oauth";
      displayName ??= `OAuth (${provider})`;
    } else if (template && TEMPLATES[template]) {
      templateType = "form";
      fields = TEMPLATES[template].fields;
      displayName ??= TEMPLATES[template].displayName;
    } else if (Array.isArray(body.fields)) {
      templateType = "form";
      fields = (body.fields as Record<string, unknown>[]).map((f) => ({
        name: String(f?.name ?? ""),
        label: String(f?.label ?? ""),
        type: typeof f?.type === "string" ? f.type : "text",
        required: f?.required !== false,
        options: strList(f?.options) ?? null,
      }));
      displayName ??= "Custom Credentials";
    } else {
      return problem(
        400,
        "Invalid Template",
        `Unknown template '${template ?? "None"}' and no custom fields or OAuth provider provided`,
      );
    }
    if (body.callback_url != null || body.enable_webhook === true) {
      return problem(
        400,
        "Not Supported",
        "callback_url and webhooks are not supported by this broker.",
      );
    }
    const customUrl = str(body.custom_authorize_url);
    if (customUrl !== undefined) {
      let target: URL;
      try {
        target = new URL(customUrl);
      } catch {
        return problem(400, "Invalid Authorize URL", "custom_authorize_url is not a valid URL.");
      }
      if (!/^https?:$/.test(target.protocol) || !hostAllowed(target.hostname)) {
        return problem(
          400,
          "Invalid Authorize URL",
          "custom_authorize_url must target an allowed host.",
        );
      }
    }
    const ttlIn = typeof body.ttl === "number" ? body.ttl : 0;
    if (!Number.isInteger(ttlIn) || ttlIn < 0) {
      return validation(["body", "ttl"], "ttl must be a positive integer", body.ttl);
    }
    const ttl = Math.min(ttlIn || defaultTtl, maxTtl);

    let code = newCode();
    let sessionId = await sha256hex(normalise(code));
    while (visible(byId.get(sessionId))) {
      code = newCode();
      sessionId = await sha256hex(normalise(code));
    }
    const t = now();
    const s: Session = {
      sessionId,
      code,
      publicKey: body.public_key,
      apiKey: typeof key === "string" ? key : undefined,
      displayName: displayName!,
      templateType,
      fields,
      oauthProvider: provider,
      oauthScopes: strList(body.oauth_scopes),
      oauthExtraParams: body.oauth_extra_params && typeof body.oauth_extra_params === "object"
        ? Object.fromEntries(
          Object.entries(body.oauth_extra_params as Record<string, unknown>).filter(([, v]) =>
            typeof v === "string"
          ),
        ) as Record<string, string>
        : undefined,
      customAuthorizeUrl: customUrl,
      customCallbackParams: strList(body.custom_callback_params),
      customState: str(body.custom_state),
      status: "pending",
      pollToken: token("pt_"),
      oauthStarted: false,
      createdAt: t,
      expiresAt: t + ttl * 1000,
      pollCount: 0,
    };
    byId.set(sessionId, s);
    return json(201, {
      session_id: sessionId,
      code,
      url: `${base}/connect/${code}`,
      poll_token: s.pollToken,
      expires_at: isoformat(s.expiresAt),
      interval: pollInterval,
      callback_secret: null,
      webhook_url: null,
    });
  };

  const poll = (req: Request, id: string): Response => {
    const key = checkApiKey(req);
    if (key instanceof Response) return key;
    const auth = req.headers.get("authorization");
    if (!auth || !auth.startsWith("Bearer ")) {
      return problem(
        401,
        "Unauthorized",
        "Missing or invalid Authorization header. Use: Bearer <poll_token>",
        {},
        {
          "www-authenticate": "Bearer",
        },
      );
    }
    const s = visible(byId.get(id));
    if (!s) return notFound();
    if (!safeEqual(auth.slice(7).trim(), s.pollToken)) {
      return problem(403, "Forbidden", "Invalid poll_token.");
    }
    const t = now();
    if (s.lastPoll !== undefined && t - s.lastPoll < pollInterval * 1000) {
      return problem(429, "Slow Down", "Polling too frequently. Increase your polling interval.", {
        type: "urn:ietf:params:oauth:error:slow_down",
        interval: pollInterval + 5,
      });
    }
    s.lastPoll = t;
    s.pollCount++;
    if (s.status === "ready") {
      // Atomic in this single-threaded emulator: the ciphertext is handed out exactly once.
      const { ciphertext, algorithm } = s;
      s.status = "consumed";
      s.consumedAt = t;
      s.ciphertext = undefined;
      return json(200, {
        status: "ready",
        expires_at: isoformat(s.expiresAt),
        interval: null,
        ciphertext,
        algorithm,
      });
    }
    return json(200, {
      status: s.status,
      expires_at: isoformat(s.expiresAt),
      interval: pollInterval,
      ciphertext: null,
      algorithm: null,
    });
  };

  const connectInfo = async (req: Request, code: string, client: string): Promise<Response> => {
    const found = await lookupForClient(code, client);
    if (found.error) return found.error;
    const s = found.session;
    if (s.status === "ready" || s.status === "consumed") {
      return problem(410, "Session Gone", "Session already completed.");
    }
    if (s.status === "confirmed") return notFound();
    const secure = base.startsWith("https://") || new URL(req.url).protocol === "https:";
    return json(200, {
      status: "pending",
      display_name: s.displayName,
      template_type: s.templateType,
      code: s.code,
      fields: s.fields,
      public_key: s.publicKey,
      security: secure ? { secure: true, mode: "production", message: null } : {
        secure: false,
        mode: "development",
        message: "Development mode -- connection is not encrypted. Do not enter real credentials.",
      },
      oauth_url: null,
    });
  };

  const confirm = async (code: string, client: string): Promise<Response> => {
    const found = await lookupForClient(code, client);
    if (found.error) return found.error;
    const s = found.session;
    if (s.status !== "pending") {
      return problem(409, "Already Confirmed", "Session has already been confirmed.");
    }
    s.status = "confirmed";
    s.connectToken = token("ct_");
    return json(200, { connect_token: s.connectToken });
  };

  const complete = async (req: Request, code: string, client: string): Promise<Response> => {
    const found = await lookupForClient(code, client);
    if (found.error) return found.error;
    const s = found.session;
    const body = await readJson(req);
    if (body instanceof Response) return body;
    if (typeof body.ciphertext !== "string") {
      return validation(["body", "ciphertext"], "Field required");
    }
    if (typeof body.connect_token !== "string") {
      return validation(["body", "connect_token"], "Field required");
    }
    if (s.status !== "confirmed" || s.oauthStarted) {
      return problem(409, "Session Not Completable", "Session is not in a completable state.");
    }
    if (!s.connectToken || !body.connect_token || !safeEqual(body.connect_token, s.connectToken)) {
      return problem(
        403,
        "Invalid Connect Token",
        "Invalid connect_token. Re-confirm the session code.",
      );
    }
    s.ciphertext = body.ciphertext;
    s.algorithm = typeof body.algorithm === "string" ? body.algorithm : ENVELOPE_ALGORITHM;
    s.status = "ready";
    s.connectToken = undefined;
    return new Response(null, { status: 204 });
  };

  const authorize = async (url: URL, code: string, client: string): Promise<Response> => {
    const found = await lookupForClient(code, client);
    if (found.error) return found.error;
    const s = found.session;
    if (s.status !== "confirmed") {
      return problem(
        409,
        "Code Not Confirmed",
        "Session code must be confirmed before starting OAuth flow.",
      );
    }
    const presented = url.searchParams.get("connect_token") ?? "";
    if (!s.connectToken || !presented || !safeEqual(presented, s.connectToken)) {
      return problem(
        403,
        "Invalid Connect Token",
        "Invalid or missing connect_token. Re-confirm the session code.",
      );
    }
    s.connectToken = undefined; // consumed, in passthrough mode too
    s.oauthStarted = true;
    if (s.customAuthorizeUrl) {
      s.codeVerifier = "";
      return new Response(null, { status: 302, headers: { location: s.customAuthorizeUrl } });
    }
    const p = s.oauthProvider ? providers[s.oauthProvider] : undefined;
    if (s.templateType !== "oauth" || !p) {
      return problem(400, "Not an OAuth Session", "This session does not use OAuth.");
    }
    s.codeVerifier = encodeBase64Url(crypto.getRandomValues(new Uint8Array(64)));
    s.oauthState = token("");
    const challenge = encodeBase64Url(
      new Uint8Array(
        await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s.codeVerifier)),
      ),
    );
    const target = new URL(p.authorizeUrl);
    const scope = s.oauthScopes?.length ? s.oauthScopes.join(" ") : p.scope;
    target.searchParams.set("response_type", "code");
    target.searchParams.set("client_id", p.clientId);
    target.searchParams.set("redirect_uri", `${base}/v1/oauth/callback`);
    if (scope) target.searchParams.set("scope", scope);
    target.searchParams.set("state", s.oauthState);
    target.searchParams.set("code_challenge", challenge);
    target.searchParams.set("code_challenge_method", "S256");
    for (const [k, v] of Object.entries({ ...p.extraParams, ...s.oauthExtraParams })) {
      target.searchParams.set(k, v);
    }
    return new Response(null, { status: 302, headers: { location: target.href } });
  };

  const callback = async (url: URL): Promise<Response> => {
    const q = url.searchParams;
    const state = q.get("state");
    const live = [...byId.values()].map(visible).filter((s): s is Session => !!s);
    let s = state
      ? live.find((x) => x.oauthState !== undefined && safeEqual(x.oauthState, state))
      : undefined;
    if (!s && state) {
      s = live
        .filter((x) =>
          x.customAuthorizeUrl && x.customState === state && x.codeVerifier !== undefined
        )
        .sort((a, b) => b.createdAt - a.createdAt)[0];
    }
    if (q.has("error")) {
      if (s) s.codeVerifier = undefined;
      return problem(400, "OAuth Authorization Failed", "Authorization was not completed.");
    }
    if (!s || s.codeVerifier === undefined || s.status !== "confirmed") {
      if (!state && !q.has("code")) {
        return problem(400, "Invalid Callback", "Missing state or code parameter.");
      }
      return problem(
        400,
        "Invalid State",
        "OAuth state parameter not recognized. Session may have expired.",
      );
    }
    const verifier = s.codeVerifier;
    s.codeVerifier = undefined;
    s.oauthState = undefined;
    const success = new Response(null, {
      status: 302,
      headers: { location: `${base}/connect/${s.code}?status=success` },
    });
    if (s.customAuthorizeUrl) {
      const captured: Record<string, string> = {};
      for (const name of s.customCallbackParams ?? []) captured[name] = q.get(name) ?? "";
      if (Object.values(captured).every((v) => v === "")) captured.code = q.get("code") ?? "";
      await store(s, captured);
      return success;
    }
    const code = q.get("code");
    if (!code) return problem(400, "Invalid Callback", "Missing code parameter.");
    const p = providers[s.oauthProvider!];
    const form = new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: `${base}/v1/oauth/callback`,
      code_verifier: verifier,
    });
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    if (p.tokenAuthMethod === "client_secret_basic") {
      const enc = (v: string) => encodeURIComponent(v);
      headers.authorization = `Basic ${btoa(`${enc(p.clientId)}:${enc(p.clientSecret)}`)}`;
    } else {
      form.set("client_id", p.clientId);
      form.set("client_secret", p.clientSecret);
    }
    let tokens: Record<string, unknown>;
    try {
      const res = await upstream(p.tokenUrl, {
        method: "POST",
        headers,
        body: form,
        redirect: "manual",
      });
      const body = await res.json().catch(() => undefined);
      if (!res.ok || !body || typeof body.access_token !== "string") {
        throw new Error(`token endpoint ${res.status}`);
      }
      tokens = body;
    } catch {
      return problem(
        400,
        "OAuth Authorization Failed",
        "The authorization code could not be exchanged.",
      );
    }
    if (typeof tokens.expires_in === "number") {
      tokens.expires_at = Math.floor(now() / 1000) + tokens.expires_in;
    }
    await store(s, tokens);
    return success;
  };

  const proxy = async (req: Request): Promise<Response> => {
    const body = await readJson(req);
    if (body instanceof Response) return body;
    const key = checkApiKey(req);
    if (key instanceof Response) return key;
    if (typeof body.method !== "string" || !PROXY_METHODS.test(body.method)) {
      return validation(
        ["body", "method"],
        "String should match pattern '^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$'",
        body.method,
      );
    }
    if (typeof body.url !== "string") return validation(["body", "url"], "Field required");
    const timeout = body.timeout === undefined ? 30 : body.timeout;
    if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 1 || timeout > 120) {
      return validation(["body", "timeout"], "Input should be between 1 and 120", timeout);
    }
    if (options.proxyEnabled === false) {
      return problem(403, "Proxy Disabled", "The HTTP proxy endpoint is disabled on this broker.");
    }
    let target: URL;
    try {
      target = new URL(body.url);
    } catch {
      return validation(["body", "url"], "Input should be a valid URL", body.url);
    }
    if (!/^https?:$/.test(target.protocol) || !hostAllowed(target.hostname)) {
      return problem(403, "Domain Not Allowed", "The target domain is not on the proxy allowlist.");
    }
    const headers = new Headers();
    if (body.headers && typeof body.headers === "object") {
      for (const [k, v] of Object.entries(body.headers as Record<string, unknown>)) {
        if (typeof v === "string") headers.set(k, v);
      }
    }
    proxyLog.push({ method: body.method, url: target.href });
    const t = Math.min(timeout, 60);
    let res: Response;
    try {
      res = await upstream(target.href, {
        method: body.method,
        headers,
        body: typeof body.body === "string" && body.method !== "GET" && body.method !== "HEAD"
          ? body.body
          : undefined,
        redirect: "manual",
        signal: AbortSignal.timeout(t * 1000),
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === "TimeoutError") {
        return problem(504, "Gateway Timeout", `The upstream server did not respond within ${t}s.`);
      }
      return problem(502, "Bad Gateway", "Failed to reach upstream.");
    }
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => (out[k] = k in out ? `${out[k]}, ${v}` : v));
    const cookies = res.headers.getSetCookie();
    if (cookies.length) out["set-cookie"] = cookies.join(", ");
    return json(200, { status_code: res.status, headers: out, body: await res.text() });
  };

  // -- dispatch ----------------------------------------------------------------------------------

  const handler = async (
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname;
    const client = info.remoteAddr.hostname;
    const m = req.method;
    const notAllowed = () => json(405, { detail: "Method Not Allowed" });
    let r: RegExpMatchArray | null;
    if (path === "/health") return m === "GET" ? json(200, { status: "ok" }) : notAllowed();
    if (path === "/v1/sessions") return m === "POST" ? await createSession(req) : notAllowed();
    if ((r = path.match(/^\/v1\/sessions\/([^/]+)$/))) {
      return m === "GET" ? poll(req, r[1]) : notAllowed();
    }
    if (path === "/v1/proxy") return m === "POST" ? await proxy(req) : notAllowed();
    if (path === "/v1/oauth/callback") return m === "GET" ? await callback(url) : notAllowed();
    if ((r = path.match(/^\/v1\/oauth\/authorize\/([^/]+)$/))) {
      return m === "GET" ? await authorize(url, decodeURIComponent(r[1]), client) : notAllowed();
    }
    if ((r = path.match(/^\/v1\/connect\/([^/]+)$/))) {
      return m === "GET" ? await connectInfo(req, decodeURIComponent(r[1]), client) : notAllowed();
    }
    if ((r = path.match(/^\/v1\/connect\/([^/]+)\/confirm$/))) {
      return m === "POST" ? await confirm(decodeURIComponent(r[1]), client) : notAllowed();
    }
    if ((r = path.match(/^\/v1\/connect\/([^/]+)\/complete$/))) {
      return m === "POST" ? await complete(req, decodeURIComponent(r[1]), client) : notAllowed();
    }
    if (path === "/connect" || /^\/connect\/[^/]+$/.test(path)) {
      if (m !== "GET") return notAllowed();
      return new Response(CONNECT_HTML, {
        headers: { "content-type": "text/html; charset=utf-8", ...PAGE_HEADERS },
      });
    }
    if (path === "/static/connect.js") {
      return new Response(CONNECT_JS, {
        headers: { "content-type": "text/javascript; charset=utf-8", ...PAGE_HEADERS },
      });
    }
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
      try {
        return await handler(req, info as Deno.ServeHandlerInfo<Deno.NetAddr>);
      } catch {
        return problem(500, "Internal Server Error", "The broker failed to handle the request.");
      }
    },
  );
  const scheme = options.tls ? "https" : "http";
  base = (options.baseUrl ?? `${scheme}://127.0.0.1:${server.addr.port}`).replace(/\/+$/, "");

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
    interval: pollInterval,
    algorithm: s.algorithm,
    pollCount: s.pollCount,
  });
  const mustFind = async (codeOrId: string) => {
    const s = await find(codeOrId);
    if (!s) throw new Error(`no live session ${codeOrId}`);
    return s;
  };
  const findSync = (codeOrId: string) => {
    if (/^[0-9a-f]{64}$/.test(codeOrId)) return visible(byId.get(codeOrId));
    const n = normalise(codeOrId);
    return [...byId.values()].map(visible).find((s) => s && normalise(s.code) === n);
  };

  return Promise.resolve({
    url: base,
    close: async () => {
      await server.shutdown();
    },
    sessions: () => [...byId.values()].map(visible).filter((s): s is Session => !!s).map(view),
    session: (codeOrId) => {
      const s = findSync(codeOrId);
      return s ? view(s) : undefined;
    },
    complete: async (codeOrId, plaintext) => {
      const s = await mustFind(codeOrId);
      if (s.status === "ready" || s.status === "consumed") {
        throw new Error("session already completed");
      }
      await store(s, plaintext);
    },
    inject: (codeOrId, ciphertext, algorithm = ENVELOPE_ALGORITHM) => {
      const s = findSync(codeOrId);
      if (!s) throw new Error(`no live session ${codeOrId}`);
      s.ciphertext = ciphertext;
      s.algorithm = algorithm;
      s.status = "ready";
    },
    expire: (codeOrId) => {
      const s = findSync(codeOrId);
      if (s) s.expiresAt = now();
    },
    proxyLog,
  });
}
