/**
 * A LinkAuth v0.2 broker emulator that speaks the real wire protocol (reference sections 1–7):
 * sessions, codes, poll states, slow_down, the connect page, OAuth with PKCE and the code
 * exchange, passthrough capture, encryption to the agent key, webhooks, signed `callback_url`
 * delivery and `/v1/proxy`, with the real route set, field order, nulls, the three error
 * shapes (Problem Details, API-key problems nested under `detail`, FastAPI's 422 list) and the
 * real order of checks. `tests/linkauth/fidelity_test.ts` pins that behaviour.
 *
 * It deliberately does NOT copy the real broker's known holes (reference section 14); each
 * deviation is marked `deliberate: closes hole N` in the code:
 * - 1: `/complete` needs a non-empty, matching connect token and is closed once an OAuth or
 *   passthrough redirect started (no empty-token injection);
 * - 2: a ready (unread) payload is never overwritten (webhook, callback);
 * - 3: code look-ups are also limited per client across all codes, keyed on the socket address,
 *   never on `X-Forwarded-For`;
 * - 4/5: `/v1/proxy` relays only to allowlisted hosts (an empty allowlist relays nothing) and no
 *   CORS headers are sent;
 * - 6: `callback_url` delivery to localhost works; 7: OAuth `state` is random, not the
 *   code-derived session id; 8: passthrough redirects only go to allowlisted hosts and consume
 *   the connect token; 10: negative TTLs are refused; 11: tokens compare in constant time;
 *   12: its own connect page (no third-party script, strict CSP); 17: consumption is atomic.
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

import {
  ALGORITHM as ENVELOPE_ALGORITHM,
  decodeStrict as decodeBase64Strict,
  encodeUrl as encodeBase64Url,
  sealForAgent,
} from "./envelope.ts";
import type { FetchLike } from "../../net/types.ts";
import { CONNECT_HTML, CONNECT_JS, PAGE_HEADERS } from "./page.ts";
import {
  apiKeyProblem,
  internalError,
  isoformat,
  json,
  problem,
  safeEqual,
  validation,
} from "./problem.ts";
import * as v from "./validate.ts";

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
  /** Token endpoint client authentication (default `client_secret_basic`, as authlib). */
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
  /** Largest webhook body accepted, bytes (default 65536). */
  maxWebhookPayload?: number;
  /** Upstream fetch for the code exchange, the proxy and callbacks (inject a CA here). */
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
  /** Resolves once every scheduled `callback_url` delivery (with its retries) has finished. */
  deliveriesSettled(): Promise<void>;
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
  callbackUrl?: string;
  callbackSecret?: string;
  webhookToken?: string;
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

interface Template {
  displayName: string;
  fields: FieldSpec[];
  /** OAuth built-ins: provider id and scopes. */
  oauth?: { provider: string; scopes: string[] };
}

const field = (name: string, label: string, type: string, required = true): FieldSpec => ({
  name,
  label,
  type,
  required,
  options: null,
});

/** The built-in templates (reference section 10.6). */
const TEMPLATES: Record<string, Template> = {
  api_key: { displayName: "API Key", fields: [field("api_key", "API Key", "password")] },
  basic_auth: {
    displayName: "Login Credentials",
    fields: [field("username", "Username", "text"), field("password", "Password", "password")],
  },
  aws: {
    displayName: "AWS Credentials",
    fields: [
      field("access_key_id", "Access Key ID", "text"),
      field("secret_access_key", "Secret Access Key", "password"),
      field("region", "Region", "text", false),
    ],
  },
  openai: { displayName: "OpenAI", fields: [field("api_key", "OpenAI API Key", "password")] },
  anthropic: {
    displayName: "Anthropic",
    fields: [field("api_key", "Anthropic API Key", "password")],
  },
  google_mail: {
    displayName: "Google Mail",
    fields: [],
    oauth: { provider: "google", scopes: ["https://www.googleapis.com/auth/gmail.readonly"] },
  },
  google_drive: {
    displayName: "Google Drive",
    fields: [],
    oauth: { provider: "google", scopes: ["https://www.googleapis.com/auth/drive.readonly"] },
  },
  microsoft_mail: {
    displayName: "Microsoft Mail",
    fields: [],
    oauth: { provider: "microsoft", scopes: ["https://graph.microsoft.com/Mail.Read"] },
  },
  github: {
    displayName: "GitHub",
    fields: [],
    oauth: { provider: "github", scopes: ["read:user", "repo"] },
  },
  slack: {
    displayName: "Slack",
    fields: [],
    oauth: { provider: "slack", scopes: ["chat:write", "channels:read"] },
  },
};

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const PROXY_METHODS = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$/;
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "::1"]);

