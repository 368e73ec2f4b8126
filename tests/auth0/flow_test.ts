/**
 * The Auth0 double flow end to end against the tenant emulator, every step a separate process
 * that shares only the cache directory and the scripted port's file.
 * @module
 */
import { type Auth0Emulator, startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";
import { assert, assertEquals, assertNotEquals } from "../support/assert.ts";
import { runDenoJson } from "../support/process.ts";
import type { ChildInput } from "./fixtures/child.ts";
import { readPortFile, recordCallback } from "./fixtures/scripted_port.ts";

const CHILD = new URL("./fixtures/child.ts", import.meta.url).pathname;

interface ChildOutput {
  ok?: boolean;
  token?: string;
  challenge?: { step: string; url: string; scope?: string; expiresAt?: number };
  error?: { code: string; category: string; message: string };
}

/** A test world: emulator with a shiftable clock, a temp dir, and a runner for child steps. */
async function world() {
  let offset = 0;
  const emu = await startAuth0Emulator({ now: () => Date.now() + offset });
  const dir = await Deno.makeTempDir({ prefix: "mcs-auth0-" });
  const base: ChildInput = {
    cacheDir: `${dir}/cache`,
    portFile: `${dir}/port.json`,
    domain: emu.url,
    clientId: emu.clientId,
    clientSecret: emu.clientSecret,
    scope: "gmail",
  };
  const run = (extra: Partial<ChildInput> = {}): Promise<ChildOutput> =>
    runDenoJson<ChildOutput>(CHILD, {
      perms: ["--allow-net=127.0.0.1", "--allow-read", "--allow-write", "--allow-env"],
      input: { ...base, nowOffsetMs: offset, ...extra },
    });
  /** Perform the browser step with one request and hand the callback to the port. */
  const browser = async (url: string) => {
    const { params } = await emu.approve(url);
    await recordCallback(base.portFile, params);
    return params;
  };
  return {
    emu,
    run,
    browser,
    base,
    advance: (ms: number) => (offset += ms),
    async [Symbol.asyncDispose]() {
      await emu.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Drive the flow to a working token; returns it. */
async function connectFully(w: Awaited<ReturnType<typeof world>>): Promise<string> {
  const login = await w.run();
  assertEquals(login.challenge?.step, "login");
  await w.browser(login.challenge!.url);
  const connect = await w.run();
  assertEquals(connect.challenge?.step, "connect");
  await w.browser(connect.challenge!.url);
  const done = await w.run();
  assert(done.ok && done.token, JSON.stringify(done));
  return done.token!;
}

function countToken(emu: Auth0Emulator): number {
  return emu.countRequests({ path: "/oauth/token" });
}

Deno.test("double flow: login → connect → token → cached → refreshed", async () => {
  await using w = await world();
  // 1. No refresh token: login challenge pointing at the tenant's /authorize.
  const login = await w.run();
  assertEquals(login.challenge?.step, "login");
  const authorize = new URL(login.challenge!.url);
  assertEquals(authorize.origin + authorize.pathname, `${w.emu.url}/authorize`);
  assertEquals(authorize.searchParams.get("code_challenge_method"), "S256");
  assertEquals(authorize.searchParams.get("connection"), "google-oauth2");
  assert(authorize.searchParams.get("scope")!.includes("offline_access"));
  assertEquals(w.emu.countRequests(), 0);

  // 2. Login done: exchange → not_found → MRRT → /connect → connect challenge.
  const params = await w.browser(login.challenge!.url);
  assert(params.code && params.state);
  const connect = await w.run();
  assertEquals(connect.challenge?.step, "connect");
  const consent = new URL(connect.challenge!.url);
  assertEquals(consent.origin + consent.pathname, `${w.emu.url}/connect`);
  assert(consent.searchParams.get("ticket"));
  assertEquals(w.emu.countRequests({ path: "/me/v1/connected-accounts/connect" }), 1);
  assertEquals(w.emu.countRequests({ grantType: "refresh_token" }), 1);

  // A second run before consent polls the same flow: same URL, no new /connect.
  const again = await w.run();
  assertEquals(again.challenge?.url, connect.challenge!.url);
  assertEquals(w.emu.countRequests({ path: "/me/v1/connected-accounts/connect" }), 1);

  // 3. Consent done: /complete → exchange → a Google token the registry accepts.
  await w.browser(connect.challenge!.url);
  const done = await w.run();
  assert(done.ok && done.token, JSON.stringify(done));
  const check = w.emu.googleTokens.validate(done.token!);
  assert(check.ok);
  assertEquals(check.grant.email, "ada@example.com");
  assert(check.grant.scopes.includes("https://www.googleapis.com/auth/gmail.send"));
  assertEquals(w.emu.countRequests({ path: "/me/v1/connected-accounts/complete" }), 1);

  // 4. Cached token reused without any Auth0 call.
  const before = w.emu.countRequests();
  const cached = await w.run();
  assertEquals(cached.token, done.token);
  assertEquals(w.emu.countRequests(), before);

  // 5. Past expiry (1377 s): one Token Vault exchange, a new token.
  w.advance(1400_000);
  const refreshed = await w.run();
  assert(refreshed.ok);
  assertNotEquals(refreshed.token, done.token);
  assertEquals(w.emu.countRequests(), before + 1);
  assert(w.emu.googleTokens.validate(refreshed.token!).ok);
});

Deno.test("invalid_grant clears the refresh token everywhere and starts a new login", async () => {
  await using w = await world();
  await connectFully(w);
  w.emu.revokeRefreshTokens();
  w.advance(1400_000);
  const out = await w.run();
  assertEquals(out.challenge?.step, "login");
  const port = await readPortFile(w.base.portFile);
  assertEquals(port.credential, undefined);
  assert(port.calls.invalidate >= 1);
  // The new login completes and the (still connected) account works again.
  await w.browser(out.challenge!.url);
  const done = await w.run();
  assert(done.ok, JSON.stringify(done));
});

Deno.test("an abandoned connect flow expires and restarts with a fresh challenge", async () => {
  await using w = await world();
  const login = await w.run();
  await w.browser(login.challenge!.url);
  const first = await w.run();
  assertEquals(first.challenge?.step, "connect");
  w.advance(301_000);
  const second = await w.run();
  assertEquals(second.challenge?.step, "connect");
  assertNotEquals(second.challenge!.url, first.challenge!.url);
  assertEquals(w.emu.countRequests({ path: "/me/v1/connected-accounts/connect" }), 2);
  // The old consent link is dead; the new one completes.
  await w.browser(second.challenge!.url);
  const done = await w.run();
  assert(done.ok, JSON.stringify(done));
});

Deno.test("connection offline access off: works until expiry, then an actionable error", async () => {
  await using w = await world();
  w.emu.config.connectionOfflineAccess = false;
  await connectFully(w);
  w.advance(1400_000);
  const out = await w.run();
  assertEquals(out.error?.code, "connection_offline_access_disabled");
  assertEquals(out.error?.category, "config");
  // After fixing the setting, the next run restarts the connect flow.
  w.emu.config.connectionOfflineAccess = true;
  const next = await w.run();
  assertEquals(next.challenge?.step, "connect");
});

Deno.test("pre-stored refresh token (auth0 path) without a port", async () => {
  await using w = await world();
  const rt = w.emu.issueRefreshToken();
  const none = await w.run({ refreshToken: rt, noPort: true });
  assertEquals(none.error?.code, "connected_account_missing");
  w.emu.connectAccount({ scopes: ["openid", "https://mail.google.com/"] });
  const ok = await w.run({ refreshToken: rt, noPort: true });
  assert(ok.ok);
  w.emu.revokeRefreshTokens();
  w.advance(1400_000);
  const dead = await w.run({ refreshToken: rt, noPort: true });
  assertEquals(dead.error?.code, "refresh_token_invalid");
  assertEquals(countToken(w.emu) > 0, true);
});

Deno.test("parallel calls start one connect flow, show one URL, and complete it once", async () => {
  await using w = await world();
  const rt = w.emu.issueRefreshToken();
  const parallel = () => Promise.all([0, 1, 2, 3].map(() => w.run({ refreshToken: rt })));
  const first = await parallel();
  const urls = new Set(first.map((o) => o.challenge?.url));
  assertEquals(first.map((o) => o.challenge?.step), ["connect", "connect", "connect", "connect"]);
  assertEquals(urls.size, 1, `one consent URL, not ${[...urls].join(" | ")}`);
  assertEquals(w.emu.countRequests({ path: "/me/v1/connected-accounts/connect" }), 1);
  await w.browser(first[0].challenge!.url);
  const done = await parallel();
  for (const o of done) assert(o.ok && o.token, JSON.stringify(o));
  assertEquals(w.emu.countRequests({ path: "/me/v1/connected-accounts/complete" }), 1);
});
