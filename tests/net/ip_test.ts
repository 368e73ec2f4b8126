/**
 * `lib/net/ip.ts` (hand-written: it is on every request's cold path, where `ipaddr.js` costs
 * +33 ms from source; see README "Dependencies and why") checked against `ipaddr.js`, an
 * independent, well-kept implementation, on generated addresses and CIDR ranges.
 * @module
 */
import ipaddr from "ipaddr.js";
import { assert, assertEquals } from "../support/assert.ts";
import { cidrContains, parseCidr, parseIp } from "../../lib/net/ip.ts";

/** A small seeded PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 20261203;

function v4(r: () => number): string {
  return Array.from({ length: 4 }, () => Math.floor(r() * 256)).join(".");
}

/** An IPv6 text form: full, `::`-compressed at a random run, or with a dotted IPv4 tail. */
function v6(r: () => number): string {
  const groups = Array.from(
    { length: 8 },
    () => r() < 0.3 ? "0" : Math.floor(r() * 65536).toString(16),
  );
  const form = r();
  if (form < 0.3) return groups.join(":");
  if (form < 0.6) {
    const a = Math.floor(r() * 8);
    const b = a + 1 + Math.floor(r() * (8 - a));
    return `${groups.slice(0, a).join(":")}::${groups.slice(b).join(":")}`;
  }
  if (form < 0.8) return `${groups.slice(0, 6).join(":")}:${v4(r)}`;
  return `::ffff:${v4(r)}`;
}

Deno.test("parseIp agrees with ipaddr.js on 4000 generated IPv4 and IPv6 literals", () => {
  const r = rng(SEED);
  for (let i = 0; i < 4000; i++) {
    const text = i % 2 ? v4(r) : v6(r);
    const ours = parseIp(text);
    assert(ours, `rejected ${text}`);
    assertEquals([...ours], ipaddr.parse(text).toByteArray(), text);
  }
});

Deno.test("parseIp rejects what ipaddr.js rejects (malformed literals)", () => {
  const bad = [
    "256.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "1..2.3",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "12345::",
    "g::1",
    ":::",
    "1:2:3:4:5:6:7::8:9",
    "::1.2.3.256",
    "example.com",
    "",
  ];
  for (const text of bad) {
    assertEquals(parseIp(text), undefined, text);
    assert(!ipaddr.IPv4.isValidFourPartDecimal(text) && !ipaddr.IPv6.isValid(text), text);
  }
});

Deno.test("cidrContains agrees with ipaddr.js match() on 4000 generated ranges", () => {
  const r = rng(SEED + 1);
  for (let i = 0; i < 4000; i++) {
    const six = i % 2 === 0;
    const base = six ? v6(r) : v4(r);
    const bits = Math.floor(r() * ((six ? 128 : 32) + 1));
    // Half the probes near the base (same prefix likely), half anywhere.
    const probe = r() < 0.5
      ? base.replace(/[0-9a-f]$/, (c) => (c === "0" ? "1" : "0"))
      : (six ? v6(r) : v4(r));
    const cidr = parseCidr(`${base}/${bits}`);
    const ip = parseIp(probe);
    assert(cidr && ip, `${base}/${bits} ${probe}`);
    const expected = ipaddr.parse(probe).match(ipaddr.parse(base), bits);
    assertEquals(cidrContains(cidr, ip), expected, `${probe} in ${base}/${bits}`);
  }
});
