/**
 * `mcs doctor` as a separate process: the static part with no configuration at all, a correct
 * setup, and each misconfiguration switch of the Auth0 tenant emulator named by its checklist
 * code.
 * @module
 */

import { startAuth0Emulator, type TenantConfig } from "../../lib/emulators/auth0/server.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { doc, mcs } from "./_mcs.ts";

Deno.test("doctor's static part works with no configuration and no network", async () => {
  const r = await mcs(["doctor", "--offline", "--json"], {
    env: { MCS_CACHE_DIR: "/proc/mcs-not-writable" },
  });
  assertEquals(r.code, 0, r.stderr);
  const d = doc(r);
  assertEquals(d.result.mode, null);
  assertEquals(d.result.healthy, false);
  assertEquals(d.result.cache.writable, false);
  assert(d.result.problems.some((p: string) => p.includes("MCS_AUTH")));
  assertEquals(d.result.routes[0].url, "https://gmail.googleapis.com");
  assertEquals(d.result.routes[0].route, "direct");
  const human = await mcs(["doctor", "--offline"], {
    env: { HTTPS_PROXY: "http://127.0.0.1:3128" },
  });
  assertStringIncludes(human.stdout, "via http://127.0.0.1:3128");
});

Deno.test("doctor: a correct tenant, then each misconfiguration named", async (t) => {
  const emu = await startAuth0Emulator();
  const cache = await Deno.makeTempDir({ prefix: "mcs-doctor-" });
  try {
    const env = (rt: string) => ({
      MCS_AUTH: "auth0",
      MCS_AUTH0_DOMAIN: emu.url,
      MCS_AUTH0_CLIENT_ID: emu.clientId,
      MCS_AUTH0_CLIENT_SECRET: emu.clientSecret,
      MCS_AUTH0_REFRESH_TOKEN: rt,
      MCS_GMAIL_API_BASE: emu.url,
      MCS_CACHE_DIR: cache,
    });
    const doctor = async (rt: string) => {
      const r = await mcs(["doctor", "--json"], { env: env(rt) });
      assertEquals(r.code, 0, r.stdout + r.stderr);
      return doc(r).result;
    };
    await t.step("correct setup, account not yet connected: healthy", async () => {
      const res = await doctor(emu.issueRefreshToken());
      assertEquals(res.healthy, true, JSON.stringify(res.problems));
      assertEquals(res.auth0.ok, true);
      assertEquals(res.auth0.needsConnect, true);
      assert(!JSON.stringify(res).includes(emu.clientSecret), "never the secret");
      const secret = res.settings.find((s: { name: string }) => s.name === "auth0_client_secret");
      assertEquals(secret.present, true);
      assertEquals("value" in secret, false);
    });
    const scenarios: [string, Partial<TenantConfig>, string][] = [
      ["Token Vault grant off", { tokenVaultGrant: false }, "token_vault_grant_not_enabled"],
      [
        "refresh token rotation on",
        { refreshTokenRotation: true },
        "refresh_token_rotation_enabled",
      ],
      ["MFA required", { mfaPolicy: "always" }, "mfa_required"],
      ["My Account API off", { myAccountApi: false }, "my_account_api_not_activated"],
      [
        "My Account client grant missing",
        { myAccountClientGrant: false },
        "my_account_client_grant_missing",
      ],
      ["MRRT policy missing", { mrrtPolicyScopes: [] }, "mrrt_policy_missing"],
    ];
    for (const [name, change, code] of scenarios) {
      await t.step(name, async () => {
        const saved = { ...emu.config };
        Object.assign(emu.config, change);
        try {
          const res = await doctor(emu.issueRefreshToken());
          assertEquals(res.healthy, false);
          assertEquals(res.auth0.failure?.code, code, JSON.stringify(res.auth0));
          assert(res.problems.some((p: string) => p.startsWith("Auth0:")), res.problems.join());
        } finally {
          Object.assign(emu.config, saved);
        }
      });
    }
    await t.step("revoked refresh token", async () => {
      const rt = emu.issueRefreshToken();
      emu.revokeRefreshTokens();
      const res = await doctor(rt);
      assertEquals(res.auth0.failure?.code, "refresh_token_invalid");
    });
  } finally {
    await emu.close();
    await Deno.remove(cache, { recursive: true });
  }
});
