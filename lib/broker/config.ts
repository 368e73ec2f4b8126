/**
 * The production broker's configuration, read from the environment with LinkAuth's own names so
 * that a deployment migrates by swapping the program (reference section 10.2), plus `MCS_BROKER_*`
 * for what LinkAuth configures elsewhere or not at all.
 *
 * | Variable | Meaning |
 * |---|---|
 * | `LINKAUTH_BASE_URL` | Public base URL in every link (`https://` added when no scheme; trailing `/` dropped) |
 * | `LINKAUTH_API_KEYS` | Comma-separated agent API keys (required: the broker refuses to run open) |
 * | `LINKAUTH_ALLOWED_DOMAINS` | Comma-separated host patterns (`*.auth0.com`) for `/v1/proxy` and passthrough redirects |
 * | `OAUTH_<NAME>_CLIENT_ID`, `_CLIENT_SECRET` | Provider `<name>`'s confidential client |
 * | `OAUTH_<NAME>_ISSUER` or `_AUTH_URL` + `_TOKEN_URL` | Its endpoints (OIDC discovery from the issuer) |
 * | `MCS_BROKER_HOST`, `MCS_BROKER_PORT` | Listen address (default `127.0.0.1:8080`) |
 * | `MCS_BROKER_STATE_DIR` | Where sessions are kept (default `./broker-state`) |
 * | `MCS_BROKER_TLS_CERT`, `MCS_BROKER_TLS_KEY` | PEM files: serve HTTPS directly |
 * | `MCS_BROKER_TRUSTED_PROXIES` | Comma-separated proxy addresses/CIDRs whose `X-Forwarded-For`/`-Proto` count |
 * | `MCS_BROKER_ALLOW_PRIVATE` | `1`: `/v1/proxy` and callbacks may reach loopback/private/link-local addresses |
 * | `MCS_BROKER_METRICS_TOKEN` | When set, `/metrics` needs `Authorization: Bearer <token>`; unset, it is open on a loopback address and 404 on any other |
 * | `MCS_BROKER_API_KEY_RATE` | Requests per agent API key per minute, all replicas together (default 600; 429 beyond) |
 * | `MCS_STORE`, `MCS_STORE_KEY`, `MCS_STORE_PREFIX` | State on Redis, shared by replicas (see `store.ts`) |
 *
 * Secrets (API keys, client secrets) are never logged; the API keys are kept only as SHA-256
 * hashes once read. Provider settings are read when a session first names the provider (as
 * LinkAuth does), so no variable list is needed; an issuer is discovered once and cached.
 *
 * @example
 * ```ts
 * import { brokerSettings } from "./config.ts";
 * const s = await brokerSettings({ get: (n) => ({ LINKAUTH_API_KEYS: "k1,k2" } as Record<string, string>)[n] });
 * s.apiKeyHashes.length; // 2
 * ```
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { FetchLike } from "../net/types.ts";
import { parseCidr, parseIp } from "../net/ip.ts";
import type { BrokerLimits } from "./handler.ts";
import type { BrokerOAuthProvider } from "./protocol.ts";
import { sha256hex } from "./session.ts";

/** Where settings come from (`Deno.env` or a test map). */
export interface EnvReader {
  get(name: string): string | undefined;
}

/** The resolved settings. */
export interface BrokerSettings {
  /** Public base URL, no trailing slash; `undefined`: the listening address. */
  baseUrl?: string;
  /** SHA-256 hex of each API key. */
  apiKeyHashes: string[];
  allowedHosts: string[];
  host: string;
  port: number;
  stateDir: string;
  tls?: { certFile: string; keyFile: string };
  /** Proxies whose forwarding headers are believed. */
  trustedProxies: string[];
  allowPrivate: boolean;
  /** SHA-256 hex of `MCS_BROKER_METRICS_TOKEN`: `/metrics` then needs it as a bearer token. */
  metricsTokenHash?: string;
  /** Limits set by the environment (`MCS_BROKER_API_KEY_RATE`); the handler's defaults else. */
  limits: Partial<BrokerLimits>;
}

const list = (v: string | undefined) => (v ?? "").split(",").map((s) => s.trim()).filter(Boolean);

const bad = (code: string, message: string) => new ConfigError(code, message);

