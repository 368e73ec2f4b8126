/**
 * The stateless parts of the LinkAuth v0.2 wire protocol, shared by the production broker
 * (`lib/broker/handler.ts`, state on a CacheStore) and the in-memory emulator
 * (`lib/emulators/linkauth`): body decoding, the create request's checks in the real order
 * (reference 4.1), the poll and connect answers (4.2, 4.3), the OAuth authorize URL and code
 * exchange (4.6, 4.7), passthrough capture, and the proxy's request checks and 200 wrapper (4.9).
 * Nothing here keeps state; callers decide what a session may do.
 *
 * @example
 * ```ts
 * import { fnmatchcase } from "./protocol.ts";
 * fnmatchcase("a.b.auth0.com", "*.auth0.com"); // true
 * ```
 * @module
 */
import type { FetchLike } from "../net/types.ts";
import { decodeStrict, encodeUrl } from "./envelope.ts";
import { isoformat, json, problem, validation } from "./problem.ts";
import { type Session, token } from "./session.ts";
import { type FieldSpec, TEMPLATES } from "./templates.ts";
import * as v from "./validate.ts";

/** An OAuth provider the broker is the confidential client of. */
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

/** Hosts for which `http` callbacks are allowed and the connect page is in development mode. */
export const LOCAL_HOSTS: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "::1"]);

/** 429 of the connect-route limiter (with `Retry-After` when the wait is known). */
export const tooMany = (retryAfterS?: number): Response =>
  problem(
    429,
    "Too Many Requests",
    "Rate limit exceeded. Try again later.",
    {},
    retryAfterS ? { "retry-after": String(retryAfterS) } : {},
  );

/** 404 for an unknown, expired or hidden session. */
export const notFound = (): Response =>
  problem(404, "Session Not Found", "Session not found or expired.");

/** FastAPI decodes the body before anything else: malformed JSON is a 422 first. */
export async function readJson(req: Request): Promise<{ body: unknown } | Response> {
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
}

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

/**
 * Whether the proxy and passthrough redirects may target `hostname`.
 * deliberate: closes hole 4 and hole 5 — an empty allowlist relays nothing (the real broker
 * relays everything), so the broker is never an open relay.
 */
export function hostAllowed(allowedHosts: readonly string[], hostname: string): boolean {
  return hostname !== "" && allowedHosts.some((p) => fnmatchcase(hostname, p));
}

/** 400 `OAuth Provider Error` with the resolver's message for an unconfigured provider. */
export function providerError(provider: string, status = 400): Response {
  const p = provider.toUpperCase();
  return problem(
    status,
    "OAuth Provider Error",
    `OAuth provider '${provider}' is not configured. Set OAUTH_${p}_CLIENT_ID and OAUTH_${p}_CLIENT_SECRET environment variables.`,
  );
}

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

