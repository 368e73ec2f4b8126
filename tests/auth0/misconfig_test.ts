/**
 * Each tenant misconfiguration switch of the emulator yields the provider's actionable error
 * code (in-process, memory cache), plus diagnose(), relay routing, blocking ports and client
 * authentication variants.
 * @module
 */
import { Auth0Provider, diagnose } from "../../lib/auth/auth0/mod.ts";
import { AuthChallenge, type AuthPort, type HttpRelay } from "../../lib/auth/types.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import {
  type Auth0Emulator,
  startAuth0Emulator,
  type TenantConfig,
} from "../../lib/emulators/auth0/server.ts";
import { McsError } from "../../lib/errors.ts";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { recordCallback, ScriptedPort } from "./fixtures/scripted_port.ts";

async function setup(config: Partial<TenantConfig> = {}) {
  const emu = await startAuth0Emulator({ config });
  const dir = await Deno.makeTempDir({ prefix: "mcs-auth0-" });
  const cache = new MemoryCacheStore();
  const port = new ScriptedPort({
    file: `${dir}/port.json`,
    domain: emu.url,
    clientId: emu.clientId,
    clientSecret: emu.clientSecret,
  });
  const provider = (extra: Partial<ConstructorParameters<typeof Auth0Provider>[0]> = {}) =>
    new Auth0Provider({
      domain: emu.url,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      cache,
      auth: port,
      ...extra,
    });
  return {
    emu,
    cache,
    port,
    dir,
    provider,
    async [Symbol.asyncDispose]() {
      await emu.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function codeOf(p: Promise<unknown>): Promise<McsError> {
  const err = await assertRejects(() => p, McsError);
  assert(!(err instanceof AuthChallenge), `unexpected challenge: ${err.message}`);
  return err;
}

const cases: [
  string,
  Partial<TenantConfig>,
  string,
  { connected?: boolean; loginAgeMs?: number },
][] = [
  ["Token Vault grant off", { tokenVaultGrant: false }, "token_vault_grant_not_enabled", {
    connected: true,
  }],
  ["rotation on", { refreshTokenRotation: true }, "refresh_token_rotation_enabled", {
    connected: true,
  }],
  ["MFA always", { mfaPolicy: "always" }, "mfa_required", { connected: true }],
  ["My Account API not activated", { myAccountApi: false }, "my_account_api_not_activated", {}],
  [
    "My Account client grant missing",
    { myAccountClientGrant: false },
    "my_account_client_grant_missing",
    {},
  ],
  ["MRRT policy missing", { mrrtPolicyScopes: [] }, "mrrt_policy_missing", {}],
  [
    "connection not enabled for Connected Accounts",
    { connectedAccountsConnections: [] },
    "connection_not_enabled_for_connected_accounts",
    {},
  ],
  // The Default Policy bites once the login is older than 15 minutes.
  ["My Account 2FA policy", { myAccountRequire2fa: true }, "my_account_mfa_required", {
    loginAgeMs: 16 * 60_000,
  }],
];

for (const [name, config, code, opts] of cases) {
  Deno.test(`misconfiguration: ${name} → ${code}`, async () => {
    await using s = await setup();
    const rt = s.emu.issueRefreshToken({ authTime: Date.now() - (opts.loginAgeMs ?? 0) });
    if (opts.connected) s.emu.connectAccount();
    Object.assign(s.emu.config, config);
    const err = await codeOf(s.provider({ refreshToken: rt }).getToken("gmail"));
    assertEquals(err.code, code);
    assertEquals(err.category, "config");
    assert(!err.message.includes(rt), "refresh token leaked into the message");
    assert(!err.message.includes(s.emu.clientSecret), "secret leaked into the message");
    assert(Array.isArray(err.details?.checklist_items));
  });
}

Deno.test("misconfiguration: API offline access off → offline_access_disabled at login", async () => {
  await using s = await setup({ apiOfflineAccess: false });
  // The API's Allow Offline Access matters only for a login with a custom audience.
  const p = s.provider({ audience: "https://api.example.com/" });
  const ch = await assertRejects(() => p.getToken("gmail"), AuthChallenge);
  const { params } = await s.emu.approve(ch.url!);
  await recordCallback(`${s.dir}/port.json`, params);
  const err = await codeOf(p.getToken("gmail"));
  assertEquals(err.code, "offline_access_disabled");
  assertEquals(err.category, "config");
});

Deno.test("wrong client secret → invalid_client (config)", async () => {
  await using s = await setup();
  const rt = s.emu.issueRefreshToken();
  const err = await codeOf(
    s.provider({ refreshToken: rt, clientSecret: "wrong" }).getToken("gmail"),
  );
  assertEquals(err.code, "invalid_client");
  assertEquals(err.category, "config");
});

Deno.test("429 → rate_limited with retry-after; 5xx → auth0_unavailable", async () => {
  await using s = await setup();
  const rt = s.emu.issueRefreshToken();
  s.emu.connectAccount();
  // A wait longer than the retry policy takes (tests/net/retry_test.ts): reported at once.
  s.emu.injectResponse("/oauth/token", {
    status: 429,
    body: { error: "too_many_requests", error_description: "Rate limit exceeded." },
    headers: { "retry-after": "70" },
  });
  const limited = await codeOf(s.provider({ refreshToken: rt }).getToken("gmail"));
  assertEquals(limited.code, "rate_limited");
  assert(limited.retryable);
  assertEquals(limited.details?.retry_after_s, 70);
  // 500 at /oauth/token is not retried (the grant may have been processed; 503 is).
  s.emu.injectResponse("/oauth/token", { status: 500, body: {} });
  const down = await codeOf(s.provider({ refreshToken: rt }).getToken("gmail"));
  assertEquals(down.code, "auth0_unavailable");
  assert(down.retryable);
});

Deno.test("blocking port: a connect_code returned immediately is used", async () => {
  await using s = await setup();
  const rt = s.emu.issueRefreshToken();
  const emu: Auth0Emulator = s.emu;
  const blocking: AuthPort = {
    callbackUrl: "http://127.0.0.1:9/cb",
    async authenticate(req) {
      if (!req.url) throw new Error("unexpected");
      return { kind: "callback", params: (await emu.approve(req.url)).params };
    },
    invalidate: () => Promise.resolve(),
  };
  const token = await s.provider({ refreshToken: rt, auth: blocking }).getToken("gmail");
  assert(emu.googleTokens.validate(token).ok);
  assertEquals(emu.accounts().length, 1);
});

Deno.test("relay: every Auth0 call goes through the HttpRelay; client_secret_basic works", async () => {
  await using s = await setup();
  const rt = s.emu.issueRefreshToken();
  s.emu.connectAccount();
  const seen: string[] = [];
  const relay: HttpRelay = {
    relay(request) {
      seen.push(new URL(request.url).pathname);
      return fetch(request);
    },
  };
  const failing = () => Promise.reject(new Error("direct fetch must not be used"));
  const token = await s.provider({
    refreshToken: rt,
    relay,
    fetch: failing,
    clientAuth: "client_secret_basic",
  })
    .getToken("gmail");
  assert(s.emu.googleTokens.validate(token).ok);
  assertEquals(seen, ["/oauth/token"]);
});

Deno.test("login_hint is sent and must match the connected account", async () => {
  await using s = await setup();
  const rt = s.emu.issueRefreshToken();
  s.emu.connectAccount();
  const ok = await s.provider({ refreshToken: rt, loginHint: "ada@example.com" }).getToken("gmail");
  assert(ok);
  const err = await codeOf(
    s.provider({
      refreshToken: rt,
      loginHint: "other@example.com",
      auth: undefined,
      cache: new MemoryCacheStore(),
    })
      .getToken("gmail"),
  );
  assertEquals(err.code, "connected_account_missing");
});

Deno.test("invalidate() drops the cached token; unknown scope is a clear error", async () => {
  await using s = await setup();
  const rt = s.emu.issueRefreshToken();
  s.emu.connectAccount();
  const p = s.provider({ refreshToken: rt });
  await p.getToken("gmail");
  const n = s.emu.countRequests();
  await p.getToken("gmail");
  assertEquals(s.emu.countRequests(), n);
  await p.invalidate("gmail");
  await p.getToken("gmail");
  assertEquals(s.emu.countRequests(), n + 1);
  const err = await codeOf(p.getToken("Gmail"));
  assertEquals(err.code, "scope_not_mapped");
});

Deno.test("diagnose: healthy, needs connect, and the first missing setting", async () => {
  await using s = await setup();
  const rt = s.emu.issueRefreshToken();
  const opts = {
    domain: s.emu.url,
    clientId: s.emu.clientId,
    clientSecret: s.emu.clientSecret,
    cache: s.cache,
    refreshToken: rt,
  };
  const pending = await diagnose(opts);
  assert(pending.ok && pending.needsConnect, JSON.stringify(pending));
  s.emu.connectAccount();
  const healthy = await diagnose(opts);
  assert(healthy.ok && !healthy.needsConnect);
  s.emu.config.tokenVaultGrant = false;
  const broken = await diagnose(opts);
  assertEquals(broken.ok, false);
  assertEquals(broken.failure?.code, "token_vault_grant_not_enabled");
  assertEquals(broken.failure?.items, [2]);
  s.emu.config.tokenVaultGrant = true;
  s.emu.config.mrrtPolicyScopes = [];
  for (const a of s.emu.accounts()) s.emu.config.connectedAccountsConnections = [a.connection];
  s.emu.revokeRefreshTokens();
  const dead = await diagnose(opts);
  assertEquals(dead.failure?.code, "refresh_token_invalid");
  const none = await diagnose({ ...opts, refreshToken: undefined });
  assertEquals(none.failure?.code, "refresh_token_missing");
});
