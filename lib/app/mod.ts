/**
 * The composition root: from a {@link Config}, build the cache store (namespaced by profile,
 * tenant and client), the network function (proxy rules, `MCS_CA_FILE`), the interactive
 * connector and the {@link CredentialProvider} for the chosen auth path, and the Gmail client.
 * Agent code (the tools) only ever sees the provider and the Gmail client, so changing the auth
 * path changes nothing else.
 *
 * Order matters for stateless use: required settings are checked first (exit 3, no I/O), then the
 * cache directory's writability (exit 3) — both before any network call.
 *
 * Auth modules are imported dynamically, only for the chosen path.
 *
 * @example
 * ```ts
 * import { buildApp } from "./mod.ts";
 * import { resolveConfig } from "../config/resolve.ts";
 * const app = await buildApp(await resolveConfig());
 * const token = await app.credentials.getToken("gmail"); // may throw AuthChallenge
 * app.close();
 * ```
 * @module
 */

import type { AuthPort, CredentialProvider } from "../auth/types.ts";
import type { CacheStore } from "../cache/types.ts";
import type { Config } from "../config/resolve.ts";
import { type AuthMode, settingByName } from "../config/settings.ts";
import { ConfigError } from "../errors.ts";
import { namespaced } from "../cache/namespace.ts";
import type { GmailClient } from "../gmail/client.ts";
import type { MetadataStrategy } from "../gmail/context.ts";
import type { Net } from "../net/http.ts";
import type { FetchLike } from "../net/types.ts";
import type { LoopbackSession } from "../auth/oauth/connector.ts";
import type { GmailProgress } from "../gmail/http.ts";
import { auth0BaseUrl, persists, REQUIRED_SETTINGS } from "./modes.ts";

/** Options of {@link buildApp}. */
export interface BuildOptions {
  /**
   * Interactive sign-in (`mcs auth login`): connectors that need a live process (the loopback
   * OAuth callback) block up to `timeoutMs`, handing the URL to open to `onUrl`. Default: every
   * step that needs the user raises an AuthChallenge at once.
   */
  interactive?: { timeoutMs: number; onUrl: (url: string) => void };
  /** Skip the writable check (read-only commands such as `auth status`). */
  readOnly?: boolean;
  /**
   * How interactive runs open a URL after printing it (default: the browser when stderr is a
   * terminal and run permission for the platform opener is already granted; never prompts).
   */
  openBrowser?: (url: string) => unknown;
  /**
   * `auth0-oauth` in a long-running host (the MCP server): called when a step needs the user;
   * a {@link LoopbackSession} makes that call wait for the loopback callback itself (the URL
   * goes to the session's `onUrl`), undefined raises the AuthChallenge as usual.
   */
  loopbackSession?: () => LoopbackSession | undefined;
  /**
   * The root store to use instead of the file store in the cache directory (a server's shared
   * Redis store, see lib/cache/open.ts); profile and tenant namespacing apply on top as usual.
   */
  store?: CacheStore;
  /**
   * A network layer to use instead of building one (a server shares one across its users'
   * Apps: its HTTP clients and connection pools, its CA bundle). It holds no credential (each
   * request carries its own), and {@link App.close} leaves it open: its owner closes it.
   */
  net?: Net;
}

/** The assembled application. */
export interface App {
  readonly config: Config;
  readonly mode: AuthMode;
  /** The cache directory (none for the static path, which keeps no state). */
  readonly cacheDir?: string;
  /** The profile's root namespace (what `auth logout` clears). */
  readonly profileStore: CacheStore;
  /** The namespace of this profile + tenant + client. */
  readonly store: CacheStore;
  readonly net: Net;
  readonly credentials: CredentialProvider;
  /** The interactive connector, when the path has one. */
  readonly port?: AuthPort;
  /**
   * The Gmail client (loaded on first use; one per App). With `fetch`, a new client for this
   * account whose requests go through that wrapper of {@link App.net} (the MCP server passes
   * each tool call's cancel signal this way); everything else, the label cache included, is the
   * same. `onProgress` gets the progress of long operations (metadata batches, attachment
   * downloads) of that client.
   */
  gmail(fetch?: FetchLike, onProgress?: (p: GmailProgress) => void): Promise<GmailClient>;
  close(): void;
}

