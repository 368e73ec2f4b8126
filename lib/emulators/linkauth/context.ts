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
import { apiKeyProblem, safeEqual } from "../../broker/problem.ts";
import {
  type BrokerOAuthProvider,
  hostAllowed as allowed,
  notFound,
  tooMany,
} from "../../broker/protocol.ts";

export {
  type BrokerOAuthProvider,
  fnmatchcase,
  LOCAL_HOSTS,
  notFound,
  readJson,
  tooMany,
} from "../../broker/protocol.ts";
import { plausibleCode } from "../../broker/session.ts";
import type { CodeLimiter, Session, SessionStore } from "./state.ts";

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

/** Look a `{code}` up for a browser route, counting misses against the client. */
export async function lookupForClient(
  ctx: Ctx,
  code: string,
  client: string,
): Promise<{ error: Response; session?: undefined } | { error?: undefined; session: Session }> {
  if (ctx.limiter.limited(client)) return { error: tooMany() };
  const s = plausibleCode(code) ? await ctx.sessions.byCode(code) : undefined;
  if (!s) {
    ctx.limiter.recordFailure(client);
    return { error: notFound() };
  }
  return { session: s };
}

/**
 * Whether the proxy and passthrough redirects may target `hostname`.
 * deliberate: closes hole 4 and hole 5 — an empty allowlist relays nothing (the real broker
 * relays everything), so the emulator is never an open relay.
 */
export function hostAllowed(ctx: Ctx, hostname: string): boolean {
  return allowed(ctx.config.allowedHosts, hostname);
}