/** Python's `fnmatch.fnmatchcase` (what the broker's proxy allowlist uses). */
export function fnmatchcase(name: string, pattern: string): boolean {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close === -1) re += "\\[";
      else {
        let set = pattern.slice(i + 1, close).replace(/\\/g, "\\\\");
        if (set.startsWith("!")) set = "^" + set.slice(1);
        else if (set.startsWith("^")) set = "\\" + set;
        re += `[${set}]`;
        i = close;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^(?:${re})$`, "s").test(name);
}

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
  const maxWebhookPayload = options.maxWebhookPayload ?? 65536;

  const byId = new Map<string, Session>();
  const failures = new Map<string, number[]>();
  const perCode = new Map<string, number[]>();
  const proxyLog: { method: string; url: string }[] = [];
  const deliveries = new Set<Promise<void>>();
  const closing = new AbortController();
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
  const hex = (bytes: ArrayBuffer) =>
    Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  const sha256hex = async (text: string) =>
    hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
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
  // deliberate: closes hole 4 and hole 5 — an empty allowlist relays nothing (the real broker
  // relays everything), so the emulator is never an open relay.
  const hostAllowed = (hostname: string) =>
    hostname !== "" && allowed.some((p) => fnmatchcase(hostname, p));

  const checkApiKey = (req: Request): Response | string | undefined => {
    if (apiKeys.length === 0) return undefined;
    const key = req.headers.get("x-api-key");
    if (!key) return apiKeyProblem(true);
    let ok = false;
    for (const k of apiKeys) ok = safeEqual(key, k) || ok; // compare against every key
    return ok ? key : apiKeyProblem(false);
  };

  const tooMany = () => problem(429, "Too Many Requests", "Rate limit exceeded. Try again later.");
  const notFound = () => problem(404, "Session Not Found", "Session not found or expired.");

  /**
   * The real limiter: more than 10 requests in 60 s per (client, raw code) answer 429; every
   * request counts, rejected ones too. `client` is the socket address —
   * deliberate: closes hole 3 (the real broker trusts a spoofable `X-Forwarded-For`).
   */
  const perCodeLimited = (client: string, rawCode: string) => {
    const t = now();
    const k = `${client}\u0000${rawCode}`;
    const recent = (perCode.get(k) ?? []).filter((x) => x > t - 60_000);
    recent.push(t);
    perCode.set(k, recent);
    return recent.length > 10;
  };
  /**
   * deliberate: closes hole 3 — failed code look-ups are also limited per client ACROSS codes,
   * so codes cannot be enumerated (the real limit is per code only).
   */
  const limited = (client: string) => {
    const t = now();
    const recent = (failures.get(client) ?? []).filter((x) => x > t - attemptWindow);
    failures.set(client, recent);
    return recent.length >= attemptLimit;
  };
  const recordFailure = (client: string) =>
    failures.get(client)?.push(now()) ?? failures.set(client, [now()]);

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

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      closing.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });

  /**
   * Outbound `callback_url` delivery (reference section 5): compact JSON, HMAC-SHA256 over the
   * raw bytes keyed by the whole `cs_…` string, one delivery id across retries, at most 3
   * attempts (sleeping 1 s then 4 s) on 5xx and network errors only, redirects not followed.
   * deliberate: closes hole 6 — localhost callbacks, which creation allows, are delivered.
   */
  const deliver = (s: Session) => {
    if (!s.callbackUrl || !s.callbackSecret || s.ciphertext === undefined) return;
    const url = s.callbackUrl;
    const body = JSON.stringify({
      session_id: s.sessionId,
      status: "ready",
      ciphertext: s.ciphertext,
      ...(s.algorithm !== undefined ? { algorithm: s.algorithm } : {}),
    });
    const secret = s.callbackSecret;
    const run = async () => {
      const key = await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      const signature = hex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
      const headers = {
        "content-type": "application/json",
        "x-linkauth-delivery-id": crypto.randomUUID(),
        "x-linkauth-signature": `sha256=${signature}`,
      };
      for (const pause of [0, 1000, 4000]) {
        if (pause) await sleep(pause);
        if (closing.signal.aborted) return;
        try {
          const res = await upstream(url, {
            method: "POST",
            headers,
            body,
            redirect: "manual",
            signal: AbortSignal.any([closing.signal, AbortSignal.timeout(10_000)]),
          });
          await res.body?.cancel();
          if (res.status < 500) return;
        } catch {
          // network error or timeout: retried
        }
      }
    };
    const p: Promise<void> = run().catch(() => {}).finally(() => deliveries.delete(p));
    deliveries.add(p);
  };

  const store = async (s: Session, plaintext: unknown) => {
    s.ciphertext = await sealForAgent(s.publicKey, plaintext);
    s.algorithm = ENVELOPE_ALGORITHM;
    s.status = "ready";
  };

  /** FastAPI decodes the body before anything else: malformed JSON is a 422 first. */
  const readJson = async (req: Request): Promise<{ body: unknown } | Response> => {
    const text = await req.text();
    if (text.trim() === "") {
      return validation([{ type: "missing", loc: ["body"], msg: "Field required", input: null }]);
    }
    try {
      return { body: JSON.parse(text) };
    } catch (e) {
      const at = /position (\d+)/.exec(String(e))?.[1];
      return validation([{
        type: "json_invalid",
        loc: ["body", at ? Number(at) : 0],
        msg: "JSON decode error",
        input: {},
        ctx: { error: "Expecting value" },
      }]);
    }
  };

  // -- routes ------------------------------------------------------------------------------------

  const FIELD_RULES = {
    name: v.str({ required: true }),
    label: v.str({ required: true }),
    type: v.str({ default: "text" }),
    required: v.bool(true),
    options: v.strList(),
  };
  const CREATE_RULES = {
    public_key: v.str({ required: true }),
    template: v.str(),
    display_name: v.str(),
    fields: v.modelList(FIELD_RULES),
    oauth_provider: v.str(),
    oauth_scopes: v.strList(),
    oauth_extra_params: v.strDict(),
    callback_url: v.str(),
    // deliberate: closes hole 10 — a negative TTL is refused (the real broker creates an
    // already-expired session).
    ttl: v.int({ ge: 0 }),
    custom_authorize_url: v.str(),
    custom_callback_params: v.strList(),
    custom_state: v.str(),
    enable_webhook: v.bool(false),
  };
  interface CreateBody {
    public_key: string;
    template: string | null;
    display_name: string | null;
    fields: FieldSpec[] | null;
    oauth_provider: string | null;
    oauth_scopes: string[] | null;
    oauth_extra_params: Record<string, string> | null;
    callback_url: string | null;
    ttl: number | null;
    custom_authorize_url: string | null;
    custom_callback_params: string[] | null;
    custom_state: string | null;
    enable_webhook: boolean;
  }

  /** The `Invalid Public Key` checks of step 1, in the real order. */
  const checkPublicKey = async (publicKey: string): Promise<Response | undefined> => {
    const invalidKey = (detail: string) => problem(400, "Invalid Public Key", detail);
    if (!publicKey.trim()) return invalidKey("public_key is required and must not be empty.");
    const der = decodeBase64Strict(publicKey);
    if (!der) {
      return invalidKey(
        "public_key is not valid base64. Expected base64-encoded DER (SubjectPublicKeyInfo).",
      );
    }
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
      const bits = (k.algorithm as RsaHashedKeyAlgorithm).modulusLength;
      return bits < 2048
        ? invalidKey(`RSA key too small (${bits} bits). Minimum is 2048 bits.`)
        : undefined;
    } catch {
      // Not RSA: name the key class the way Python `cryptography` does, if it parses at all.
      const others: [string, AlgorithmIdentifier | EcKeyImportParams][] = [
        ["ECPublicKey", { name: "ECDSA", namedCurve: "P-256" }],
        ["ECPublicKey", { name: "ECDSA", namedCurve: "P-384" }],
        ["ECPublicKey", { name: "ECDSA", namedCurve: "P-521" }],
        ["Ed25519PublicKey", { name: "Ed25519" }],
        ["X25519PublicKey", { name: "X25519" }],
      ];
      for (const [cls, alg] of others) {
        try {
          await crypto.subtle.importKey("spki", der, alg, true, []);
          return invalidKey(`public_key must be an RSA key, got ${cls}.`);
        } catch {
          // try the next kind
        }
      }
      return invalidKey(
        "public_key is not a valid public key. Expected RSA SubjectPublicKeyInfo in DER format.",
      );
    }
  };

  const providerError = (provider: string) =>
    problem(
      400,
      "OAuth Provider Error",
      `OAuth provider '${provider}' is not configured. Set OAUTH_${provider.toUpperCase()}_CLIENT_ID and OAUTH_${provider.toUpperCase()}_CLIENT_SECRET environment variables.`,
    );

  const createSession = async (req: Request): Promise<Response> => {
    const decoded = await readJson(req);
    if (decoded instanceof Response) return decoded;
    const key = checkApiKey(req);
    if (key instanceof Response) return key;
    const checked = v.check<CreateBody>(decoded.body, CREATE_RULES);
    if (checked.issues.length) return validation(checked.issues);
    const body = checked.value!;

    // 1. the public key
    const badKey = await checkPublicKey(body.public_key);
    if (badKey) return badKey;

    // 2. the template: oauth_provider wins, then a built-in id, then custom fields
    const template = body.template;
    const builtin = template !== null ? TEMPLATES[template] : undefined;
    let templateType: "form" | "oauth";
    let fields: FieldSpec[] = [];
    let displayName: string;
    let provider: string | undefined;
    let scopes = body.oauth_scopes ?? undefined;
    if (body.oauth_provider) {
      provider = body.oauth_provider;
      templateType = "oauth";
      displayName = body.display_name || `OAuth (${provider})`;
    } else if (builtin) {
      templateType = builtin.oauth ? "oauth" : "form";
      fields = builtin.fields;
      provider = builtin.oauth?.provider;
      scopes ??= builtin.oauth?.scopes;
      displayName = body.display_name || builtin.displayName;
    } else if (body.fields && body.fields.length > 0) {
      templateType = "form";
      fields = body.fields;
      displayName = body.display_name || "Custom Credentials";
    } else {
      return problem(
        400,
        "Invalid Template",
        `Unknown template '${template ?? "None"}' and no custom fields or OAuth provider provided`,
      );
    }

    // 3. the callback URL
    if (body.callback_url !== null) {
      let ok = false;
      try {
        const u = new URL(body.callback_url);
        ok = u.protocol === "https:" ||
          LOCAL_HOSTS.has(u.hostname.replace(/^\[(.*)\]$/, "$1"));
      } catch {
        ok = false;
      }
      if (!ok) {
        return problem(
          400,
          "Invalid Callback URL",
          "callback_url must use HTTPS in production. HTTP is only allowed for localhost.",
        );
      }
    }

    // 4. the OAuth provider must resolve
    if (provider !== undefined && !providers[provider]) return providerError(provider);

    if (body.custom_authorize_url !== null) {
      // deliberate: closes hole 8 — passthrough redirects only go to allowlisted hosts (the
      // real broker is an open redirect for any API-key holder).
      let target: URL | undefined;
      try {
        target = new URL(body.custom_authorize_url);
      } catch {
        target = undefined;
      }
      if (!target || !/^https?:$/.test(target.protocol) || !hostAllowed(target.hostname)) {
        return problem(
          400,
          "Invalid Authorize URL",
          "custom_authorize_url must target an allowed host.",
        );
      }
    }
    const ttl = Math.min(body.ttl || defaultTtl, maxTtl);

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
      displayName,
      templateType,
      fields,
      oauthProvider: provider,
      oauthScopes: scopes,
      oauthExtraParams: body.oauth_extra_params ?? undefined,
      customAuthorizeUrl: body.custom_authorize_url ?? undefined,
      customCallbackParams: body.custom_callback_params ?? undefined,
      customState: body.custom_state ?? undefined,
      callbackUrl: body.callback_url ?? undefined,
      callbackSecret: body.callback_url !== null ? token("cs_") : undefined,
      webhookToken: body.enable_webhook ? token("wt_") : undefined,
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
      callback_secret: s.callbackSecret ?? null,
      webhook_url: s.webhookToken
        ? `${base}/v1/sessions/${sessionId}/webhook?token=${s.webhookToken}`
        : null,
    });
  };

  /** Poll: API key, Bearer, 404, 403, slow_down, then the one-time `ready` (section 4.2). */
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
        { "www-authenticate": "Bearer" },
      );
    }
    const s = visible(byId.get(id));
    if (!s) return notFound();
    // deliberate: closes hole 11 — constant-time comparison.
    if (!safeEqual(auth.slice(7).trim(), s.pollToken)) {
      return problem(403, "Forbidden", "Invalid poll_token.");
    }
    const t = now();
    // Strict `<` against the last ACCEPTED poll; a 429 does not move the timestamp.
    if (s.lastPoll !== undefined && t - s.lastPoll < pollInterval * 1000) {
      return problem(429, "Slow Down", "Polling too frequently. Increase your polling interval.", {
        type: "urn:ietf:params:oauth:error:slow_down",
        interval: pollInterval + 5,
      });
    }
    s.lastPoll = t;
    s.pollCount++;
    if (s.status === "ready") {
      // deliberate: closes hole 17 — atomic in this single-threaded emulator: the ciphertext is
      // handed out exactly once.
      const { ciphertext, algorithm } = s;
      s.status = "consumed";
      s.consumedAt = t;
      s.ciphertext = undefined;
      s.lastPoll = undefined; // the real broker drops the slow_down entry on consumption
      return json(200, {
        status: "ready",
        expires_at: isoformat(s.expiresAt),
        interval: null,
        ciphertext: ciphertext ?? null,
        algorithm: algorithm ?? null,
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

  /** The connect page's security banner (section 4.3). */
  const security = (req: Request) => {
    const url = new URL(req.url);
    if (
      req.headers.get("x-forwarded-proto") === "https" || url.protocol === "https:" ||
      base.startsWith("https://")
    ) {
      return { secure: true, mode: "production", message: null };
    }
    let host = "";
    try {
      host = new URL(`http://${req.headers.get("host") ?? url.host}`).hostname;
    } catch {
      host = "";
    }
    host = host.replace(/^\[(.*)\]$/, "$1");
    if (LOCAL_HOSTS.has(host) || host === "0.0.0.0") {
      return {
        secure: false,
        mode: "development",
        message: "Development mode -- connection is not encrypted. Do not enter real credentials.",
      };
    }
    return {
      secure: false,
      mode: "insecure",
      message: "WARNING: Connection is not encrypted (no TLS). Do not enter real credentials. " +
        "Configure HTTPS or a reverse proxy before using in production.",
    };
  };

  const connectInfo = async (req: Request, code: string, client: string): Promise<Response> => {
    if (perCodeLimited(client, code)) return tooMany();
    const found = await lookupForClient(code, client);
    if (found.error) return found.error;
    const s = found.session;
    if (s.status === "ready" || s.status === "consumed") {
      return problem(410, "Session Gone", "Session already completed.");
    }
    if (s.status === "confirmed") return notFound();
    return json(200, {
      status: "pending",
      display_name: s.displayName,
      template_type: s.templateType,
      code: s.code,
      fields: s.fields,
      public_key: s.publicKey,
      security: security(req),
      oauth_url: null,
    });
  };

  const confirm = async (code: string, client: string): Promise<Response> => {
    if (perCodeLimited(client, code)) return tooMany();
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

  const COMPLETE_RULES = {
    ciphertext: v.str({ required: true }),
    algorithm: v.str({ default: ENVELOPE_ALGORITHM }),
    connect_token: v.str({ required: true }),
  };

  const complete = async (req: Request, code: string, client: string): Promise<Response> => {
    // The body is validated before the handler runs: 422 comes before 404.
    const decoded = await readJson(req);
    if (decoded instanceof Response) return decoded;
    const checked = v.check<{ ciphertext: string; algorithm: string; connect_token: string }>(
      decoded.body,
      COMPLETE_RULES,
    );
    if (checked.issues.length) return validation(checked.issues);
    const body = checked.value!;
    const found = await lookupForClient(code, client);
    if (found.error) return found.error;
    const s = found.session;
    // deliberate: closes hole 1 — once an OAuth or passthrough redirect started, `/complete`
    // is closed (the real broker accepts an empty connect_token there, and the never-consumed
    // passthrough token). Also hole 2: a ready session is never overwritten.
    if (s.status !== "confirmed" || s.oauthStarted) {
      return problem(409, "Session Not Completable", "Session is not in a completable state.");
    }
    // deliberate: closes hole 1 and hole 11 — an empty token never matches; constant time.
    if (!s.connectToken || !body.connect_token || !safeEqual(body.connect_token, s.connectToken)) {
      return problem(
        403,
        "Invalid Connect Token",
        "Invalid connect_token. Re-confirm the session code.",
      );
    }
    s.ciphertext = body.ciphertext;
    s.algorithm = body.algorithm;
    s.status = "ready";
    s.connectToken = undefined;
    deliver(s);
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
    if (s.customAuthorizeUrl) {
      // deliberate: closes hole 8 — the passthrough redirect consumes the connect token too.
      s.connectToken = undefined;
      s.oauthStarted = true;
      s.codeVerifier = "";
      return new Response(null, { status: 302, headers: { location: s.customAuthorizeUrl } });
    }
    const p = s.oauthProvider ? providers[s.oauthProvider] : undefined;
    if (s.templateType !== "oauth") {
      return problem(400, "Not an OAuth Session", "This session does not use OAuth.");
    }
    if (!p) {
      const e = await providerError(s.oauthProvider ?? "").json();
      return problem(503, "OAuth Provider Error", e.detail);
    }
    s.connectToken = undefined; // consumed (the real broker sets it to "")
    s.oauthStarted = true;
    s.codeVerifier = encodeBase64Url(crypto.getRandomValues(new Uint8Array(64)));
    // deliberate: closes hole 7 — a random state, not the code-derived session id.
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
    for (const [k, val] of Object.entries({ ...p.extraParams, ...s.oauthExtraParams })) {
      target.searchParams.set(k, val);
    }
    return new Response(null, { status: 302, headers: { location: target.href } });
  };

  const callback = async (url: URL): Promise<Response> => {
    const q = url.searchParams;
    const state = q.get("state");
    const live = [...byId.values()].map(visible).filter((s): s is Session => !!s);
    // deliberate: closes hole 7 — path A matches the random state only (never the
    // code-derivable session id, which the real broker also accepts for passthrough sessions).
    let s = state
      ? live.find((x) => x.oauthState !== undefined && safeEqual(x.oauthState, state))
      : undefined;
    if (!s && state) {
      // Path B: the newest passthrough session waiting with this custom_state.
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
    // deliberate: closes hole 2 — only a confirmed session waiting for this callback is written.
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
      if (Object.values(captured).every((x) => x === "")) captured.code = q.get("code") ?? "";
      await store(s, captured);
      deliver(s);
      return success;
    }
    const code = q.get("code");
    if (!code) return problem(400, "Invalid Callback", "Missing code parameter.");
    const p = providers[s.oauthProvider ?? ""];
    if (!p) return problem(400, "Not an OAuth Session", "This session does not use OAuth.");
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
    // authlib's default client authentication is client_secret_basic.
    if ((p.tokenAuthMethod ?? "client_secret_basic") === "client_secret_basic") {
      const enc = (x: string) => encodeURIComponent(x);
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
    deliver(s);
    return success;
  };

  /** `POST /v1/sessions/{id}/webhook?token=wt_…`: 404, 403, 403, 413 in that order (4.8). */
  const webhook = async (req: Request, url: URL, id: string): Promise<Response> => {
    const s = visible(byId.get(id));
    if (!s) return notFound();
    if (!s.webhookToken) {
      return problem(403, "Webhook Not Enabled", "This session does not have webhooks enabled.");
    }
    const presented = url.searchParams.get("token") ?? "";
    if (!safeEqual(presented, s.webhookToken)) {
      return problem(403, "Invalid Webhook Token", "The provided webhook token is not valid.");
    }
    const raw = new Uint8Array(await req.arrayBuffer());
    if (raw.length > maxWebhookPayload) {
      return problem(
        413,
        "Payload Too Large",
        `Webhook payload exceeds the maximum allowed size of ${maxWebhookPayload} bytes.`,
      );
    }
    // deliberate: closes hole 2 — a ready (unread) payload is never overwritten; the real
    // broker overwrites it (the consumed case is its own 500).
    if (s.status === "consumed" || s.status === "ready") {
      return problem(500, "Storage Error", "Failed to store encrypted webhook payload.");
    }
    const headers: Record<string, string> = {};
    req.headers.forEach((value, name) => (headers[name] ??= value));
    await store(s, {
      headers,
      body: new TextDecoder().decode(raw),
      content_type: req.headers.get("content-type") ?? "application/octet-stream",
    });
    return json(200, { status: "accepted", session_id: id });
  };

  const PROXY_RULES = {
    method: v.pattern(PROXY_METHODS, { required: true }),
    url: v.str({ required: true }),
    headers: v.strDict(),
    body: v.str(),
    timeout: v.int({ default: 30, ge: 1, le: 120 }),
  };

  const proxy = async (req: Request): Promise<Response> => {
    const decoded = await readJson(req);
    if (decoded instanceof Response) return decoded;
    const key = checkApiKey(req);
    if (key instanceof Response) return key;
    const checked = v.check<{
      method: string;
      url: string;
      headers: Record<string, string> | null;
      body: string | null;
      timeout: number;
    }>(decoded.body, PROXY_RULES);
    if (checked.issues.length) return validation(checked.issues);
    const body = checked.value!;
    if (options.proxyEnabled === false) {
      return problem(403, "Proxy Disabled", "The HTTP proxy endpoint is disabled on this broker.");
    }
    let target: URL | undefined;
    try {
      target = new URL(body.url);
    } catch {
      target = undefined;
    }
    if (!hostAllowed(target?.hostname ?? "")) {
      return problem(403, "Domain Not Allowed", "The target domain is not on the proxy allowlist.");
    }
    const t = Math.min(body.timeout, 60);
    if (!/^https?:$/.test(target!.protocol)) {
      return problem(
        502,
        "Bad Gateway",
        `Failed to reach upstream: Request URL has an unsupported protocol '${
          target!.protocol
        }//'.`,
      );
    }
    const headers = new Headers();
    for (const [k, val] of Object.entries(body.headers ?? {})) headers.set(k, val);
    proxyLog.push({ method: body.method, url: target!.href });
    let res: Response;
    try {
      res = await upstream(target!.href, {
        method: body.method,
        headers,
        // Web fetch cannot send a body with GET/HEAD (httpx can): the one gap left here.
        body: body.body !== null && body.method !== "GET" && body.method !== "HEAD"
          ? body.body
          : undefined,
        redirect: "manual",
        signal: AbortSignal.timeout(t * 1000),
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === "TimeoutError") {
        return problem(504, "Gateway Timeout", `The upstream server did not respond within ${t}s.`);
      }
      // httpx's ConnectError text; the exception message itself is not relayed.
      return problem(
        502,
        "Bad Gateway",
        "Failed to reach upstream: All connection attempts failed",
      );
    }
    const out: Record<string, string> = {};
    res.headers.forEach((val, k) => (out[k] = k in out ? `${out[k]}, ${val}` : val));
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
    // Starlette answers HEAD on every GET route.
    const m = req.method === "HEAD" ? "GET" : req.method;
    const notAllowed = (allow: string) => json(405, { detail: "Method Not Allowed" }, { allow });
    const GET = "GET, HEAD";
    let r: RegExpMatchArray | null;
    if (path === "/health") return m === "GET" ? json(200, { status: "ok" }) : notAllowed(GET);
    if (path === "/v1/sessions") {
      return m === "POST" ? await createSession(req) : notAllowed("POST");
    }
    if ((r = path.match(/^\/v1\/sessions\/([^/]+)$/))) {
      return m === "GET" ? poll(req, decodeURIComponent(r[1])) : notAllowed(GET);
    }
    if ((r = path.match(/^\/v1\/sessions\/([^/]+)\/webhook$/))) {
      return m === "POST" ? await webhook(req, url, decodeURIComponent(r[1])) : notAllowed("POST");
    }
    if (path === "/v1/proxy") return m === "POST" ? await proxy(req) : notAllowed("POST");
    if (path === "/v1/oauth/callback") return m === "GET" ? await callback(url) : notAllowed(GET);
    if ((r = path.match(/^\/v1\/oauth\/authorize\/([^/]+)$/))) {
      return m === "GET" ? await authorize(url, decodeURIComponent(r[1]), client) : notAllowed(GET);
    }
    if ((r = path.match(/^\/v1\/connect\/([^/]+)$/))) {
      return m === "GET"
        ? await connectInfo(req, decodeURIComponent(r[1]), client)
        : notAllowed(GET);
    }
    if ((r = path.match(/^\/v1\/connect\/([^/]+)\/confirm$/))) {
      return m === "POST" ? await confirm(decodeURIComponent(r[1]), client) : notAllowed("POST");
    }
    if ((r = path.match(/^\/v1\/connect\/([^/]+)\/complete$/))) {
      return m === "POST"
        ? await complete(req, decodeURIComponent(r[1]), client)
        : notAllowed("POST");
    }
    // deliberate: closes hole 12 — our own page (no third-party script, strict CSP). The extra
    // code-entry page `/connect` is the draft's manual_code_entry mode, which `mcs dev` shows.
    if (path === "/connect" || /^\/connect\/[^/]+$/.test(path)) {
      if (m !== "GET") return notAllowed(GET);
      return new Response(CONNECT_HTML, {
        headers: { "content-type": "text/html; charset=utf-8", ...PAGE_HEADERS },
      });
    }
    if (path === "/static/connect.js") {
      if (m !== "GET") return notAllowed(GET);
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
      let res: Response;
      try {
        res = await handler(req, info as Deno.ServeHandlerInfo<Deno.NetAddr>);
      } catch {
        res = internalError();
      }
      if (req.headers.get("x-forwarded-proto") === "https" || base.startsWith("https://")) {
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
      closing.abort();
      await Promise.all([...deliveries]);
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
      deliver(s);
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
    deliveriesSettled: async () => {
      while (deliveries.size) await Promise.all([...deliveries]);
    },
  });
}