/** The auth mode, or a {@link ConfigError} that says how to pick one. */
export function requireMode(config: Config): AuthMode {
  const mode = config.authMode();
  if (mode) return mode;
  throw new ConfigError(
    "missing_setting",
    "No auth path selected: set MCS_AUTH (auth0, auth0-oauth, auth0-linkauth, linkauth, static), " +
      'pass --auth0, --auth0-oauth, --auth0-linkauth, --linkauth or --static, or add auth = "..." ' +
      "to the config file. `mcs doctor` shows what is configured.",
    { details: { setting: "auth", env: "MCS_AUTH" } },
  );
}

/** Check every setting the path needs (one {@link ConfigError} naming the first missing one). */
export function checkRequired(config: Config, mode: AuthMode): void {
  for (const name of REQUIRED_SETTINGS[mode]) {
    if (name === "gmail_token" && config.env.get("MCS_TOKEN_GMAIL")) continue;
    config.require(name, `needed by auth path ${mode}`);
  }
}

/** The cache directory for a configuration. */
export async function cacheDirOf(config: Config): Promise<string> {
  const explicit = config.get("cache_dir");
  if (explicit) return explicit;
  const { resolveCacheDir } = await import("../cache/dir.ts");
  return resolveCacheDir(config.env);
}

/** Namespace parts: profile, then tenant and client (or the broker for `linkauth`). */
function namespaceOf(config: Config, mode: AuthMode): string[] {
  const domain = config.get("auth0_domain");
  if (mode === "linkauth") {
    return [new URL(config.get("linkauth_broker_url")!).host, "linkauth"];
  }
  if (mode === "static" || !domain) return ["static", "static"];
  return [new URL(auth0BaseUrl(domain)).host, config.get("auth0_client_id") ?? "none"];
}

/** Build the network function from the configuration. */
export async function buildNet(config: Config): Promise<Net> {
  const { createNet, snapshotProxyEnv } = await import("../net/http.ts");
  const env: Record<string, string> = snapshotProxyEnv();
  const force = config.get("proxy_force");
  const bypass = config.get("proxy_bypass");
  if (force) env.MCS_PROXY_FORCE = force;
  if (bypass) env.MCS_PROXY_BYPASS = bypass;
  const caFile = config.get("ca_file");
  let caPem: string[] | undefined;
  if (caFile) {
    const { readCaFile } = await import("../net/ca.ts");
    caPem = [await readCaFile(caFile)];
  }
  return createNet({ env, caPem });
}

/**
 * Assemble the application for `config`.
 * @throws {ConfigError} missing settings or an unwritable cache directory, before any network call.
 */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const mode = requireMode(config);
  checkRequired(config, mode);
  // Independent set-up runs side by side (none of it touches the network): the network layer
  // (its module, the CA file) and the auth modules load while the cache directory's writability
  // probe (four file-system operations) is in flight. Its result is awaited first, so an unusable
  // cache directory is still the error reported, and before any network call.
  const netReady = options.net ? Promise.resolve(options.net) : buildNet(config);
  netReady.catch(() => {}); // observed below, after the writability check
  preloadAuthModules(config, mode).catch(() => {}); // buildCredentials imports them again
  const cacheMod = await import("../cache/mod.ts");
  // The static path keeps nothing between processes: no cache directory needed at all.
  const cacheDir = persists(mode) ? await cacheDirOf(config) : undefined;
  const writable = cacheDir && !options.readOnly && !options.store
    ? cacheMod.ensureWritable(cacheDir)
    : Promise.resolve();
  writable.catch(() => {}); // observed below
  const root = options.store ??
    (cacheDir ? new cacheMod.FileCacheStore(cacheDir) : new cacheMod.MemoryCacheStore());
  const profileStore = cacheMod.namespaced(root, config.profile);
  const store = cacheMod.namespaced(profileStore, ...namespaceOf(config, mode));
  let net: Net;
  try {
    await writable;
    net = await netReady;
  } catch (e) {
    if (!options.net) netReady.then((n) => n.close(), () => {});
    throw e;
  }
  const { credentials, port } = await buildCredentials(config, mode, store, net, options);
  let gmail: Promise<GmailClient> | undefined;
  // One account-bound view of the store for every client of this App.
  const gmailCache = mode === "static" ? undefined : identityBound(store, credentials, "gmail");
  return {
    config,
    mode,
    cacheDir,
    profileStore,
    store,
    net,
    credentials,
    port,
    gmail: (fetch?: FetchLike, onProgress?: (p: GmailProgress) => void) => {
      const client = () =>
        import("../gmail/client.ts").then(({ GmailClient }) =>
          new GmailClient({
            credentials,
            fetch: fetch ?? net,
            apiBase: config.get("gmail_api_base"),
            metadataStrategy: config.get("gmail_metadata_strategy") as MetadataStrategy,
            cache: gmailCache,
            onProgress,
          })
        );
      return fetch || onProgress ? client() : gmail ??= client();
    },
    close: () => {
      if (!options.net) net.close();
    },
  };
}

