/**
 * `mcs broker serve` refuses to start without what a production broker needs, with a typed
 * configuration error (exit 3) that names the setting, and never runs as an open relay.
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
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

Deno.test("mcs broker serve with MCS_STORE but no MCS_STORE_KEY, or a bad store URL: exit 3, the setting named, no password echoed", async () => {
  const cases: [Record<string, string>, string, string][] = [
    [{ MCS_STORE: "redis://:hunter2pw@127.0.0.1:1/0" }, "missing_setting", "MCS_STORE_KEY"],
    [
      { MCS_STORE: "http://:hunter2pw@127.0.0.1:1/0", MCS_STORE_KEY: "x" },
      "store_url_invalid",
      "MCS_STORE",
    ],
  ];
  for (const [env, code, named] of cases) {
    const r = await mcs(["broker", "serve", "--json"], {
      env: { LINKAUTH_API_KEYS: "k", ...env },
    });
    assertEquals(r.code, 3, r.stderr);
    const d = doc(r);
    assertEquals(d.error.code, code);
    assertStringIncludes(d.error.message, named);
    assert(!(r.stdout + r.stderr).includes("hunter2pw"), "the password echoed");
  }
});
