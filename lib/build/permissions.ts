/**
 * The permission sets mcs ships with, derived from one deployment's configuration.
 *
 * Deno bakes permissions into a compiled binary and cannot widen them at run time; it also does
 * not expand `~`. So a least-privilege build is computed for one deployment: the hosts its
 * configuration names (Gmail API base, the Auth0 domain or the LinkAuth broker, the proxy), its
 * absolute cache directory and config file, the directories explicitly granted for attachments,
 * and exactly the environment variables the program reads ({@link allEnvNames}). No subprocesses,
 * no FFI, no system information, no remote imports.
 *
 * - {@link scopedPermissions}: the set for one deployment, from a resolved {@link Config}.
 * - {@link genericPermissions}: the documented wider set of the release binaries.
 * - {@link toDenoFlags}: the `deno run` / `deno compile` flags of a set.
 * - {@link bakedEnv}: the non-secret defaults baked next to the permissions (`--env-file`), so the
 *   binary uses the very cache directory, config file and hosts it was scoped to.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "../config/resolve.ts";
 * import { mapEnv } from "../config/env.ts";
 * import { scopedPermissions, toDenoFlags } from "./permissions.ts";
 * const env = mapEnv({ MCS_AUTH: "static", MCS_CACHE_DIR: "/var/cache/mcs" });
 * const cfg = await resolveConfig({ env });
 * const set = scopedPermissions(cfg, { configFileExists: false });
 * toDenoFlags(set);
 * // ["--no-prompt", "--allow-net=gmail.googleapis.com", "--allow-read=/var/cache/mcs", ...]
 * ```
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { resolveCacheDir } from "../cache/dir.ts";
import type { Config } from "../config/resolve.ts";
import { allEnvNames, type SettingName, SETTINGS } from "../config/settings.ts";
import { ConfigError } from "../errors.ts";

/** A list of allowed items, or `true` for "anything" (only the generic set uses `true`). */
export type Grant = readonly string[] | true;

/** One complete permission set. Anything not listed is denied. */
export interface PermissionSet {
  /** `host` or `host:port` entries (`*.example.com` for subdomains). */
  net: Grant;
  /** Absolute files or directories (a directory covers its subtree). */
  read: Grant;
  /** Absolute files or directories. */
  write: Grant;
  /** Environment variable names (`PREFIX_*` wildcards allowed). */
  env: readonly string[];
  /** Why each grant is there, one line per entry, for `mcs.permissions.json` and the docs. */
  reasons: readonly string[];
}

/** Options of {@link scopedPermissions}. */
export interface ScopeOptions {
  /** Directories the deployment may read attachments / body files from (`--read-dir`). */
  readDirs?: readonly string[];
  /** Directories the deployment may write downloaded attachments to (`--write-dir`). */
  writeDirs?: readonly string[];
  /** Extra hosts to allow (`--allow-host`), e.g. a token endpoint behind a custom domain. */
  extraHosts?: readonly string[];
  /** Whether the config file exists (only an existing file is granted); default: it exists. */
  configFileExists?: boolean;
  /** Base for relative paths (default: the current directory). */
  cwd?: string;
}

/** Default Gmail REST host (also in the settings catalogue). */
export const GMAIL_HOST = "gmail.googleapis.com";

/** Proxy variables Deno's `fetch` honours (read by Deno itself, no permission needed). */
export const PROXY_ENV = [
  "HTTPS_PROXY",
  "https_proxy",
  "HTTP_PROXY",
  "http_proxy",
  "ALL_PROXY",
  "all_proxy",
] as const;

/**
 * The `--allow-net` entry for a URL or bare host: `host` when the URL uses its scheme's default
 * port, else `host:port`.
 * @throws {ConfigError} `invalid_host` when the value is neither.
 */
export function netEntry(value: string, setting = "host"): string {
  const text = value.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    throw new ConfigError("invalid_host", `${setting} "${text}" is not a host name or URL.`);
  }
  if (!url.hostname) {
    throw new ConfigError("invalid_host", `${setting} "${text}" is not a host name or URL.`);
  }
  return url.port ? `${url.hostname}:${url.port}` : url.hostname;
}

function absolute(path: string, cwd: string, what: string): string {
  if (path === "~" || path.startsWith("~/")) {
    throw new ConfigError(
      "path_not_absolute",
      `${what} "${path}" starts with ~, which Deno does not expand in permissions: give an absolute path.`,
    );
  }
  return isAbsolute(path) ? resolve(path) : resolve(cwd, path);
}