/**
 * `store` seen through the account `credentials` act as for `scope`: every key is prefixed
 * with the provider's identity (a fingerprint of the refresh token's origin and the login
 * hint), so a new `MCS_AUTH0_REFRESH_TOKEN` or `MCS_AUTH0_LOGIN_HINT` never reads the previous
 * account's entries (the Gmail label map). The identity is resolved on first use; a provider
 * without one (LinkAuth keeps one account per broker namespace) gets `store` itself.
 */
export function identityBound(
  store: CacheStore,
  credentials: CredentialProvider,
  scope: string,
): CacheStore {
  if (!credentials.identity) return store;
  let bound: Promise<CacheStore> | undefined;
  const inner = () =>
    bound ??= credentials.identity!(scope).then(
      (id) => namespaced(store, "id", id),
      (err) => {
        bound = undefined;
        throw err;
      },
    );
  return {
    get: async (key) => (await inner()).get(key),
    set: async (key, value, options) => (await inner()).set(key, value, options),
    delete: async (key) => (await inner()).delete(key),
    update: async (key, fn) => (await inner()).update(key, fn),
    keys: async (prefix) => (await inner()).keys(prefix),
    clear: async (prefix) => (await inner()).clear(prefix),
  };
}

/**
 * Start loading the modules {@link buildCredentials} will import for `mode` (a dynamic import
 * resolves once per module, so its own `import()` then finds them evaluated): their evaluation
 * overlaps the cache directory's file-system checks instead of following them.
 */
async function preloadAuthModules(config: Config, mode: AuthMode): Promise<unknown> {
  if (mode === "static") return await import("../auth/static.ts");
  const loads: Promise<unknown>[] = [];
  if (mode === "linkauth" || mode === "auth0-linkauth" || config.bool("auth0_via_broker")) {
    loads.push(import("../auth/linkauth/mod.ts"));
  }
  if (mode === "auth0-oauth") loads.push(import("../auth/oauth/mod.ts"));
  if (mode !== "linkauth") loads.push(import("../auth/auth0/mod.ts"));
  return await Promise.all(loads);
}

