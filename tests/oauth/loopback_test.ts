import { assert, assertEquals, assertRejects, assertStringIncludes } from "../support/assert.ts";
import {
  OAuthLoopbackConnector,
  type OAuthLoopbackOptions,
} from "../../lib/auth/oauth/connector.ts";
import { startCallbackServer } from "../../lib/auth/oauth/callback_server.ts";
import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { AuthChallenge } from "../../lib/auth/types.ts";
import { ConfigError, McsError } from "../../lib/errors.ts";

async function withAuth0(
  fn: (emu: Awaited<ReturnType<typeof startAuth0Emulator>>) => Promise<void>,
) {
  const emu = await startAuth0Emulator();
  try {
    await fn(emu);
  } finally {
    await emu.close();
  }
}

/** The person's browser: approve at the emulator, then follow the redirect to the loopback. */
function person(
  emu: Awaited<ReturnType<typeof startAuth0Emulator>>,
  opts: { deny?: boolean } = {},
) {
  const seen: string[] = [];
  const done: Promise<unknown>[] = [];
  const onUrl = (url: string) => {
    seen.push(url);
    done.push((async () => {
      const { location } = await emu.approve(url, opts);
      const res = await fetch(location);
      await res.body?.cancel();
    })());
  };
  return { seen, done, onUrl };
}

const base = (
  emu: { url: string; clientId: string; clientSecret: string },
): OAuthLoopbackOptions => ({
  authorizeUrl: `${emu.url}/authorize`,
  tokenUrl: `${emu.url}/oauth/token`,
  clientId: emu.clientId,
  clientSecret: emu.clientSecret,
});

Deno.test("PKCE login against the Auth0 emulator; result kept for non-blocking calls", () =>
  withAuth0(async (emu) => {
    const p = person(emu);
    const cache = new MemoryCacheStore();
    const opened: string[] = [];
    const c = new OAuthLoopbackConnector({
      ...base(emu),
      onUrl: p.onUrl,
      cache,
      openBrowser: (url) => opened.push(url),
    });
    const r = await c.login({ scope: "gmail" });
    await Promise.all(p.done);
    assertEquals(opened, p.seen, "the printed URL is also handed to the opener");
    assert(r.kind === "credential" && r.credential.kind === "refresh_token");
    const url = new URL(p.seen[0]);
    assertEquals(url.searchParams.get("code_challenge_method"), "S256");
    assertEquals(url.searchParams.get("code_challenge")?.length, 43);
    assert(url.searchParams.get("redirect_uri")!.startsWith("http://127.0.0.1:"));
    assertEquals(emu.countRequests({ path: "/oauth/token", grantType: "authorization_code" }), 1);
    assertEquals(await c.authenticate({ scope: "gmail" }), r);
    await c.invalidate("gmail");
    const ch = await assertRejects(() => c.authenticate({ scope: "gmail" }), AuthChallenge);
    assertStringIncludes(ch.message, "mcs auth login");
    assertEquals(ch.step, "login");
  }));

Deno.test("a denied sign-in is a typed error, and the browser gets an answer", () =>
  withAuth0(async (emu) => {
    const p = person(emu, { deny: true });
    const c = new OAuthLoopbackConnector({ ...base(emu), onUrl: p.onUrl });
    const e = await assertRejects(() => c.login({ scope: "gmail" }), McsError);
    await Promise.all(p.done);
    assertEquals(e.code, "oauth_authorization_failed");
  }));

Deno.test("blocking mode: authenticate runs the flow; the opener is optional and may fail", () =>
  withAuth0(async (emu) => {
    const p = person(emu);
    const c = new OAuthLoopbackConnector({
      ...base(emu),
      onUrl: p.onUrl,
      blocking: true,
      credential: "access_token",
      openBrowser: () => {
        throw new Error("no display");
      },
    });
    const r = await c.authenticate({ scope: "gmail" });
    await Promise.all(p.done);
    assert(r.kind === "credential" && r.credential.kind === "access_token");
    assert(r.credential.expiresAt! > Date.now());
  }));

Deno.test("callback server: wrong path 404, wrong method 405, wrong state 400, then success", async () => {
  const cb = await startCallbackServer({ state: "good", path: "/cb" });
  const origin = new URL(cb.redirectUri).origin;
  const status = async (url: string, init?: RequestInit) => {
    const r = await fetch(url, init);
    await r.body?.cancel();
    return r.status;
  };
  assertEquals(await status(`${origin}/favicon.ico`), 404);
  assertEquals(await status(`${cb.redirectUri}?state=good&code=x`, { method: "POST" }), 405);
  assertEquals(await status(`${cb.redirectUri}?state=evil&code=x`), 400);
  assertEquals(await status(`${cb.redirectUri}?state=good&code=c1`), 200);
  assertEquals((await cb.result).get("code"), "c1");
  await cb.close();
});

Deno.test("callback server: times out and closes", async () => {
  const cb = await startCallbackServer({ state: "s", timeoutMs: 30 });
  const e = await assertRejects(() => cb.result, McsError);
  assertEquals(e.code, "oauth_callback_timeout");
  await cb.close();
  await assertRejects(() => fetch(cb.redirectUri));
});