/** `host:port` of a `redis://` or `rediss://` URL (default port 6379); none when unset. */
function storeHost(url: string | undefined): string | undefined {
  if (!url?.trim()) return undefined;
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new ConfigError(
      "store_url_invalid",
      "MCS_STORE is not a Redis URL (redis://host:port/db).",
    );
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new ConfigError("store_url_invalid", `MCS_STORE is not a Redis URL (${u.protocol}).`);
  }
  return `${u.hostname}:${u.port || "6379"}`;
}

function uniq(items: readonly string[]): string[] {
  return [...new Set(items)];
}

/**
 * The least-privilege set for the deployment described by `cfg` (its flags, environment and
 * config file). Hosts follow the auth mode: `static` needs only the Gmail host; the `auth0*`
 * modes add the Auth0 domain (or the broker when `auth0_via_broker` is on); the `*linkauth` modes
 * add the broker; `auth0-oauth` adds the loopback callback listener. With no auth mode set, every
 * configured host is allowed.
 * @throws {ConfigError} on a `~` path or an unparsable host.
 */
export function scopedPermissions(cfg: Config, options: ScopeOptions = {}): PermissionSet {
  const cwd = options.cwd ?? Deno.cwd();
  const reasons: string[] = [];
  const net: string[] = [];
  const addHost = (value: string | undefined, why: string, setting: SettingName | "proxy") => {
    if (!value) return;
    const entry = netEntry(value, setting);
    net.push(entry);
    reasons.push(`net ${entry}: ${why}`);
  };
  const mode = cfg.authMode();
  const viaBroker = cfg.bool("auth0_via_broker");
  addHost(cfg.get("gmail_api_base") ?? `https://${GMAIL_HOST}`, "Gmail API", "gmail_api_base");
  const usesAuth0 = mode === undefined || mode.startsWith("auth0");
  const usesBroker = mode === undefined || mode.endsWith("linkauth") ||
    (usesAuth0 && viaBroker);
  if (usesAuth0 && !(mode !== undefined && viaBroker)) {
    addHost(cfg.get("auth0_domain"), "Auth0 tenant (token endpoint, Token Vault)", "auth0_domain");
  }
  if (usesBroker) {
    addHost(cfg.get("linkauth_broker_url"), "LinkAuth broker", "linkauth_broker_url");
  }
  if (mode === undefined || mode === "auth0-oauth") {
    const port = cfg.get("auth0_callback_port");
    const entry = port && port !== "0" ? `127.0.0.1:${port}` : "127.0.0.1";
    net.push(entry);
    reasons.push(`net ${entry}: auth0-oauth loopback callback listener`);
  }
  for (const name of PROXY_ENV) {
    const proxy = cfg.env.get(name);
    if (proxy) addHost(proxy, `proxy from ${name} at build time`, "proxy");
  }
  for (const host of options.extraHosts ?? []) addHost(host, "--allow-host", "proxy");
  const store = storeHost(cfg.env.get("MCS_STORE"));
  if (store) {
    net.push(store);
    reasons.push(`net ${store}: the servers' shared state store (MCS_STORE at build time)`);
  }

  const cacheDir = absolute(resolveCacheDir(cfg.env), cwd, "cache directory");
  const read = [cacheDir];
  const write = [cacheDir];
  reasons.push(`read+write ${cacheDir}: cache directory (tokens, flow state)`);
  if (cfg.file.path && options.configFileExists !== false) {
    const p = absolute(cfg.file.path, cwd, "config file");
    read.push(p);
    reasons.push(`read ${p}: config file`);
  }
  const ca = cfg.get("ca_file");
  if (ca) {
    const p = absolute(ca, cwd, "ca_file");
    read.push(p);
    reasons.push(`read ${p}: extra CA certificate (ca_file)`);
  }
  for (const d of options.readDirs ?? []) {
    const p = absolute(d, cwd, "--read-dir");
    read.push(p);
    reasons.push(`read ${p}: attachments and body files (--read-dir)`);
  }
  for (const d of options.writeDirs ?? []) {
    const p = absolute(d, cwd, "--write-dir");
    write.push(p);
    reasons.push(`write ${p}: downloaded attachments (--write-dir)`);
  }
  reasons.push("env: exactly the variables mcs reads (allEnvNames())");
  reasons.push("run, ffi, sys, import: denied");
  return {
    net: uniq(net),
    read: uniq(read),
    write: uniq(write),
    env: allEnvNames(),
    reasons,
  };
}

/**
 * The wider set of the generic release binaries (built without a deployment's configuration):
 * any host and any path, because Auth0 custom domains, brokers, `$HOME` and attachment paths
 * are unknown at build time; but still exactly the program's environment variables and no
 * subprocesses, FFI, system information or remote imports. Build per deployment
 * (`deno task compile`) to scope hosts and paths.
 */