async function buildCredentials(
  config: Config,
  mode: AuthMode,
  store: CacheStore,
  net: Net,
  options: BuildOptions,
): Promise<{ credentials: CredentialProvider; port?: AuthPort }> {
  if (mode === "static") {
    const { StaticProvider } = await import("../auth/static.ts");
    const token = config.get("gmail_token");
    return {
      credentials: new StaticProvider({
        tokens: token ? { gmail: token } : {},
        env: (n) => config.env.get(n),
      }),
    };
  }
  const brokerUrl = config.get("linkauth_broker_url");
  const apiKey = config.get("linkauth_api_key");
  if (mode === "linkauth") {
    const { LinkAuthConnector, LinkAuthProvider } = await import("../auth/linkauth/mod.ts");
    const port = new LinkAuthConnector({
      brokerUrl: brokerUrl!,
      apiKey,
      cache: store,
      fetch: net,
      credential: "access_token",
      login: {
        oauthProvider: "google",
        scopes: ["https://mail.google.com/"],
        displayName: "mcs: Gmail access",
      },
    });
    return { credentials: new LinkAuthProvider({ connector: port }), port };
  }
  const audience = config.get("auth0_audience");
  const connection = config.get("auth0_connection") ?? "google-oauth2";
  const loginHint = config.get("auth0_login_hint");
  let port: AuthPort | undefined;
  if (mode === "auth0-linkauth") {
    const { LinkAuthConnector } = await import("../auth/linkauth/mod.ts");
    port = new LinkAuthConnector({
      brokerUrl: brokerUrl!,
      apiKey,
      cache: store,
      fetch: net,
      credential: "refresh_token",
      login: {
        oauthProvider: "auth0",
        scopes: ["openid", "profile", "email", "offline_access"],
        extraParams: { ...(audience ? { audience } : {}) },
        displayName: "mcs: sign in with Auth0 (Gmail)",
      },
    });
  } else if (mode === "auth0-oauth") {
    port = await buildOAuthPort(config, store, net, options);
  }
  let relay;
  if (config.bool("auth0_via_broker")) {
    if (!brokerUrl) config.require("linkauth_broker_url", "auth0_via_broker is on");
    const { LinkAuthRelay } = await import("../auth/linkauth/mod.ts");
    relay = new LinkAuthRelay({ brokerUrl: brokerUrl!, apiKey, fetch: net });
  }
  const { Auth0Provider } = await import("../auth/auth0/mod.ts");
  const credentials = new Auth0Provider({
    domain: config.require("auth0_domain"),
    clientId: config.require("auth0_client_id"),
    clientSecret: config.require("auth0_client_secret"),
    audience,
    refreshToken: mode === "auth0" ? config.require("auth0_refresh_token") : undefined,
    connections: { gmail: connection },
    loginHint,
    auth: port,
    cache: store,
    fetch: net,
    relay,
  });
  return { credentials, port };
}

/**
 * The `auth0-oauth` connector. One loopback port (`auth0_callback_port`, default 3000) serves
 * both the sign-in and the Connected Accounts consent redirect, so one Allowed Callback URL
 * (`http://127.0.0.1:<port>/callback`) covers both; port 0 (ephemeral) works for the sign-in
 * only, and a consent then fails with a {@link ConfigError} naming `MCS_AUTH0_CALLBACK_PORT` /
 * `--callback-port` and the URL to register. Interactive runs open the browser only when they
 * can (a terminal, and run permission for the opener already granted; see `browserOpener`).
 */
export async function buildOAuthPort(
  config: Config,
  store: CacheStore,
  net: Net,
  options: BuildOptions,
): Promise<AuthPort> {
  const { OAuthLoopbackConnector, browserOpener, denoOpenerHost } = await import(
    "../auth/oauth/mod.ts"
  );
  const base = auth0BaseUrl(config.require("auth0_domain"));
  const audience = config.get("auth0_audience");
  const setting = settingByName("auth0_callback_port");
  const suggested = Number(setting.default) || 3000;
  return new OAuthLoopbackConnector({
    authorizeUrl: `${base}/authorize`,
    tokenUrl: `${base}/oauth/token`,
    clientId: config.require("auth0_client_id"),
    clientSecret: config.require("auth0_client_secret"),
    extraParams: audience ? { audience } : undefined,
    port: Number(config.get("auth0_callback_port") ?? setting.default ?? "0"),
    portSetting: {
      name: setting.name,
      env: setting.env,
      flag: `--${setting.flag}`,
      suggested,
    },
    fetch: net,
    cache: store,
    credential: "refresh_token",
    blocking: options.interactive !== undefined ? true : options.loopbackSession,
    timeoutMs: options.interactive?.timeoutMs,
    onUrl: options.interactive?.onUrl ?? (() => {}),
    openBrowser: options.interactive
      ? (options.openBrowser ?? browserOpener(denoOpenerHost()))
      : undefined,
  });
}
