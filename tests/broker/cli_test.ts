/**
 * `mcs broker serve` refuses to start without what a production broker needs, with a typed
 * configuration error (exit 3) that names the setting, and never runs as an open relay.
 * @module
 */
import { assertEquals, assertStringIncludes } from "../support/assert.ts";
import { doc, mcs } from "../cli/_mcs.ts";

Deno.test("mcs broker serve without LINKAUTH_API_KEYS: exit 3, broker_no_api_keys", async () => {
  const r = await mcs(["broker", "serve", "--json"], { env: {} });
  assertEquals(r.code, 3, r.stderr);
  const d = doc(r);
  assertEquals(d.error.code, "broker_no_api_keys");
  assertStringIncludes(d.error.message, "LINKAUTH_API_KEYS");
});

Deno.test("mcs broker serve with half a TLS pair or a bad proxy list: exit 3, broker_config_invalid", async () => {
  for (
    const env of <Record<string, string>[]> [
      { LINKAUTH_API_KEYS: "k", MCS_BROKER_TLS_CERT: "/nonexistent/cert.pem" },
      { LINKAUTH_API_KEYS: "k", MCS_BROKER_TRUSTED_PROXIES: "not-an-ip" },
    ]
  ) {
    const r = await mcs(["broker", "serve", "--json"], { env });
    assertEquals(r.code, 3, r.stderr);
    assertEquals(doc(r).error.code, "broker_config_invalid");
  }
});
