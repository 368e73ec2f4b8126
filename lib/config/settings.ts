/**
 * The catalogue of every mcs setting: its name, environment variable (and the original Python
 * skill's aliases), config-file key, whether it is a secret, its default and what it is for.
 *
 * One table drives the resolver, the `--help` text, `mcs doctor`, the README configuration table
 * and the list of environment variables baked into the compiled binary's permissions.
 *
 * @example
 * ```ts
 * import { SETTINGS, settingByName } from "./settings.ts";
 * settingByName("auth0_domain").env; // "MCS_AUTH0_DOMAIN"
 * SETTINGS.filter((s) => s.secret).map((s) => s.env);
 * ```
 * @module
 */

/** The auth paths mcs supports. */
export const AUTH_MODES = ["auth0", "auth0-oauth", "auth0-linkauth", "linkauth", "static"] as const;
/** One of {@link AUTH_MODES}. */
export type AuthMode = typeof AUTH_MODES[number];

/** Names of every setting (config-file keys). */
export type SettingName =
  | "auth"
  | "auth0_domain"
  | "auth0_client_id"
  | "auth0_client_secret"
  | "auth0_audience"
  | "auth0_refresh_token"
  | "auth0_connection"
  | "auth0_login_hint"
  | "auth0_via_broker"
  | "auth0_callback_port"
  | "linkauth_broker_url"
  | "linkauth_api_key"
  | "gmail_token"
  | "gmail_api_base"
  | "gmail_metadata_strategy"
  | "cache_dir"
  | "ca_file"
  | "proxy_force"
  | "proxy_bypass";

/** How a value is parsed and validated. */
export type SettingType =
  | "string"
  | "url"
  | "origin"
  | "boolean"
  | "port"
  | "enum"
  | "path"
  | "list";

/** One row of the catalogue. */
export interface Setting {
  /** Config-file key (snake_case). */
  name: SettingName;
  /** Primary environment variable. */
  env: string;
  /** Alternative environment variables accepted (the original Python skill's names). */
  aliases?: readonly string[];
  /** Long command-line flag, absent for secrets (secrets are never accepted in argv). */
  flag?: string;
  /** True for credentials: never in argv, never printed. */
  secret: boolean;
  type: SettingType;
  /** Allowed values for `enum`. */
  values?: readonly string[];
  /** Default value (as a string), if any. */
  default?: string;
  /** One line for help, doctor and README. */
  description: string;
}

/** The catalogue. Order is the order of the README table and `mcs doctor`. */
export const SETTINGS: readonly Setting[] = [
  {
    name: "auth",
    env: "MCS_AUTH",
    flag: "auth",
    secret: false,
    type: "enum",
    values: AUTH_MODES,
    description:
      "Auth path: auth0 (stored refresh token), auth0-oauth (loopback PKCE), auth0-linkauth (LinkAuth broker), linkauth, static",
  },
  {
    name: "auth0_domain",
    env: "MCS_AUTH0_DOMAIN",
    aliases: ["MCS_GMAIL_AUTH0_DOMAIN"],
    flag: "auth0-domain",
    secret: false,
    type: "origin",
    description:
      "Auth0 tenant host (tenant.us.auth0.com) or a full https URL (custom domain, emulator)",
  },
  {
    name: "auth0_client_id",
    env: "MCS_AUTH0_CLIENT_ID",
    aliases: ["MCS_GMAIL_AUTH0_CLIENT_ID"],
    flag: "auth0-client-id",
    secret: false,
    type: "string",
    description: "Client ID of the confidential Auth0 application with the Token Vault grant",
  },
  {
    name: "auth0_client_secret",
    env: "MCS_AUTH0_CLIENT_SECRET",
    aliases: ["MCS_GMAIL_AUTH0_CLIENT_SECRET"],
    secret: true,
    type: "string",
    description: "Client secret of that application",
  },
  {
    name: "auth0_audience",
    env: "MCS_AUTH0_AUDIENCE",
    aliases: ["MCS_GMAIL_AUTH0_AUDIENCE"],
    flag: "auth0-audience",
    secret: false,
    type: "string",
    description: "API audience requested at login (optional)",
  },
  {
    name: "auth0_refresh_token",
    env: "MCS_AUTH0_REFRESH_TOKEN",
    secret: true,
    type: "string",
    description: "A pre-stored Auth0 refresh token (auth path auth0: CI, scripts)",
  },
  {
    name: "auth0_connection",
    env: "MCS_AUTH0_CONNECTION",
    flag: "auth0-connection",
    secret: false,
    type: "string",
    default: "google-oauth2",
    description: "Auth0 connection that holds the Google account in Token Vault",
  },
  {
    name: "auth0_login_hint",
    env: "MCS_AUTH0_LOGIN_HINT",
    flag: "login-hint",
    secret: false,
    type: "string",
    description:
      "Provider user id of the account to use when several are connected (login_hint: the Google account id)",
  },
  {
    name: "auth0_via_broker",
    env: "MCS_AUTH0_VIA_BROKER",
    flag: "auth0-via-broker",
    secret: false,
    type: "boolean",
    default: "false",
    description:
      "Send Auth0 calls through the LinkAuth broker's /v1/proxy (exposes the client secret and tokens to the broker)",
  },
  {
    name: "auth0_callback_port",
    env: "MCS_AUTH0_CALLBACK_PORT",
    flag: "callback-port",
    secret: false,
    type: "port",
    default: "3000",
    description:
      "Loopback port of the auth0-oauth callback, http://127.0.0.1:PORT/callback (register it as an Allowed Callback URL; 0 = ephemeral, sign-in only)",
  },
  {
    name: "linkauth_broker_url",
    env: "MCS_LINKAUTH_BROKER_URL",
    aliases: ["MCS_GMAIL_LINKAUTH_BROKER_URL"],
    flag: "linkauth-broker-url",
    secret: false,
    type: "url",
    description: "LinkAuth broker base URL",
  },
  {
    name: "linkauth_api_key",
    env: "MCS_LINKAUTH_API_KEY",
    aliases: ["MCS_GMAIL_LINKAUTH_API_KEY"],
    secret: true,
    type: "string",
    description: "LinkAuth broker API key (sent as X-API-Key)",
  },
  {
    name: "gmail_token",
    env: "MCS_GMAIL_TOKEN",
    secret: true,
    type: "string",
    description: "A Google access token (auth path static); MCS_TOKEN_<SCOPE> works per scope",
  },
  {
    name: "gmail_api_base",
    env: "MCS_GMAIL_API_BASE",
    flag: "gmail-api-base",
    secret: false,
    type: "url",
    default: "https://gmail.googleapis.com",
    description: "Gmail REST API base URL",
  },
  {
    name: "gmail_metadata_strategy",
    env: "MCS_GMAIL_METADATA_STRATEGY",
    flag: "gmail-metadata-strategy",
    secret: false,
    type: "enum",
    values: ["batch", "pool", "sequential"],
    default: "batch",
    description:
      "How searches and thread lists fetch each result: batch (batch endpoint), pool (4 GETs at a time: proxies that block batch), sequential",
  },
  {
    name: "cache_dir",
    env: "MCS_CACHE_DIR",
    flag: "cache-dir",
    secret: false,
    type: "path",
    description: "State directory (default $XDG_CACHE_HOME/mcs, else ~/.mcs/cache)",
  },
  {
    name: "ca_file",
    env: "MCS_CA_FILE",
    flag: "ca-file",
    secret: false,
    type: "path",
    description: "Extra trusted CA certificate (PEM): TLS-inspecting proxies, local emulators",
  },
  {
    name: "proxy_force",
    env: "MCS_PROXY_FORCE",
    flag: "proxy-force",
    secret: false,
    type: "list",
    description: "Hosts that always use the proxy, even when NO_PROXY lists them",
  },
  {
    name: "proxy_bypass",
    env: "MCS_PROXY_BYPASS",
    flag: "proxy-bypass",
    secret: false,
    type: "list",
    description: "Hosts that always go direct, even when a proxy is set",
  },
];

