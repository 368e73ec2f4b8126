/**
 * Parse a setting that names a server either as a host (`tenant.us.auth0.com`, `host:8443`) or as
 * an origin URL (`https://login.example.com`, an emulator's `http://127.0.0.1:4711`). Plain
 * `http` is accepted only for loopback hosts. One function serves the config resolver (so a bad
 * value is a configuration error before anything runs) and the Auth0 tenant resolver.
 *
 * @example
 * ```ts
 * import { parseOrigin } from "./origin.ts";
 * parseOrigin("tenant.us.auth0.com"); // { ok: true, url: URL("https://tenant.us.auth0.com") }
 * parseOrigin("http://example.com");  // { ok: false, reason: "insecure", ... }
 * ```
 * @module
 */

/** Loopback host names for which plain http is allowed. */
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** The result of {@link parseOrigin}. */
export type OriginResult =
  | { ok: true; url: URL }
  | {
    ok: false;
    reason: "empty" | "invalid" | "has_path" | "insecure" | "scheme";
    message: string;
  };

/** Parse a host or origin URL (see the module docs). */
export function parseOrigin(value: string): OriginResult {
  const raw = value.trim().replace(/\/+$/, "");
  if (!raw) return { ok: false, reason: "empty", message: "it is empty" };
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    return {
      ok: false,
      reason: "invalid",
      message:
        "it is not a valid host or URL (use e.g. tenant.us.auth0.com or https://login.example.com)",
    };
  }
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    return {
      ok: false,
      reason: "has_path",
      message: "it must be a host or an origin URL without a path, query or credentials",
    };
  }
  if (url.protocol === "http:") {
    if (LOOPBACK.has(url.hostname)) return { ok: true, url };
    return {
      ok: false,
      reason: "insecure",
      message: "it must use https (plain http is accepted only for a loopback emulator)",
    };
  }
  if (url.protocol !== "https:") {
    return { ok: false, reason: "scheme", message: "it must be an https URL or a host name" };
  }
  return { ok: true, url };
}