Deno.test("callback server: a busy port is a configuration error", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const e = await assertRejects(
      () => startCallbackServer({ state: "s", port: (busy.addr as Deno.NetAddr).port }),
      ConfigError,
    );
    assertEquals(e.code, "oauth_callback_port_in_use");
  } finally {
    busy.close();
  }
});

Deno.test("passthrough: the consent redirect's connect_code is captured by state", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const c = new OAuthLoopbackConnector({
    authorizeUrl: "http://127.0.0.1:9/authorize",
    tokenUrl: "http://127.0.0.1:9/oauth/token",
    clientId: "c",
    port,
    onUrl: async () => {
      const r = await fetch(`${c.callbackUrl}?connect_code=cc-1&state=st`);
      await r.body?.cancel();
    },
  });
  assertEquals(c.callbackUrl, `http://127.0.0.1:${port}/callback`);
  const r = await c.login({
    scope: "gmail:connect",
    url: "http://127.0.0.1:9/connect?ticket=t",
    callbackParams: ["connect_code"],
    state: "st",
  });
  assertEquals(r, { kind: "callback", params: { connect_code: "cc-1" } });
  const ch = await assertRejects(
    () => c.authenticate({ scope: "gmail:connect", url: "http://x/", state: "s" }),
    AuthChallenge,
  );
  assertEquals(ch.step, "connect");
});

Deno.test("port 0 serves the sign-in only: a consent is a ConfigError naming the fix", async () => {
  const c = new OAuthLoopbackConnector({
    authorizeUrl: "http://127.0.0.1:9/authorize",
    tokenUrl: "http://127.0.0.1:9/oauth/token",
    clientId: "c",
    port: 0,
    portSetting: { name: "p", env: "X_PORT", flag: "--x-port", suggested: 8123 },
    onUrl: () => {
      throw new Error("no browser step may start");
    },
    blocking: true,
  });
  let thrown: unknown;
  try {
    c.callbackUrl;
  } catch (e) {
    thrown = e;
  }
  assert(thrown instanceof ConfigError, String(thrown));
  assertEquals(thrown.code, "oauth_callback_port_required");
  assertStringIncludes(thrown.message, "Set X_PORT (or pass --x-port)");
  assertStringIncludes(thrown.message, "http://127.0.0.1:8123/callback");
  assertEquals(thrown.details, {
    setting: "p",
    env: "X_PORT",
    flag: "--x-port",
    callback_url: "http://127.0.0.1:8123/callback",
  });
  const consent = { scope: "gmail:connect", url: "http://127.0.0.1:9/connect", state: "s" };
  for (const run of [() => c.authenticate(consent), () => c.login(consent)]) {
    const e = await assertRejects(run, ConfigError);
    assertEquals(e.code, "oauth_callback_port_required");
  }
  const bare = new OAuthLoopbackConnector({
    authorizeUrl: "http://127.0.0.1:9/authorize",
    tokenUrl: "http://127.0.0.1:9/oauth/token",
    clientId: "c",
  });
  const e = await assertRejects(() => bare.login(consent), ConfigError);
  assertStringIncludes(e.message, "Configure a fixed callback port");
  assertStringIncludes(e.message, "http://127.0.0.1:3000/callback");
});

/**
 * `port` can be listened on again: the callback server let it go. Under a busy parallel suite
 * another process's outgoing connection may hold the same number as its local port for a moment
 * (ephemeral ports come from the same range), so a few tries; a server that kept the port fails
 * every one.
 */
async function assertPortFree(port: number): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return;
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse) || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

Deno.test("per-call blocking: a session's onUrl gets the URL and step; parts of one call share one wait; abort frees the port and raises the challenge", () =>
  withAuth0(async (emu) => {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    let session: import("../../lib/auth/oauth/connector.ts").LoopbackSession | undefined;
    const c = new OAuthLoopbackConnector({
      ...base(emu),
      port,
      cache: new MemoryCacheStore(),
      onUrl: () => {
        throw new Error("the connector's own onUrl is not used with a session");
      },
      blocking: () => session,
    });
    // No session: non-blocking.
    await assertRejects(() => c.authenticate({ scope: "gmail" }), AuthChallenge);

    // A session that stops: both parallel parts end with the challenge, the port is free.
    const stop = new AbortController();
    const urls: [string, string][] = [];
    session = { signal: stop.signal, onUrl: (url, step) => void urls.push([url, step]) };
    const a = c.authenticate({ scope: "gmail" });
    const b = c.authenticate({ scope: "gmail" });
    while (urls.length === 0) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    await assertRejects(() => a, AuthChallenge);
    await assertRejects(() => b, AuthChallenge);
    assertEquals(urls.length, 1, "one callback server and one URL for both parts");
    assertEquals(urls[0][1], "login");
    await assertPortFree(port); // released

    // Nobody comes back in time: the challenge too, and the port is free.
    session = { timeoutMs: 50, onUrl: () => {} };
    await assertRejects(() => c.authenticate({ scope: "gmail" }), AuthChallenge);
    await assertPortFree(port);

    // A session whose person approves: the credential.
    const p = person(emu);
    session = { onUrl: (url) => p.onUrl(url) };
    const r = await c.authenticate({ scope: "gmail" });
    assertEquals(r.kind, "credential");
    await Promise.all(p.done);
  }));