const BY_NAME = new Map(SETTINGS.map((s) => [s.name, s]));

/** Look a setting up by its config-file key. */
export function settingByName(name: SettingName): Setting {
  const s = BY_NAME.get(name);
  if (!s) throw new Error(`unknown setting ${name}`);
  return s;
}

/** Other environment variables mcs reads (not settings of their own). */
export const OTHER_ENV = [
  "MCS_CONFIG",
  "MCS_PROFILE",
  "MCS_TOKEN_*",
  "XDG_CONFIG_HOME",
  "XDG_CACHE_HOME",
  "HOME",
  "NO_COLOR",
  "MCS_DEBUG",
  "MCS_MCP_LEGACY_TOOLS",
  "MCS_SERVE_API_KEY",
  "MCS_SERVE_ALLOWED_ORIGINS",
  "MCS_SERVE_USER_JWT_SECRET",
  "MCS_SERVE_USER_HEADER",
  "MCS_SERVE_CORS_ORIGINS",
  "MCS_SERVE_MAX_CONCURRENT",
  "MCS_SERVE_MAX_BODY_BYTES",
  "MCS_SERVE_MAX_USERS",
  "MCS_STORE",
  "MCS_STORE_KEY",
  "MCS_STORE_PREFIX",
  // Read by @redis/client (debug switches) when MCS_STORE is a Redis URL.
  "REDIS_DEBUG_MAINTENANCE",
  "REDIS_EMIT_DIAGNOSTICS",
  "LINKAUTH_BASE_URL",
  "LINKAUTH_API_KEYS",
  "LINKAUTH_ALLOWED_DOMAINS",
  "OAUTH_*",
  "MCS_BROKER_HOST",
  "MCS_BROKER_PORT",
  "MCS_BROKER_STATE_DIR",
  "MCS_BROKER_TLS_CERT",
  "MCS_BROKER_TLS_KEY",
  "MCS_BROKER_TRUSTED_PROXIES",
  "MCS_BROKER_ALLOW_PRIVATE",
  "MCS_BROKER_METRICS_TOKEN",
  "MCS_BROKER_API_KEY_RATE",
  "REQUEST_METHOD",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "ALL_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "all_proxy",
  "no_proxy",
] as const;

/** Every environment variable the program reads: the `--allow-env` list of the binary. */
export function allEnvNames(): string[] {
  const names = SETTINGS.flatMap((s) => [s.env, ...(s.aliases ?? [])]);
  return [...names, ...OTHER_ENV];
}
