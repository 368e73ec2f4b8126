/**
 * Refresh-token custody and identity (issue 10, defects 1, 2, 8 and the emulator guesses):
 * rotated refresh tokens are persisted before use and win over the configured token they
 * descend from, on the normal path and in the doctor probe; cached tokens are bound to the
 * identity (refresh token origin + login hint); a token in its last minute is cached; and the
 * client gives the right (or a generic, actionable) answer under every variant of each guess.
 * @module
 */
import { Auth0Provider, diagnose } from "../../lib/auth/auth0/mod.ts";
import { RefreshTokens } from "../../lib/auth/auth0/refresh_token.ts";
import { keysFor } from "../../lib/auth/auth0/state.ts";
import { identityBound } from "../../lib/app/mod.ts";
import type { CredentialProvider } from "../../lib/auth/types.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import {
  type EmulatedUser,
  type GuessVariants,
  startAuth0Emulator,
  type TenantConfig,
  TOKEN_VAULT_GRANT,
} from "../../lib/emulators/auth0/server.ts";
import { McsError } from "../../lib/errors.ts";
import { assert, assertEquals, assertNotEquals, assertRejects } from "../support/assert.ts";
import { ScriptedPort } from "./fixtures/scripted_port.ts";

const BOB: EmulatedUser = {
  userId: "google-oauth2|200000000000000000002",
  email: "bob@example.com",
  name: "Bob",
  googleSub: "google-oauth2|200000000000000000002",
};

