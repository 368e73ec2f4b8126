/**
 * The broker's address guard (`lib/broker/guard.ts`): which resolved addresses `/v1/proxy` and
 * callbacks refuse, including IPv6 forms that carry an IPv4 address inside.
 * @module
 */
import { assert } from "../support/assert.ts";
import { blockedAddress } from "../../lib/broker/guard.ts";

Deno.test("guard: loopback, private, link-local and IPv4-carrying IPv6 forms are refused", () => {
  for (
    const ip of [
      "127.0.0.1",
      "10.1.2.3",
      "169.254.169.254",
      "::1",
      "::ffff:127.0.0.1",
      "fd00::1",
      "fe80::1",
      "::127.0.0.1", // IPv4-compatible
      "::a9fe:a9fe", // IPv4-compatible 169.254.169.254
      "2002:7f00:1::1", // 6to4 around 127.0.0.1
      "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
      "64:ff9b:1::a00:1", // local-use NAT64 around 10.0.0.1
      "not an address",
    ]
  ) assert(blockedAddress(ip), `${ip} must be refused`);
});

Deno.test("guard: public addresses pass", () => {
  for (const ip of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001::200e"]) {
    assert(!blockedAddress(ip), `${ip} must pass`);
  }
});
