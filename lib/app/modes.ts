/**
 * What each auth path needs: the settings it requires, and the hosts a configuration will call
 * (for `mcs doctor`'s route table and the skill's egress list). Pure data and string work, no
 * I/O, so `doctor` can use it without loading any auth module.
 *
 * @example
 * ```ts
 * import { REQUIRED_SETTINGS, hostsToCall } from "./modes.ts";
 * REQUIRED_SETTINGS["auth0-linkauth"]; // ["auth0_domain", "auth0_client_id", ...]
 * ```
 * @module
 */

import type { Config } from "../config/resolve.ts";
import type { AuthMode, SettingName } from "../config/settings.ts";

/** Settings each auth path cannot work without. */
export const REQUIRED_SETTINGS: Readonly<Record<AuthMode, readonly SettingName[]>> = {
  static: ["gmail_token"],
  auth0: ["auth0_domain", "auth0_client_id", "auth0_client_secret", "auth0_refresh_token"],
  "auth0-oauth": ["auth0_domain", "auth0_client_id", "auth0_client_secret"],
  "auth0-linkauth": [
    "auth0_domain",
    "auth0_client_id",
    "auth0_client_secret",
    "linkauth_broker_url",
  ],
  linkauth: ["linkauth_broker_url"],
};

/** Whether the path keeps state in the cache directory (and so needs it writable). */
export function persists(mode: AuthMode): boolean {
  return mode !== "static";
}

/** The Auth0 base URL for a `domain` setting (a host or a full URL). */
export function auth0BaseUrl(domain: string): string {
  return /^https?:\/\//i.test(domain)
    ? domain.replace(/\/+$/, "")
    : `https://${domain.replace(/\/+$/, "")}`;
}

/** One host the configuration will call, and why. */
export interface CalledHost {
  role: "gmail" | "auth0" | "linkauth";
  url: string;
}

/** The hosts a configuration will call (only those whose settings are present). */
export function hostsToCall(config: Config): CalledHost[] {
  const mode = config.authMode();
  const out: CalledHost[] = [{
    role: "gmail",
    url: config.get("gmail_api_base") ?? "https://gmail.googleapis.com",
  }];
  const domain = config.get("auth0_domain");
  if (domain && mode !== "static" && mode !== "linkauth") {
    out.push({ role: "auth0", url: auth0BaseUrl(domain) });
  }
  const broker = config.get("linkauth_broker_url");
  if (broker && (mode === "auth0-linkauth" || mode === "linkauth")) {
    out.push({ role: "linkauth", url: broker });
  }
  return out;
}
