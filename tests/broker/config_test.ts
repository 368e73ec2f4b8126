/**
 * The broker's configuration with LinkAuth's environment names: base URL normalisation, API keys
 * kept as hashes only, and providers from `OAUTH_<NAME>_*` (explicit URLs, or OIDC discovery from
 * the issuer, read when first used and cached).
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { brokerSettings, envProviders } from "../../lib/broker/config.ts";
import { ConfigError } from "../../lib/errors.ts";

const envOf = (m: Record<string, string>) => ({ get: (n: string) => m[n] });

Deno.test("settings: LinkAuth's base URL rules, hashed keys, allowlist, MCS_BROKER_* defaults", async () => {
  const s = await brokerSettings(envOf({
    LINKAUTH_BASE_URL: "broker.example.com/",
    LINKAUTH_API_KEYS: " k1 , k2 ",
    LINKAUTH_ALLOWED_DOMAINS: "*.Auth0.com, tenant.example",
  }));
  assertEquals(s.baseUrl, "https://broker.example.com");
  assertEquals(s.apiKeyHashes.length, 2);
  assert(!JSON.stringify(s).includes("k1"), "no plain key in the settings");
  assertEquals(s.allowedHosts, ["*.auth0.com", "tenant.example"]);
  assertEquals([s.host, s.port, s.stateDir, s.allowPrivate], [
    "127.0.0.1",
    8080,
    "./broker-state",
    false,
  ]);
  const e = await assertRejects(
    () => brokerSettings(envOf({ LINKAUTH_API_KEYS: "k", MCS_BROKER_ALLOW_PRIVATE: "yes" })),
    ConfigError,
  );
  assertEquals(e.code, "broker_config_invalid");
});

Deno.test("settings: MCS_BROKER_API_KEY_RATE sets the per-key limit (a positive whole number); unset, the default", async () => {
  const set = await brokerSettings(
    envOf({ LINKAUTH_API_KEYS: "k", MCS_BROKER_API_KEY_RATE: "42" }),
  );
  assertEquals(set.limits, { perKeyPerMinute: 42 });
  assertEquals((await brokerSettings(envOf({ LINKAUTH_API_KEYS: "k" }))).limits, {});
  for (const bad of ["0", "-5", "1.5", "lots"]) {
    const e = await assertRejects(
      () => brokerSettings(envOf({ LINKAUTH_API_KEYS: "k", MCS_BROKER_API_KEY_RATE: bad })),
      ConfigError,
    );
    assertEquals(e.code, "broker_config_invalid");
    assert(e.message.includes("MCS_BROKER_API_KEY_RATE"), e.message);
  }
});

Deno.test("providers: explicit URLs, or OIDC discovery from the issuer (once), else not configured", async () => {
  let discoveries = 0;
  const fetchStub = (input: string | URL | Request) => {
    discoveries++;
    assertEquals(String(input), "https://tenant.example/.well-known/openid-configuration");
    return Promise.resolve(Response.json({
      authorization_endpoint: "https://tenant.example/authorize",
      token_endpoint: "https://tenant.example/oauth/token",
    }));
  };
  const providers = envProviders(
    envOf({
      OAUTH_AUTH0_CLIENT_ID: "cid",
      OAUTH_AUTH0_CLIENT_SECRET: "sec",
      OAUTH_AUTH0_ISSUER: "tenant.example",
      OAUTH_GH_CLIENT_ID: "g",
      OAUTH_GH_CLIENT_SECRET: "s",
      OAUTH_GH_AUTH_URL: "https://gh.example/authorize",
      OAUTH_GH_TOKEN_URL: "https://gh.example/token",
      OAUTH_HALF_CLIENT_ID: "only-an-id",
    }),
    fetchStub,
  );
  const a = await providers("auth0");
  assertEquals([a?.authorizeUrl, a?.tokenUrl, a?.clientId], [
    "https://tenant.example/authorize",
    "https://tenant.example/oauth/token",
    "cid",
  ]);
  await providers("auth0");
  assertEquals(discoveries, 1);
  assertEquals((await providers("gh"))?.tokenUrl, "https://gh.example/token");
  assertEquals(await providers("half"), undefined);
  assertEquals(await providers("nobody"), undefined);
});