export function genericPermissions(): PermissionSet {
  return {
    net: true,
    read: true,
    write: true,
    env: allEnvNames(),
    reasons: [
      "net: any host (Auth0 domain and broker unknown at build time)",
      "read, write: any path ($HOME, cache and attachment paths unknown at build time)",
      "env: exactly the variables mcs reads (allEnvNames())",
      "run, ffi, sys, import: denied",
    ],
  };
}

/**
 * The set of a broker build (`deno task compile --broker`, for `mcs broker serve`): any host,
 * because it listens on its address and reaches OAuth providers and the allow-listed proxy hosts
 * (patterns such as `*.auth0.com`, which Deno's host list cannot express); files only in the
 * state directory (read and write) and the TLS and CA files (read), each from the build
 * environment (`MCS_BROKER_STATE_DIR`, default `./broker-state`, `MCS_BROKER_TLS_CERT`,
 * `MCS_BROKER_TLS_KEY`, `MCS_CA_FILE`); the program's environment variables (the Redis store's
 * `MCS_STORE`, `MCS_STORE_KEY`, `MCS_STORE_PREFIX` and `MCS_BROKER_METRICS_TOKEN` among them); no
 * subprocesses. A malformed `MCS_STORE` fails the build (`store_url_invalid`).
 * @throws {ConfigError} on a `~` path.
 */
export function brokerPermissions(
  env: { get(name: string): string | undefined },
  cwd = Deno.cwd(),
): PermissionSet {
  const state = absolute(env.get("MCS_BROKER_STATE_DIR") || "./broker-state", cwd, "state dir");
  const read = [state];
  const reasons = [
    "net: any host (listen address, OAuth providers, allow-listed proxy host patterns)",
    `read+write ${state}: broker state (MCS_BROKER_STATE_DIR)`,
  ];
  for (const name of ["MCS_BROKER_TLS_CERT", "MCS_BROKER_TLS_KEY", "MCS_CA_FILE"]) {
    const v = env.get(name);
    if (v) {
      const p = absolute(v, cwd, name);
      read.push(p);
      reasons.push(`read ${p}: ${name}`);
    }
  }
  const store = storeHost(env.get("MCS_STORE"));
  if (store) reasons.push(`net ${store} (within any host): the replicas' shared state (MCS_STORE)`);
  reasons.push(
    "env: exactly the variables mcs reads (allEnvNames(): MCS_STORE*, MCS_BROKER_* included)",
    "run, ffi, sys, import: denied",
  );
  return { net: true, read: uniq(read), write: [state], env: allEnvNames(), reasons };
}

function listFlag(name: string, grant: Grant): string[] {
  if (grant === true) return [`--allow-${name}`];
  if (grant.length === 0) return [];
  // A literal comma inside a path is written as ",," in Deno's list flags.
  return [`--allow-${name}=${grant.map((x) => x.replaceAll(",", ",,")).join(",")}`];
}

/**
 * The Deno flags granting exactly `set` (and `--no-prompt`): run, ffi, sys and import are
 * never granted, so they are denied.
 */
export function toDenoFlags(set: PermissionSet): string[] {
  return [
    "--no-prompt",
    ...listFlag("net", set.net),
    ...listFlag("read", set.read),
    ...listFlag("write", set.write),
    ...listFlag("env", set.env),
  ];
}

/** The set in deno.json `"permissions"` syntax. */
export function toConfigPermissions(set: PermissionSet): Record<string, unknown> {
  const g = (x: Grant) => x === true ? true : [...x];
  return {
    net: g(set.net),
    read: g(set.read),
    write: g(set.write),
    env: [...set.env],
    run: false,
    ffi: false,
    sys: false,
    import: false,
  };
}

/**
 * Non-secret defaults baked into a scoped build with `--env-file`: the absolute cache directory
 * and config file the permissions were computed for, and the non-secret settings that came from
 * the build environment (so the binary reaches the same hosts without that environment). Run-time
 * variables still win; pointing one elsewhere yields `permission_denied`. Secrets are never baked.
 */
export function bakedEnv(
  cfg: Config,
  set: PermissionSet,
  options: { configFileExists?: boolean; cwd?: string } = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  if (set.write !== true && set.write.length > 0) out.MCS_CACHE_DIR = set.write[0];
  if (cfg.file.path && options.configFileExists !== false) {
    out.MCS_CONFIG = absolute(cfg.file.path, options.cwd ?? Deno.cwd(), "config file");
  }
  for (const s of SETTINGS) {
    if (s.secret || s.name === "cache_dir") continue;
    const src = cfg.source(s.name);
    const value = cfg.get(s.name);
    if (value !== undefined && (src.kind === "env" || src.kind === "flag")) out[s.env] = value;
  }
  return out;
}

/** Render an env file (`NAME="value"` lines; values are validated single-line settings). */
export function renderEnvFile(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join("\n") + "\n";
}
