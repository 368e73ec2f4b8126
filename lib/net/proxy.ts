/**
 * Proxy routing: one documented semantics for `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY`
 * and the mcs overrides `MCS_PROXY_FORCE`/`MCS_PROXY_BYPASS`, independent of how Deno's own
 * fetch would read them (the network layer hides those variables from Deno; see `http.ts`).
 *
 * ## Semantics
 *
 * **Which proxy** (curl-like). For an `https:`/`wss:` URL: `https_proxy`, then `HTTPS_PROXY`,
 * then `all_proxy`, then `ALL_PROXY`. For an `http:`/`ws:` URL: `http_proxy`, then `HTTP_PROXY`
 * (ignored when `REQUEST_METHOD` is set, the CGI "httpoxy" protection), then `all_proxy`,
 * then `ALL_PROXY`. The first non-empty variable wins; lowercase is checked before uppercase.
 * The scheme-specific variable always beats `ALL_PROXY` (Deno's fetch does the opposite).
 * Other URL schemes never use a proxy.
 *
 * **Proxy values**: `scheme://[user[:password]@]host[:port]` with scheme `http` (default when
 * omitted), `https`, `socks5` or `socks5h`; credentials are percent-decoded and sent as
 * Basic proxy authentication. Any other value is an error (never silently ignored).
 *
 * **`NO_PROXY`** (`no_proxy` first, then `NO_PROXY`; first non-empty wins): entries separated by
 * commas and/or whitespace, case-insensitive:
 * - `*` alone: every host.
 * - `example.com`, `.example.com` and `*.example.com` are the same entry: they match
 *   `example.com` itself and every subdomain (`a.b.example.com`), never `badexample.com`.
 * - an IPv4/IPv6 literal (`127.0.0.1`, `::1`, `[::1]`): that address when the URL's host is
 *   written as that address. Hostnames are never resolved, so `127.0.0.1` does not match
 *   `localhost`.
 * - a CIDR range (`10.0.0.0/8`, `fd00::/8`): IP-literal hosts inside it.
 * - any of the above with `:port` (`localhost:8080`, `[::1]:8443`): only that port (the URL's
 *   explicit port or its scheme default 80/443).
 * - other `*` wildcards (`foo*.com`) are unsupported and ignored.
 * - there is no implicit loopback bypass: list `localhost,127.0.0.1,::1` if you need it.
 *
 * **Overrides** (same entry syntax, uppercase names only), checked before `NO_PROXY`:
 * 1. `MCS_PROXY_BYPASS`: matching hosts always go direct (checked first).
 * 2. `MCS_PROXY_FORCE`: matching hosts always use the proxy, even when `NO_PROXY` lists them
 *    (e.g. a sandbox that puts `*.googleapis.com` in `NO_PROXY` while its only egress is the
 *    proxy). Without a configured proxy for the URL's scheme the request goes direct.
 *
 * @example
 * ```ts
 * import { explainRoute } from "./proxy.ts";
 * explainRoute("https://gmail.googleapis.com/gmail/v1/users/me/profile", {
 *   HTTPS_PROXY: "http://user:pw@proxy.local:3128",
 *   NO_PROXY: "*.googleapis.com",
 *   MCS_PROXY_FORCE: "googleapis.com",
 * });
 * // → { route: "proxy", proxy: "http://***@proxy.local:3128",
 * //     reason: "MCS_PROXY_FORCE entry 'googleapis.com' overrides NO_PROXY entry '*.googleapis.com'" }
 * ```
 * @module
 */
import { type Cidr, cidrContains, type IpBytes, ipEquals, parseCidr, parseIp } from "./ip.ts";

/** Environment variables as a plain record (e.g. `Deno.env.toObject()`). */
export type ProxyEnv = Readonly<Record<string, string | undefined>>;

/** Standard proxy variables, in both cases; the network layer hides these from Deno. */
export const STANDARD_PROXY_ENV_NAMES: readonly string[] = [
  "http_proxy",
  "HTTP_PROXY",
  "https_proxy",
  "HTTPS_PROXY",
  "all_proxy",
  "ALL_PROXY",
  "no_proxy",
  "NO_PROXY",
];