/** `POST /v1/sessions` after validation. */
export interface CreateBody {
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

/** The session fields a create request decides (everything but ids, tokens and times). */
export type SessionDraft = Pick<
  Session,
  | "publicKey"
  | "displayName"
  | "templateType"
  | "fields"
  | "oauthProvider"
  | "oauthScopes"
  | "oauthExtraParams"
  | "customAuthorizeUrl"
  | "customCallbackParams"
  | "customState"
  | "callbackUrl"
>;

/** The `Invalid Public Key` checks of step 1, in the real order. */
export async function checkPublicKey(publicKey: string): Promise<Response | undefined> {
  const invalidKey = (detail: string) => problem(400, "Invalid Public Key", detail);
  if (!publicKey.trim()) return invalidKey("public_key is required and must not be empty.");
  const der = decodeStrict(publicKey);
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
      ["encrypt"],
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
}

/**
 * The pending session a checked `POST /v1/sessions` ({@link checkCreate}) makes: the draft, a
 * fresh poll token, a callback secret when `callback_url` was given and a webhook token when
 * `enable_webhook`; `at` names it (id, code, creating key) and its lifetime.
 */
export function newSession(
  { draft, body }: { draft: SessionDraft; body: CreateBody },
  at: { sessionId: string; code: string; apiKey?: string; createdAt: number; expiresAt: number },
): Session {
  return {
    ...draft,
    sessionId: at.sessionId,
    code: at.code,
    apiKey: at.apiKey,
    callbackSecret: body.callback_url !== null ? token("cs_") : undefined,
    webhookToken: body.enable_webhook ? token("wt_") : undefined,
    status: "pending",
    pollToken: token("pt_"),
    oauthStarted: false,
    createdAt: at.createdAt,
    expiresAt: at.expiresAt,
    pollCount: 0,
  };
}

/**
 * Schema, public key, template, callback URL, provider and passthrough target checks of
 * `POST /v1/sessions` (after the API key), in the real broker's order. Returns the draft session
 * and the validated body, or the error response.
 */
export async function checkCreate(
  raw: unknown,
  o: { hasProvider(id: string): boolean | Promise<boolean>; allowedHosts: readonly string[] },
): Promise<{ draft: SessionDraft; body: CreateBody } | Response> {
  const checked = v.check<CreateBody>(raw, CREATE_RULES);
  if (checked.issues.length) return validation(checked.issues);
  const body = checked.value!;
  const badKey = await checkPublicKey(body.public_key);
  if (badKey) return badKey;

  // the template: oauth_provider wins, then a built-in id, then custom fields
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

  if (body.callback_url !== null) {
    let ok = false;
    try {
      const u = new URL(body.callback_url);
      ok = u.protocol === "https:" || LOCAL_HOSTS.has(u.hostname.replace(/^\[(.*)\]$/, "$1"));
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

  if (provider !== undefined && !(await o.hasProvider(provider))) return providerError(provider);

  if (body.custom_authorize_url !== null) {
    // deliberate: closes hole 8 — passthrough redirects only go to allowlisted hosts (the
    // real broker is an open redirect for any API-key holder).
    let target: URL | undefined;
    try {
      target = new URL(body.custom_authorize_url);
    } catch {
      target = undefined;
    }
    if (
      !target || !/^https?:$/.test(target.protocol) ||
      !hostAllowed(o.allowedHosts, target.hostname)
    ) {
      return problem(
        400,
        "Invalid Authorize URL",
        "custom_authorize_url must target an allowed host.",
      );
    }
  }
  return {
    body,
    draft: {
      publicKey: body.public_key,
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
    },
  };
}

/** The 201 body of `POST /v1/sessions` (keys in the real order). */
export function createdBody(s: Session, base: string, interval: number): Response {
  return json(201, {
    session_id: s.sessionId,
    code: s.code,
    url: `${base}/connect/${s.code}`,
    poll_token: s.pollToken,
    expires_at: isoformat(s.expiresAt),
    interval,
    callback_secret: s.callbackSecret ?? null,
    webhook_url: s.webhookToken
      ? `${base}/v1/sessions/${s.sessionId}/webhook?token=${s.webhookToken}`
      : null,
  });
}

/** The poll's 401 for a missing or malformed `Authorization` header. */
export const pollUnauthorized = (): Response =>
  problem(
    401,
    "Unauthorized",
    "Missing or invalid Authorization header. Use: Bearer <poll_token>",
    {},
    { "www-authenticate": "Bearer" },
  );

/** The poll's 403 for a wrong poll token. */
export const badPollToken = (): Response => problem(403, "Forbidden", "Invalid poll_token.");

/** The poll's 429 `slow_down`. */
export const slowDown = (interval: number): Response =>
  problem(429, "Slow Down", "Polling too frequently. Increase your polling interval.", {
    type: "urn:ietf:params:oauth:error:slow_down",
    interval: interval + 5,
  });

/** A poll's 200 body; `handed` is the ciphertext when this poll consumed a ready session. */
export function pollBody(
  s: Session,
  interval: number,
  handed?: { ciphertext?: string; algorithm?: string },
): Response {
  if (handed) {
    return json(200, {
      status: "ready",
      expires_at: isoformat(s.expiresAt),
      interval: null,
      ciphertext: handed.ciphertext ?? null,
      algorithm: handed.algorithm ?? null,
    });
  }
  if (s.status === "failed") {
    // A denied sign-in or consent: `expired` (LinkAuth's own terminal status) tells any client
    // to start over now rather than poll until the TTL runs out.
    return json(200, {
      status: "expired",
      expires_at: isoformat(s.expiresAt),
      interval: null,
      ciphertext: null,
      algorithm: null,
      error: s.failure ?? "access_denied",
    });
  }
  return json(200, {
    status: s.status,
    expires_at: isoformat(s.expiresAt),
    interval,
    ciphertext: null,
    algorithm: null,
  });
}

/** The connect page's security banner (section 4.3). */
export function securityBanner(req: Request, base: string, forwardedProto?: string | null) {
  const url = new URL(req.url);
  if (forwardedProto === "https" || url.protocol === "https:" || base.startsWith("https://")) {
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
}

/** `GET /v1/connect/{code}` for a session in any state (410, hidden 404, or the 200 body). */
export function connectInfoBody(s: Session, security: unknown): Response {
  if (s.status === "ready" || s.status === "consumed") {
    return problem(410, "Session Gone", "Session already completed.");
  }
  if (s.status !== "pending") return notFound();
  return json(200, {
    status: "pending",
    display_name: s.displayName,
    template_type: s.templateType,
    code: s.code,
    fields: s.fields,
    public_key: s.publicKey,
    security,
    oauth_url: null,
  });
}

/** 409 for confirm on a non-pending session. */
export const alreadyConfirmed = (): Response =>
  problem(409, "Already Confirmed", "Session has already been confirmed.");

/** 409 for `/complete` on a session that may not be completed that way. */
export const notCompletable = (): Response =>
  problem(409, "Session Not Completable", "Session is not in a completable state.");

/** 403 for a bad connect token on `/complete`. */
export const badConnectToken = (): Response =>
  problem(403, "Invalid Connect Token", "Invalid connect_token. Re-confirm the session code.");

const COMPLETE_RULES = {
  ciphertext: v.str({ required: true }),
  algorithm: v.str({ default: "RSA-OAEP-256+AES-256-GCM" }),
  connect_token: v.str({ required: true }),
};

/** `/complete`'s body, validated before the handler runs (422 comes before 404). */
export async function readComplete(
  req: Request,
): Promise<{ ciphertext: string; algorithm: string; connect_token: string } | Response> {
  const decoded = await readJson(req);
  if (decoded instanceof Response) return decoded;
  const checked = v.check<{ ciphertext: string; algorithm: string; connect_token: string }>(
    decoded.body,
    COMPLETE_RULES,
  );
  return checked.issues.length ? validation(checked.issues) : checked.value!;
}

/** The authorize route's 409 and 403. */
export const codeNotConfirmed = (): Response =>
  problem(409, "Code Not Confirmed", "Session code must be confirmed before starting OAuth flow.");
/** The authorize route's 403 for a missing or wrong connect token. */
export const authorizeBadToken = (): Response =>
  problem(
    403,
    "Invalid Connect Token",
    "Invalid or missing connect_token. Re-confirm the session code.",
  );

/** A PKCE verifier and its S256 challenge. */
export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = encodeUrl(crypto.getRandomValues(new Uint8Array(64)));
  const challenge = encodeUrl(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
  );
  return { verifier, challenge };
}

/** The provider's authorize URL for a session (section 4.6). */
export function authorizeUrl(
  p: BrokerOAuthProvider,
  s: Session,
  o: { redirectUri: string; state: string; challenge: string },
): string {
  const target = new URL(p.authorizeUrl);
  const scope = s.oauthScopes?.length ? s.oauthScopes.join(" ") : p.scope;
  target.searchParams.set("response_type", "code");
  target.searchParams.set("client_id", p.clientId);
  target.searchParams.set("redirect_uri", o.redirectUri);
  if (scope) target.searchParams.set("scope", scope);
  target.searchParams.set("state", o.state);
  target.searchParams.set("code_challenge", o.challenge);
  target.searchParams.set("code_challenge_method", "S256");
  for (const [k, val] of Object.entries({ ...p.extraParams, ...s.oauthExtraParams })) {
    target.searchParams.set(k, val);
  }
  return target.href;
}

/** The callback's 400 for an unknown state. */
export function invalidState(q: URLSearchParams): Response {
  if (!q.get("state") && !q.has("code")) {
    return problem(400, "Invalid Callback", "Missing state or code parameter.");
  }
  return problem(
    400,
    "Invalid State",
    "OAuth state parameter not recognized. Session may have expired.",
  );
}

/** Passthrough capture (section 4.7 step 6). */
export function captureParams(s: Session, q: URLSearchParams): Record<string, string> {
  const captured: Record<string, string> = {};
  for (const name of s.customCallbackParams ?? []) captured[name] = q.get(name) ?? "";
  if (Object.values(captured).every((x) => x === "")) captured.code = q.get("code") ?? "";
  return captured;
}

/**
 * Exchange an authorization code at the provider (authlib's defaults: `client_secret_basic`),
 * adding authlib's `expires_at`. Returns the token response or the 400 problem.
 */
export async function exchangeCode(
  upstream: FetchLike,
  p: BrokerOAuthProvider,
  o: { code: string; verifier: string; redirectUri: string; now: number },
): Promise<Record<string, unknown> | Response> {
  const form = new URLSearchParams({
    grant_type: "authorization_code",
    code: o.code,
    redirect_uri: o.redirectUri,
    code_verifier: o.verifier,
  });
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  if ((p.tokenAuthMethod ?? "client_secret_basic") === "client_secret_basic") {
    const enc = (x: string) => encodeURIComponent(x);
    headers.authorization = `Basic ${btoa(`${enc(p.clientId)}:${enc(p.clientSecret)}`)}`;
  } else {
    form.set("client_id", p.clientId);
    form.set("client_secret", p.clientSecret);
  }
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
    if (typeof body.expires_in === "number") {
      body.expires_at = Math.floor(o.now / 1000) + body.expires_in;
    }
    return body;
  } catch {
    return problem(
      400,
      "OAuth Authorization Failed",
      "The authorization code could not be exchanged.",
    );
  }
}

/** A validated `/v1/proxy` request. */
export interface ProxyRequest {
  method: string;
  url: string;
  headers: Record<string, string> | null;
  body: string | null;
  timeout: number;
}

const PROXY_RULES = {
  method: v.pattern(/^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$/, { required: true }),
  url: v.str({ required: true }),
  headers: v.strDict(),
  body: v.str(),
  timeout: v.int({ default: 30, ge: 1, le: 120 }),
};

/** Validate a decoded `/v1/proxy` body (422 on failure). */
export function checkProxy(raw: unknown): ProxyRequest | Response {
  const checked = v.check<ProxyRequest>(raw, PROXY_RULES);
  return checked.issues.length ? validation(checked.issues) : checked.value!;
}

/** The proxy's 403 answers. */
export const proxyDisabled = (): Response =>
  problem(403, "Proxy Disabled", "The HTTP proxy endpoint is disabled on this broker.");
/** The proxy's 403 for a host off the allowlist. */
export const domainNotAllowed = (): Response =>
  problem(403, "Domain Not Allowed", "The target domain is not on the proxy allowlist.");

/**
 * Relay one validated request to `target` (no redirects followed, timeout capped at 60 s) and
 * wrap the upstream answer in the broker's 200 (`status_code`, lower-case comma-joined
 * `headers`, text `body`); 502/504 problems on failure.
 */
export async function relay(
  upstream: FetchLike,
  target: URL,
  body: ProxyRequest,
): Promise<{ response: Response; upstreamBody?: string }> {
  const t = Math.min(body.timeout, 60);
  if (!/^https?:$/.test(target.protocol)) {
    return {
      response: problem(
        502,
        "Bad Gateway",
        `Failed to reach upstream: Request URL has an unsupported protocol '${target.protocol}//'.`,
      ),
    };
  }
  const headers = new Headers();
  for (const [k, val] of Object.entries(body.headers ?? {})) headers.set(k, val);
  let res: Response;
  try {
    res = await upstream(target.href, {
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
      return {
        response: problem(
          504,
          "Gateway Timeout",
          `The upstream server did not respond within ${t}s.`,
        ),
      };
    }
    // httpx's ConnectError text; the exception message itself is not relayed.
    return {
      response: problem(
        502,
        "Bad Gateway",
        "Failed to reach upstream: All connection attempts failed",
      ),
    };
  }
  const out: Record<string, string> = {};
  res.headers.forEach((val, k) => (out[k] = k in out ? `${out[k]}, ${val}` : val));
  const cookies = res.headers.getSetCookie();
  if (cookies.length) out["set-cookie"] = cookies.join(", ");
  const text = await res.text();
  return {
    response: json(200, { status_code: res.status, headers: out, body: text }),
    upstreamBody: text,
  };
}

/** The webhook relay's plaintext (section 4.8). */
export function webhookPlaintext(req: Request, raw: Uint8Array): unknown {
  const headers: Record<string, string> = {};
  req.headers.forEach((value, name) => (headers[name] ??= value));
  return {
    headers,
    body: new TextDecoder().decode(raw),
    content_type: req.headers.get("content-type") ?? "application/octet-stream",
  };
}