/** Read and check the settings. @throws {ConfigError} `broker_config_invalid`, `broker_no_api_keys` */
export async function brokerSettings(env: EnvReader): Promise<BrokerSettings> {
  let baseUrl = env.get("LINKAUTH_BASE_URL")?.trim() || undefined;
  if (baseUrl) {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(baseUrl)) baseUrl = `https://${baseUrl}`;
    baseUrl = baseUrl.replace(/\/+$/, "");
    try {
      new URL(baseUrl);
    } catch {
      throw bad("broker_config_invalid", `LINKAUTH_BASE_URL is not a URL: ${baseUrl}`);
    }
  }
  const keys = list(env.get("LINKAUTH_API_KEYS"));
  if (keys.length === 0) {
    throw bad(
      "broker_no_api_keys",
      "LINKAUTH_API_KEYS is empty: set at least one agent API key (comma-separated, e.g. " +
        "`openssl rand -hex 32`). The broker does not run as an open relay.",
    );
  }
  const portText = env.get("MCS_BROKER_PORT")?.trim() || "8080";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw bad("broker_config_invalid", `MCS_BROKER_PORT must be 0-65535, got ${portText}.`);
  }
  const certFile = env.get("MCS_BROKER_TLS_CERT")?.trim();
  const keyFile = env.get("MCS_BROKER_TLS_KEY")?.trim();
  if (!!certFile !== !!keyFile) {
    throw bad(
      "broker_config_invalid",
      "Set both MCS_BROKER_TLS_CERT and MCS_BROKER_TLS_KEY (PEM files), or neither.",
    );
  }
  const trustedProxies = list(env.get("MCS_BROKER_TRUSTED_PROXIES"));
  for (const p of trustedProxies) {
    if (!parseIp(p) && !parseCidr(p)) {
      throw bad(
        "broker_config_invalid",
        `MCS_BROKER_TRUSTED_PROXIES: ${p} is not an IP address or CIDR range.`,
      );
    }
  }
  const allowPrivate = env.get("MCS_BROKER_ALLOW_PRIVATE")?.trim();
  if (allowPrivate && !["0", "1"].includes(allowPrivate)) {
    throw bad("broker_config_invalid", `MCS_BROKER_ALLOW_PRIVATE must be 0 or 1.`);
  }
  const metricsToken = env.get("MCS_BROKER_METRICS_TOKEN")?.trim();
  const limits: Partial<BrokerLimits> = {};
  const keyRate = env.get("MCS_BROKER_API_KEY_RATE")?.trim();
  if (keyRate) {
    if (!/^\d{1,7}$/.test(keyRate) || Number(keyRate) < 1) {
      throw bad(
        "broker_config_invalid",
        `MCS_BROKER_API_KEY_RATE must be a whole number of requests per minute (1 or more), ` +
          `got ${keyRate}.`,
      );
    }
    limits.perKeyPerMinute = Number(keyRate);
  }
  return {
    limits,
    baseUrl,
    metricsTokenHash: metricsToken ? await sha256hex(metricsToken) : undefined,
    apiKeyHashes: await Promise.all(keys.map(sha256hex)),
    allowedHosts: list(env.get("LINKAUTH_ALLOWED_DOMAINS")).map((h) => h.toLowerCase()),
    host: env.get("MCS_BROKER_HOST")?.trim() || "127.0.0.1",
    port,
    stateDir: env.get("MCS_BROKER_STATE_DIR")?.trim() || "./broker-state",
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    trustedProxies,
    allowPrivate: allowPrivate === "1",
  };
}

/**
 * Providers from `OAUTH_<NAME>_*`, resolved when first asked for (LinkAuth's order: explicit
 * `_AUTH_URL`/`_TOKEN_URL`, else OIDC discovery from `_ISSUER`); `undefined` when the name is
 * not configured. A failed discovery is not cached, so a later session retries it.
 */
export function envProviders(
  env: EnvReader,
  upstream: FetchLike,
): (name: string) => Promise<BrokerOAuthProvider | undefined> {
  const cache = new Map<string, BrokerOAuthProvider>();
  return async (name) => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) return undefined;
    const hit = cache.get(name);
    if (hit) return hit;
    const p = `OAUTH_${name.toUpperCase().replace(/-/g, "_")}_`;
    const clientId = env.get(`${p}CLIENT_ID`)?.trim();
    const clientSecret = env.get(`${p}CLIENT_SECRET`)?.trim();
    if (!clientId || !clientSecret) return undefined;
    let authorizeUrl = env.get(`${p}AUTH_URL`)?.trim();
    let tokenUrl = env.get(`${p}TOKEN_URL`)?.trim();
    if (!authorizeUrl || !tokenUrl) {
      let issuer = env.get(`${p}ISSUER`)?.trim();
      if (!issuer) return undefined;
      if (!/^https?:\/\//.test(issuer)) issuer = `https://${issuer}`;
      try {
        const res = await upstream(
          `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`,
          { redirect: "manual", signal: AbortSignal.timeout(10_000) },
        );
        const meta = res.ok ? await res.json() : undefined;
        authorizeUrl = typeof meta?.authorization_endpoint === "string"
          ? meta.authorization_endpoint
          : undefined;
        tokenUrl = typeof meta?.token_endpoint === "string" ? meta.token_endpoint : undefined;
      } catch {
        return undefined;
      }
      if (!authorizeUrl || !tokenUrl) return undefined;
    }
    const provider = { authorizeUrl, tokenUrl, clientId, clientSecret };
    cache.set(name, provider);
    return provider;
  };
}