/** Every variable this module reads. */
export const PROXY_ENV_NAMES: readonly string[] = [
  ...STANDARD_PROXY_ENV_NAMES,
  "MCS_PROXY_FORCE",
  "MCS_PROXY_BYPASS",
  "REQUEST_METHOD",
];

/** One parsed `NO_PROXY`/`MCS_PROXY_*` entry. */
export interface HostPattern {
  /** The entry as written (trimmed). */
  raw: string;
  /** What the entry matches. */
  kind: "any" | "domain" | "ip" | "cidr" | "invalid";
  /** For `domain`: the domain without `*.`/`.` prefix or trailing dot. */
  domain?: string;
  /** For `ip`. */
  ip?: IpBytes;
  /** For `cidr`. */
  cidr?: Cidr;
  /** Only this port, when the entry has `:port`. */
  port?: number;
}

/** A usable proxy server. */
export interface ProxyServer {
  /** Proxy URL without credentials or path, e.g. `http://proxy.local:3128`. */
  url: string;
  /** Redacted form for messages, e.g. `http://***@proxy.local:3128`. */
  display: string;
  /** Transport for `Deno.createHttpClient`. */
  transport: "http" | "https" | "socks5";
  /** Basic proxy credentials (percent-decoded). */
  basicAuth?: { username: string; password: string };
  /** The variable it came from, e.g. `HTTPS_PROXY`. */
  source: string;
}

/** A proxy variable whose value cannot be used. */
export interface InvalidProxy {
  invalid: true;
  /** Redacted value. */
  display: string;
  /** The variable it came from. */
  source: string;
  /** What is wrong with it. */
  problem: string;
}

/** Everything read from the environment. */
export interface ProxySettings {
  /** Proxy for `http:`/`ws:` URLs. */
  http?: ProxyServer | InvalidProxy;
  /** Proxy for `https:`/`wss:` URLs. */
  https?: ProxyServer | InvalidProxy;
  /** The `NO_PROXY` list and the variable it came from. */
  noProxy: { source?: string; patterns: HostPattern[] };
  /** `MCS_PROXY_FORCE` entries. */
  force: HostPattern[];
  /** `MCS_PROXY_BYPASS` entries. */
  bypass: HostPattern[];
}

/** The decision for one URL, as `mcs doctor` prints it. */
export interface RouteDecision {
  /** Whether the request goes through a proxy or straight to the host. */
  route: "proxy" | "direct";
  /** The proxy (credentials redacted), when `route` is `proxy`. */
  proxy?: string;
  /** Why, in words. */
  reason: string;
  /** Set when the configured proxy value is unusable; requests to this URL will fail. */
  error?: string;
  /**
   * Set when the route is direct only because a `NO_PROXY` entry matched although a proxy is
   * configured: where a sandbox's only egress is that proxy, this is why the host cannot be
   * reached, and `fix` is the setting that routes it through the proxy anyway.
   */
  proxyBypassed?: ProxyBypass;
}

/** A configured proxy skipped because of a `NO_PROXY` entry (see {@link RouteDecision}). */
export interface ProxyBypass {
  /** The skipped proxy (credentials redacted). */
  proxy: string;
  /** The variable the proxy came from, e.g. `HTTPS_PROXY`. */
  proxySource: string;
  /** The matching entry as written, e.g. `*.googleapis.com`. */
  entry: string;
  /** The variable the entry came from, e.g. `NO_PROXY`. */
  entrySource: string;
  /** The setting that sends the host through the proxy, e.g. `MCS_PROXY_FORCE=googleapis.com`. */
  fix: string;
}

/** The `MCS_PROXY_FORCE` value that overrides NO_PROXY entry `p` for `t` (no wider than it). */
function forceValueFor(p: HostPattern, t: Target): string {
  const port = p.port === undefined ? "" : `:${p.port}`;
  if (p.kind === "domain") return `${p.domain}${port}`;
  if (p.kind === "any") return t.host.includes(":") ? `[${t.host}]` : t.host;
  return p.raw;
}

/** {@link RouteDecision} plus the proxy to use (with credentials); for the network layer. */
export interface ResolvedRoute extends RouteDecision {
  /** The proxy to connect through, when `route` is `proxy` and there is no `error`. */
  server?: ProxyServer;
}

/** Replace any `user:password@` in a URL-ish string with `***@`. */
export function redactProxyUrl(value: string): string {
  return value.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)?[^@/?#]*@/i,
    (_m, scheme?: string) => `${scheme ?? ""}***@`,
  );
}

