/**
 * Minimal IP-literal parsing for proxy decisions: IPv4/IPv6 literals to bytes and CIDR
 * membership. No DNS: a hostname is never an IP here.
 *
 * Hand-written rather than `ipaddr.js` for a measured reason: every request's route decision
 * (NO_PROXY) runs it on the CLI's cold path, and importing `ipaddr.js` from source costs +32 to
 * +34 ms (a CommonJS package starts Deno's Node-compat loader) against under 1 ms for this
 * module. `tests/net/ip_test.ts` checks it against `ipaddr.js` on generated addresses and ranges.
 *
 * @example
 * ```ts
 * import { parseCidr, parseIp, cidrContains } from "./ip.ts";
 * const net = parseCidr("10.0.0.0/8")!;
 * cidrContains(net, parseIp("10.1.2.3")!); // true
 * ```
 * @module
 */

/** An IP address as bytes (4 for IPv4, 16 for IPv6). */
export type IpBytes = Uint8Array;

/** A CIDR range. */
export interface Cidr {
  /** Network address bytes. */
  addr: IpBytes;
  /** Prefix length in bits. */
  bits: number;
}

/** Parse a dotted-quad IPv4 literal (exactly four decimal parts). */
export function parseIPv4(s: string): IpBytes | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Parse an IPv6 literal (with `::` compression and an optional trailing dotted IPv4). */
export function parseIPv6(input: string): IpBytes | undefined {
  let s = input;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(":")) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const toGroups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseIPv4(item);
        if (!v4) return undefined;
        groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(item)) return undefined;
        groups.push(parseInt(item, 16));
      }
    }
    return groups;
  };
  const head = toGroups(halves[0]);
  const tail = halves.length === 2 ? toGroups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Parse an IPv4 or IPv6 literal (IPv6 may be bracketed). */
export function parseIp(s: string): IpBytes | undefined {
  return parseIPv4(s) ?? parseIPv6(s);
}

/** Parse `addr/bits` (IPv4 or IPv6). */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.lastIndexOf("/");
  if (slash < 0) return undefined;
  const addr = parseIp(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > addr.length * 8) return undefined;
  return { addr, bits };
}

/** Whether `ip` lies in `cidr` (families must match; no IPv4-mapped IPv6 translation). */
export function cidrContains(cidr: Cidr, ip: IpBytes): boolean {
  if (cidr.addr.length !== ip.length) return false;
  let bits = cidr.bits;
  for (let i = 0; i < ip.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((cidr.addr[i] & mask) !== (ip[i] & mask)) return false;
  }
  return true;
}

/** Whether two addresses are equal. */
export function ipEquals(a: IpBytes, b: IpBytes): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
