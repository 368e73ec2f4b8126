/**
 * The broker's outbound address guard (closes hole 5 without an optional dependency): before
 * `/v1/proxy` or a `callback_url` delivery connects, the target host is resolved and every
 * address it resolves to is checked; loopback, private, link-local (cloud metadata included),
 * shared, multicast and reserved ranges are refused unless `MCS_BROKER_ALLOW_PRIVATE=1`.
 * IPv4-mapped IPv6 addresses are checked as IPv4. A host that does not resolve is refused.
 *
 * DNS rebinding: {@link resolveChecked} returns the address it checked, and the broker connects
 * to that address (`pin.ts`), never to a second DNS answer. Redirects are never followed by the
 * callers, so a public host cannot bounce a request to a private one.
 *
 * @example
 * ```ts
 * import { blockedAddress } from "./guard.ts";
 * blockedAddress("169.254.169.254"); // true
 * blockedAddress("93.184.216.34"); // false
 * ```
 * @module
 */
import { cidrContains, parseCidr, parseIp } from "../net/ip.ts";

const BLOCKED = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "::/128",
  "::1/128",
  // IPv4-compatible (deprecated), 6to4 (RFC 7526) and Teredo carry an IPv4 address inside, local
  // NAT64 (RFC 8215) a translated one: refused whole rather than decoded.
  "::/96",
  "2002::/16",
  "2001::/32",
  "64:ff9b:1::/48",
  "64:ff9b::/96",
  "100::/64",
  "2001:db8::/32",
  "fc00::/7",
  "fe80::/10",
  "ff00::/8",
].map((c) => parseCidr(c)!);

const MAPPED = parseCidr("::ffff:0:0/96")!;

/** Whether an IP literal is in a range the broker must not reach by default. */
export function blockedAddress(ip: string): boolean {
  let bytes = parseIp(ip);
  if (!bytes) return true;
  if (bytes.length === 16 && cidrContains(MAPPED, bytes)) bytes = bytes.slice(12);
  return BLOCKED.some((c) => cidrContains(c, bytes));
}

/** Why a target was refused, or `undefined` when it may be reached. */
export type GuardVerdict = undefined | "blocked" | "unresolved";

/**
 * Check a host before connecting: an IP literal directly, `localhost` names as loopback, any
 * other name by its A and AAAA records (all must pass).
 */
export async function checkHost(
  hostname: string,
  o: { allowPrivate: boolean; resolve?: (host: string) => Promise<string[]> },
): Promise<GuardVerdict> {
  return (await resolveChecked(hostname, o)).verdict;
}

/**
 * {@link checkHost}, plus the address to connect to when the host is a name that passed: the
 * first of its checked addresses (`undefined` for an IP literal, which needs no pinning, and
 * when private addresses are allowed, which checks nothing).
 */
export async function resolveChecked(
  hostname: string,
  o: { allowPrivate: boolean; resolve?: (host: string) => Promise<string[]> },
): Promise<{ verdict: GuardVerdict; address?: string }> {
  if (o.allowPrivate) return { verdict: undefined };
  const host = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (parseIp(host)) return { verdict: blockedAddress(host) ? "blocked" : undefined };
  if (host === "localhost" || host.endsWith(".localhost")) return { verdict: "blocked" };
  const addrs = await (o.resolve ?? resolveAll)(host);
  if (addrs.length === 0) return { verdict: "unresolved" };
  if (addrs.some(blockedAddress)) return { verdict: "blocked" };
  return { verdict: undefined, address: addrs[0] };
}

async function resolveAll(host: string): Promise<string[]> {
  const out: string[] = [];
  for (const type of ["A", "AAAA"] as const) {
    try {
      out.push(...await Deno.resolveDns(host, type));
    } catch {
      // no records of this type
    }
  }
  return out;
}