function firstSet(env: ProxyEnv, names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

/** Parse one proxy variable value. */
export function parseProxyValue(value: string, source: string): ProxyServer | InvalidProxy {
  const display = redactProxyUrl(value);
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { invalid: true, display, source, problem: "it is not a valid URL" };
  }
  const scheme = url.protocol.slice(0, -1);
  const transport = scheme === "http"
    ? "http"
    : scheme === "https"
    ? "https"
    : scheme === "socks5" || scheme === "socks5h"
    ? "socks5"
    : undefined;
  if (!transport) {
    return {
      invalid: true,
      display,
      source,
      problem: `unsupported scheme '${scheme}' (use http, https, socks5 or socks5h)`,
    };
  }
  if (!url.hostname) return { invalid: true, display, source, problem: "it has no host" };
  let basicAuth: ProxyServer["basicAuth"];
  if (url.username || url.password) {
    try {
      basicAuth = {
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
      };
    } catch {
      return { invalid: true, display, source, problem: "its credentials are badly %-encoded" };
    }
  }
  const bare = `${scheme}://${url.host}`;
  return {
    url: bare,
    display: basicAuth ? `${scheme}://***@${url.host}` : bare,
    transport,
    basicAuth,
    source,
  };
}

/** Parse a comma/whitespace separated list of host patterns (see the module docs). */
export function parseHostPatterns(list: string | undefined): HostPattern[] {
  if (!list) return [];
  return list.split(/[\s,]+/).filter((s) => s !== "").map(parseHostPattern);
}

function parseHostPattern(raw: string): HostPattern {
  const entry = raw.toLowerCase();
  if (entry === "*") return { raw, kind: "any" };
  if (entry.includes("/")) {
    const cidr = parseCidr(entry.replace(/^\[(.*)\]/, "$1"));
    return cidr ? { raw, kind: "cidr", cidr } : { raw, kind: "invalid" };
  }
  let host = entry;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    host = bracketed[1];
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else if ((entry.match(/:/g) ?? []).length === 1) {
    const [h, p] = entry.split(":");
    if (!/^\d{1,5}$/.test(p)) return { raw, kind: "invalid" };
    host = h;
    port = Number(p);
  }
  if (port !== undefined && (port < 1 || port > 65535)) return { raw, kind: "invalid" };
  const ip = parseIp(host);
  if (ip) return { raw, kind: "ip", ip, port };
  const domain = host.replace(/^\*?\./, "").replace(/\.$/, "");
  if (domain === "" || /[*\s:[\]]/.test(domain)) return { raw, kind: "invalid" };
  return { raw, kind: "domain", domain, port };
}

/** A URL's host as the matcher sees it. */
interface Target {
  host: string;
  ip?: IpBytes;
  port: number;
}

function targetOf(url: URL): Target {
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  const defaultPort = url.protocol === "https:" || url.protocol === "wss:" ? 443 : 80;
  return { host, ip: parseIp(host), port: url.port ? Number(url.port) : defaultPort };
}

/** Whether `pattern` matches the target host/port. */
function matches(p: HostPattern, t: Target): boolean {
  if (p.port !== undefined && p.port !== t.port) return false;
  switch (p.kind) {
    case "any":
      return true;
    case "domain":
      return t.host === p.domain || t.host.endsWith(`.${p.domain}`);
    case "ip":
      return t.ip !== undefined && ipEquals(p.ip!, t.ip);
    case "cidr":
      return t.ip !== undefined && cidrContains(p.cidr!, t.ip);
    default:
      return false;
  }
}

/** The first entry of `patterns` that matches `url`, if any. */
export function findHostMatch(
  patterns: readonly HostPattern[],
  url: string | URL,
): HostPattern | undefined {
  const t = targetOf(typeof url === "string" ? new URL(url) : url);
  return patterns.find((p) => matches(p, t));
}

