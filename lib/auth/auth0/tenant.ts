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
import { parseOrigin } from "../../config/origin.ts";

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

/** Parse and validate the `domain` setting. */
export function resolveTenant(domain: string): Tenant {
  const parsed = parseOrigin(domain);
  if (!parsed.ok) {
    const code = parsed.reason === "empty"
      ? "auth0_domain_missing"
      : parsed.reason === "insecure"
      ? "auth0_domain_insecure"
      : "auth0_domain_invalid";
    throw new ConfigError(
      code,
      `MCS_AUTH0_DOMAIN is not usable: ${parsed.message}. Set it to your Auth0 tenant host (tenant.us.auth0.com) or a full https URL.`,
    );
  }
  const url = parsed.url;
  const insecure = url.protocol === "http:";
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
