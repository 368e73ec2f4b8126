/**
 * Shared plumbing of the LinkAuth broker emulator's handlers: the public options, the resolved
 * configuration (reference section 10.1 defaults), the request context every route module
 * receives, and the checks several routes share (API key, FastAPI's body decoding, the
 * browser-route code look-up, the host allowlist).
 *
 * @example
 * ```ts
 * import { fnmatchcase } from "./context.ts";
 * fnmatchcase("a.b.auth0.com", "*.auth0.com"); // true
 * ```
 * @module
 */
import type { FetchLike } from "../../net/types.ts";
import type { Outbox } from "../../broker/delivery.ts";
import { apiKeyProblem, problem, safeEqual, validation } from "../../broker/problem.ts";
import type { CodeLimiter, Session, SessionStore } from "./state.ts";

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

/** The options with the real broker's defaults filled in. */
export interface BrokerConfig {
  apiKeys: string[];
  providers: Record<string, BrokerOAuthProvider>;
  allowedHosts: string[];
  proxyEnabled: boolean;
  pollInterval: number;
  defaultTtl: number;
  maxTtl: number;
  cleanupMs: number;
  codeLength: number;
  codeAttemptLimit: number;
  codeAttemptWindowMs: number;
  maxWebhookPayload: number;
}

/** Fill in the defaults (reference section 10.1). */
export function resolveConfig(options: LinkAuthBrokerOptions): BrokerConfig {
  return {
    apiKeys: [...(options.apiKeys ?? [])],
    providers: options.providers ?? {},
    allowedHosts: [...(options.allowedHosts ?? [])],
    proxyEnabled: options.proxyEnabled !== false,
    pollInterval: options.pollInterval ?? 5,
    defaultTtl: options.defaultTtl ?? 600,
    maxTtl: options.maxTtl ?? 900,
    cleanupMs: (options.cleanupInterval ?? 60) * 1000,
    codeLength: options.codeLength ?? 8,
    codeAttemptLimit: options.codeAttemptLimit ?? 10,
    codeAttemptWindowMs: options.codeAttemptWindowMs ?? 60_000,
    maxWebhookPayload: options.maxWebhookPayload ?? 65536,
  };
}

/** Everything a route module needs. */
export interface Ctx {
  readonly config: BrokerConfig;
  readonly now: () => number;
  /** Upstream fetch: the code exchange, the proxy and `callback_url` deliveries. */
  readonly upstream: FetchLike;
  readonly sessions: SessionStore;
  readonly limiter: CodeLimiter;
  readonly outbox: Outbox;
  /** Requests the proxy relayed (method and URL only). */
  readonly proxyLog: { method: string; url: string }[];
  /** Base URL, no trailing slash; known once the server listens. */
  base: string;
}

/** Hosts for which `http` callbacks are allowed and the connect page is in development mode. */
export const LOCAL_HOSTS: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "::1"]);

/** 429 of the connect-route limiter. */
export const tooMany = (): Response =>
  problem(429, "Too Many Requests", "Rate limit exceeded. Try again later.");

/** 404 for an unknown, expired or hidden session. */
export const notFound = (): Response =>
  problem(404, "Session Not Found", "Session not found or expired.");

/**
 * The API-key dependency: `undefined` when auth is off, the presented key when it matches one
 * configured key (compared against every key), or the nested 401/403 problem.
 */
export function checkApiKey(ctx: Ctx, req: Request): Response | string | undefined {
  const { apiKeys } = ctx.config;
  if (apiKeys.length === 0) return undefined;
  const key = req.headers.get("x-api-key");
  if (!key) return apiKeyProblem(true);
  let ok = false;
  for (const k of apiKeys) ok = safeEqual(key, k) || ok; // compare against every key
  return ok ? key : apiKeyProblem(false);
}

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

/** Look a `{code}` up for a browser route, counting misses against the client. */
export async function lookupForClient(
  ctx: Ctx,
  code: string,
  client: string,
): Promise<{ error: Response; session?: undefined } | { error?: undefined; session: Session }> {
  if (ctx.limiter.limited(client)) return { error: tooMany() };
  const s = /^[A-Za-z0-9-]{1,32}$/.test(code) ? await ctx.sessions.byCode(code) : undefined;
  if (!s) {
    ctx.limiter.recordFailure(client);
    return { error: notFound() };
  }
  return { session: s };
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
 * relays everything), so the emulator is never an open relay.
 */
export function hostAllowed(ctx: Ctx, hostname: string): boolean {
  return hostname !== "" && ctx.config.allowedHosts.some((p) => fnmatchcase(hostname, p));
}