async function setup(
  config: Partial<TenantConfig> = {},
  guesses: Partial<GuessVariants> = {},
  extra: Parameters<typeof startAuth0Emulator>[0] = {},
) {
  const emu = await startAuth0Emulator({ config, guesses, ...extra });
  const dir = await Deno.makeTempDir({ prefix: "mcs-custody-" });
  const cache = new MemoryCacheStore();
  const options = {
    domain: emu.url,
    clientId: emu.clientId,
    clientSecret: emu.clientSecret,
    cache,
  };
  /** A provider as a fresh process would build it (same cache, nothing in memory). */
  const provider = (o: Partial<ConstructorParameters<typeof Auth0Provider>[0]> = {}) =>
    new Auth0Provider({ ...options, ...o });
  const port = () =>
    new ScriptedPort({
      file: `${dir}/port.json`,
      domain: emu.url,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
    });
  const exchanges = () => emu.countRequests({ grantType: TOKEN_VAULT_GRANT });
  return {
    emu,
    cache,
    options,
    provider,
    port,
    exchanges,
    async [Symbol.asyncDispose]() {
      await emu.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

// ------------------------------------------------------------------ defect 1: rotation

for (const variant of ["invalid_request", "access_denied", "allowed"] as const) {
  Deno.test(`rotation (${variant}): the doctor probe twice keeps the token family alive`, async () => {
    await using s = await setup({ refreshTokenRotation: true }, {
      tokenVaultUnderRotation: variant,
    });
    const rt = s.emu.issueRefreshToken();
    s.emu.connectAccount();
    for (const run of [1, 2, 3]) {
      const report = await diagnose({ ...s.options, refreshToken: rt });
      const codes = [report.failure?.code, ...report.warnings.map((w) => w.code)];
      assert(
        codes.includes("refresh_token_rotation_enabled"),
        `run ${run}: rotation named: ${JSON.stringify(report)}`,
      );
      assert(!codes.includes("refresh_token_invalid"), `run ${run}: ${JSON.stringify(report)}`);
    }
    // The family survived: the persisted descendant still works where rotation allows it.
    const held = await new RefreshTokens(s.cache, keysFor(s.emu.domain, s.emu.clientId), {
      configured: rt,
    }).current();
    assertNotEquals(held.token?.value, rt, "the rotated token is what is used now");
    if (variant === "allowed") {
      assert((await s.provider({ refreshToken: rt }).getToken("gmail")).length > 0);
    }
  });
}

for (const variant of ["allowed", "rotates"] as const) {
  Deno.test(`rotation (${variant}): the normal path persists every rotated token`, async () => {
    await using s = await setup({ refreshTokenRotation: true }, {
      tokenVaultUnderRotation: variant,
    });
    const rt = s.emu.issueRefreshToken();
    // Not connected: the connect step's MRRT exchange rotates the configured token.
    const first = s.provider({ refreshToken: rt, auth: s.port() });
    await assertRejects(() => first.getToken("gmail")); // the consent challenge
    s.emu.connectAccount();
    for (const run of [1, 2, 3]) {
      const p = s.provider({ refreshToken: rt });
      await p.invalidate("gmail"); // force an exchange in every "process"
      const token = await p.getToken("gmail");
      assert(token.length > 0, `run ${run}`);
    }
  });
}

Deno.test("rotation: a new configured token is a new origin (the old descendant is ignored)", async () => {
  const cache = new MemoryCacheStore();
  const keys = keysFor("t.example", "c");
  const a = new RefreshTokens(cache, keys, { configured: "v1.first" });
  const held = (await a.current()).token!;
  await a.adopt(held, { refresh_token: "v1.second" });
  assertEquals(
    (await new RefreshTokens(cache, keys, { configured: "v1.first" }).current()).token?.value,
    "v1.second",
  );
  const b = (await new RefreshTokens(cache, keys, { configured: "v1.other" }).current()).token!;
  assertEquals(b.value, "v1.other");
  assertNotEquals(b.identity, held.identity);
  // Nothing configured (an interactive path): a configured token's descendant is not used.
  assertEquals((await new RefreshTokens(cache, keys).current()).token, undefined);
  // A token from a login is, and rotates within its own identity.
  const login = new RefreshTokens(cache, keys);
  const l = await login.saveLogin("v1.login");
  const l2 = await login.adopt(l, { refresh_token: "v1.login2" });
  const again = (await new RefreshTokens(cache, keys).current()).token!;
  assertEquals([again.value, again.identity], ["v1.login2", l.identity]);
  assertEquals(l2.identity, l.identity);
});

// ------------------------------------------------------------------ defect 2: identity

Deno.test("identity: another refresh token with a warm cache never gets the previous account's token", async () => {
  await using s = await setup();
  s.emu.addUser(BOB);
  const ada = s.emu.issueRefreshToken();
  const bob = s.emu.issueRefreshToken({ user: BOB });
  s.emu.connectAccount();
  s.emu.connectAccount({ user: BOB });
  const adaToken = await s.provider({ refreshToken: ada }).getToken("gmail");
  const bobToken = await s.provider({ refreshToken: bob }).getToken("gmail");
  assertNotEquals(bobToken, adaToken, "Bob got Ada's cached Google token");
  assertEquals(s.exchanges(), 2);
  // And back: Ada's entry is still hers.
  assertEquals(await s.provider({ refreshToken: ada }).getToken("gmail"), adaToken);
});

Deno.test("identity: another login hint with a warm cache never gets the previous account's token", async () => {
  await using s = await setup();
  const rt = s.emu.issueRefreshToken();
  s.emu.connectAccount();
  await s.provider({ refreshToken: rt }).getToken("gmail");
  const err = await assertRejects(
    () => s.provider({ refreshToken: rt, loginHint: "someone-else" }).getToken("gmail"),
    McsError,
  );
  assertEquals(err.code, "connected_account_missing");
});

Deno.test("identity: the Gmail cache is bound to the provider's identity", async () => {
  const store = new MemoryCacheStore();
  const as = (id: string): CredentialProvider => ({
    getToken: () => Promise.resolve("t"),
    invalidate: () => Promise.resolve(),
    identity: () => Promise.resolve(id),
  });
  await identityBound(store, as("a"), "gmail").set("gmail/labels", ["A"]);
  assertEquals(await identityBound(store, as("b"), "gmail").get("gmail/labels"), undefined);
  assertEquals(await identityBound(store, as("a"), "gmail").get("gmail/labels"), ["A"]);
});

// ------------------------------------------------------------------ defect 8: last minute

Deno.test("a Google token in its last minute is cached and used until expiry minus the skew", async () => {
  await using s = await setup({ googleTokenTtlS: 40 });
  const rt = s.emu.issueRefreshToken();
  s.emu.connectAccount();
  const a = await s.provider({ refreshToken: rt }).getToken("gmail");
  const b = await s.provider({ refreshToken: rt }).getToken("gmail");
  assertEquals(b, a);
  assertEquals(s.exchanges(), 1, "the second process used the cached token");
});

// ------------------------------------------------------------------ guesses: /connect refusals

for (const variant of ["validation_errors", "detail_only", "forbidden"] as const) {
  Deno.test(`guess connectRefusal=${variant}: connection not enabled → its checklist code`, async () => {
    await using s = await setup({ connectedAccountsConnections: [] }, { connectRefusal: variant });
    const rt = s.emu.issueRefreshToken();
    const err = await assertRejects(
      () => s.provider({ refreshToken: rt, auth: s.port() }).getToken("gmail"),
      McsError,
    );
    assertEquals(err.code, "connection_not_enabled_for_connected_accounts", err.message);
  });

  Deno.test(`guess connectRefusal=${variant}: callback URL not allowed → actionable`, async () => {
    await using s = await setup({}, { connectRefusal: variant }, {
      allowLoopbackCallbacks: false,
    });
    const rt = s.emu.issueRefreshToken();
    const err = await assertRejects(
      () => s.provider({ refreshToken: rt, auth: s.port() }).getToken("gmail"),
      McsError,
    );
    if (variant === "validation_errors") assertEquals(err.code, "callback_url_not_allowed");
    else assertEquals(err.code, "my_account_request_rejected");
    assert(err.message.includes("http://127.0.0.1:53682/callback"), err.message);
    assert(err.message.includes("Allowed Callback URLs"), err.message);
  });
}

// ------------------------------------------------------------------ guesses: login_hint

for (const variant of ["id_or_email", "id_only"] as const) {
  Deno.test(`guess loginHint=${variant}: the Google account id selects the account`, async () => {
    await using s = await setup({}, { loginHint: variant });
    const rt = s.emu.issueRefreshToken();
    s.emu.connectAccount();
    const id = s.emu.user.googleSub.split("|").pop()!;
    assert((await s.provider({ refreshToken: rt, loginHint: id }).getToken("gmail")).length);
  });
}

// ------------------------------------------------------------------ the 429 switch

Deno.test("emulator failTokenRequests: N failures of one grant, with retry-after", async () => {
  await using s = await setup();
  s.emu.failTokenRequests({ times: 1, status: 429, retryAfter: "1", grantType: TOKEN_VAULT_GRANT });
  const rt = s.emu.issueRefreshToken();
  s.emu.connectAccount();
  // Either the shared retry policy waits it out, or the 429 surfaces with its retry-after.
  const first = await s.provider({ refreshToken: rt }).getToken("gmail").catch((e) => e);
  if (first instanceof McsError) {
    assertEquals([first.code, first.details?.retry_after_s], ["rate_limited", 1]);
  } else assertEquals(typeof first, "string");
  assertEquals(s.emu.requests.filter((r) => r.status === 429).length, 1);
  assert((await s.provider({ refreshToken: rt }).getToken("gmail")).length > 0);
});
