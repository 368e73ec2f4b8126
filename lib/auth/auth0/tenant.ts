/**
 * Resolve the Auth0 `domain` setting (a tenant host such as `tenant.us.auth0.com`, or a full URL
 * such as `https://login.example.com` or an emulator's `http://127.0.0.1:4711`) into the URLs the
 * provider uses. Plain `http` is accepted only for loopback hosts (emulators, tests).
 *
 * @example
 * ```ts
 * import { resolveTenant } from "./tenant.ts";
 * resolveTenant("tenant.us.auth0.com").meAudience; // "https://tenant.us.auth0.com/me/"
 * ```
 * @module
 */
import { ConfigError } from "../../errors.ts";

/** The tenant's endpoints. */
export interface Tenant {
  /** `https://host[:port]` without a trailing slash. */
  base: string;
  /** Host and port, e.g. `tenant.us.auth0.com`; used to namespace cache keys. */
  host: string;
  /** `${base}/` (the `iss` of Auth0 tokens). */
  issuer: string;
  tokenEndpoint: string;
  authorizeEndpoint: string;
  /** My Account API audience, `${base}/me/`. */
  meAudience: string;
  /** My Account API base, `${base}/me/v1`. */
  meApi: string;
  /** True when the tenant is served over plain http on loopback (emulator). */
  insecure: boolean;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Parse and validate the `domain` setting. */
export function resolveTenant(domain: string): Tenant {
  const raw = domain.trim().replace(/\/+$/, "");
  if (!raw) {
    throw new ConfigError(
      "auth0_domain_missing",
      "Set MCS_AUTH0_DOMAIN to your Auth0 tenant host (tenant.us.auth0.com) or a full https URL.",
    );
  }
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    throw new ConfigError(
      "auth0_domain_invalid",
      "MCS_AUTH0_DOMAIN is not a valid host or URL; use e.g. tenant.us.auth0.com or https://login.example.com.",
    );
  }
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    throw new ConfigError(
      "auth0_domain_invalid",
      "MCS_AUTH0_DOMAIN must be a host or an origin URL without a path, query or credentials.",
    );
  }
  const insecure = url.protocol === "http:";
  if (insecure && !LOOPBACK.has(url.hostname)) {
    throw new ConfigError(
      "auth0_domain_insecure",
      "MCS_AUTH0_DOMAIN must use https (plain http is accepted only for a loopback emulator).",
    );
  }
  if (url.protocol !== "https:" && !insecure) {
    throw new ConfigError(
      "auth0_domain_invalid",
      "MCS_AUTH0_DOMAIN must be an https URL or a host name.",
    );
  }
  const base = url.origin;
  return {
    base,
    host: url.host,
    issuer: `${base}/`,
    tokenEndpoint: `${base}/oauth/token`,
    authorizeEndpoint: `${base}/authorize`,
    meAudience: `${base}/me/`,
    meApi: `${base}/me/v1`,
    insecure,
  };
}