/** Read every proxy setting from `env` (see the module docs for precedence). */
export function readProxySettings(env: ProxyEnv): ProxySettings {
  const pick = (names: string[]) => {
    const found = firstSet(env, names);
    return found ? parseProxyValue(found.value, found.name) : undefined;
  };
  const httpNames = env.REQUEST_METHOD ? ["http_proxy"] : ["http_proxy", "HTTP_PROXY"];
  const all = ["all_proxy", "ALL_PROXY"];
  const noProxy = firstSet(env, ["no_proxy", "NO_PROXY"]);
  return {
    http: pick([...httpNames, ...all]),
    https: pick(["https_proxy", "HTTPS_PROXY", ...all]),
    noProxy: { source: noProxy?.name, patterns: parseHostPatterns(noProxy?.value) },
    force: parseHostPatterns(env.MCS_PROXY_FORCE),
    bypass: parseHostPatterns(env.MCS_PROXY_BYPASS),
  };
}

function isSettings(x: ProxyEnv | ProxySettings): x is ProxySettings {
  return typeof (x as ProxySettings).noProxy === "object" &&
    Array.isArray((x as ProxySettings).force);
}

/** Decide the route for `url`, keeping the proxy credentials (for the network layer). */
export function resolveRoute(url: string | URL, settings: ProxySettings): ResolvedRoute {
  const u = typeof url === "string" ? new URL(url) : url;
  const scheme = u.protocol === "https:" || u.protocol === "wss:"
    ? "https"
    : u.protocol === "http:" || u.protocol === "ws:"
    ? "http"
    : undefined;
  if (!scheme) {
    return { route: "direct", reason: `${u.protocol} URLs never use a proxy` };
  }
  const t = targetOf(u);
  const bypass = settings.bypass.find((p) => matches(p, t));
  if (bypass) {
    return { route: "direct", reason: `MCS_PROXY_BYPASS entry '${bypass.raw}' matches` };
  }
  const proxy = settings[scheme];
  const force = settings.force.find((p) => matches(p, t));
  const vars = scheme === "https"
    ? "https_proxy/HTTPS_PROXY/all_proxy/ALL_PROXY"
    : "http_proxy/HTTP_PROXY/all_proxy/ALL_PROXY";
  if (!proxy) {
    return {
      route: "direct",
      reason: force
        ? `MCS_PROXY_FORCE entry '${force.raw}' matches but no proxy is configured for ${scheme} URLs (${vars} unset)`
        : `no proxy is configured for ${scheme} URLs (${vars} unset)`,
    };
  }
  const noProxyHit = settings.noProxy.patterns.find((p) => matches(p, t));
  const noProxyName = settings.noProxy.source ?? "NO_PROXY";
  let reason: string;
  if (force) {
    reason = noProxyHit
      ? `MCS_PROXY_FORCE entry '${force.raw}' overrides ${noProxyName} entry '${noProxyHit.raw}'`
      : `MCS_PROXY_FORCE entry '${force.raw}' matches`;
  } else if (noProxyHit) {
    return {
      route: "direct",
      reason: `${noProxyName} entry '${noProxyHit.raw}' matches`,
      proxyBypassed: {
        proxy: proxy.display,
        proxySource: proxy.source,
        entry: noProxyHit.raw,
        entrySource: noProxyName,
        fix: `MCS_PROXY_FORCE=${forceValueFor(noProxyHit, t)}`,
      },
    };
  } else {
    reason = settings.noProxy.patterns.length > 0
      ? `${proxy.source} is set and no ${noProxyName} entry matches`
      : `${proxy.source} is set`;
  }
  if ("invalid" in proxy) {
    const error =
      `${proxy.source} value '${proxy.display}' is not a usable proxy: ${proxy.problem}`;
    return { route: "proxy", proxy: proxy.display, reason: `${reason}; but ${error}`, error };
  }
  return { route: "proxy", proxy: proxy.display, reason, server: proxy };
}

/**
 * Explain how a request to `url` would be routed, with credentials redacted. Accepts either an
 * environment record or already-read {@link ProxySettings}.
 *
 * @example
 * ```ts
 * explainRoute("https://example.com/", { HTTPS_PROXY: "http://p:3128", NO_PROXY: ".example.com" });
 * // { route: "direct", reason: "NO_PROXY entry '.example.com' matches" }
 * ```
 */
export function explainRoute(url: string | URL, env: ProxyEnv | ProxySettings): RouteDecision {
  const settings = isSettings(env) ? env : readProxySettings(env);
  const { server: _server, ...decision } = resolveRoute(url, settings);
  return decision;
}
