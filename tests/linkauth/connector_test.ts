import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "../support/assert.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { AuthChallenge, type AuthRequest } from "../../lib/auth/types.ts";
import { ConfigError, McsError } from "../../lib/errors.ts";
import { LinkAuthConnector } from "../../lib/auth/linkauth/connector.ts";
import { LinkAuthProvider } from "../../lib/auth/linkauth/provider.ts";
import { encryptEnvelope, generateAgentKey } from "../../lib/auth/linkauth/crypto.ts";
import type { FetchLike } from "../../lib/net/types.ts";
import { linkAuthWorld } from "../support/emulators.ts";

/** {@link linkAuthWorld} whose connectors sleep on the shared fake clock (`sleep` advances it). */
async function setup(...[broker, conn]: Parameters<typeof linkAuthWorld>) {
  const ref: { clock?: { t: number } } = {};
  const world = await linkAuthWorld(broker, {
    sleep: (ms) => Promise.resolve(void (ref.clock!.t += ms)),
    ...conn,
  });
  ref.clock = world.clock;
  return world;
}

async function challenge(c: LinkAuthConnector, req: AuthRequest = { scope: "gmail" }) {
  return await assertRejects(() => c.authenticate(req), AuthChallenge);
}

Deno.test("login: challenge, pending, then the refresh token; stored result; invalidate (B1)", async () => {
  await using env = await setup();
  const { broker, clock, cache, connector } = env;
  assertEquals(await cache.keys("linkauth/"), [], "nothing generated before a session is needed");

  const first = await challenge(connector);
  assertEquals(first.step, "login");
  assertEquals(first.scope, "gmail");
  assert(first.url?.startsWith(`${broker.url}/connect/`));
  assert(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(first.userCode!));
  assertEquals(first.retryAfterS, 6);
  assertStringIncludes(first.message, first.url!);
  const s = broker.session(first.userCode!)!;
  assertEquals(s.oauthProvider, "auth0");
  assert(s.oauthScopes?.includes("offline_access"));
  assertEquals(first.expiresAt, s.expiresAt);

  // Too soon: the call waits out the interval, then polls (still pending: the same code).
  const again = await challenge(connector);
  assertEquals(again.userCode, first.userCode);
  assertEquals(broker.session(first.userCode!)!.pollCount, 1);

  clock.t += 6_000;
  const pending = await challenge(connector);
  assertEquals(pending.userCode, first.userCode);
  assertEquals(broker.session(first.userCode!)!.pollCount, 2);

  await broker.complete(first.userCode!, {
    access_token: "at",
    refresh_token: "rt-1",
    expires_in: 3600,
  });
  clock.t += 6_000;
  const result = await connector.authenticate({ scope: "gmail" });
  assertEquals(result, {
    kind: "credential",
    credential: { kind: "refresh_token", value: "rt-1" },
  });
  assertEquals(broker.session(first.userCode!)!.status, "consumed");

  // A later call (another process) gets the stored result without asking the broker.
  assertEquals(await connector.authenticate({ scope: "gmail" }), result);
  assertEquals(broker.session(first.userCode!)!.pollCount, 3);

  await connector.invalidate("gmail");
  const fresh = await challenge(connector);
  assertNotEquals(fresh.userCode, first.userCode);
});

Deno.test("the API key and the login parameters are sent as configured", async () => {
  await using env = await setup({ apiKeys: ["key-1"] }, {
    apiKey: "key-1",
    login: { scopes: ["openid", "offline_access"], extraParams: { audience: "https://api" } },
  });
  const c = await challenge(env.connector, {
    scope: "gmail",
    authorizeParams: { login_hint: "a@b" },
  });
  const s = env.broker.session(c.userCode!)!;
  assertEquals(s.oauthScopes, ["openid", "offline_access"]);
  assertEquals(s.oauthExtraParams, { audience: "https://api", login_hint: "a@b" });
});

Deno.test("missing and wrong API keys are configuration errors", async () => {
  await using env = await setup({ apiKeys: ["right"] });
  const e1 = await assertRejects(() => env.connector.authenticate({ scope: "gmail" }), ConfigError);
  assertEquals(e1.code, "linkauth_api_key_missing");
  const e2 = await assertRejects(
    () => env.make({ apiKey: "wrong" }).authenticate({ scope: "gmail" }),
    ConfigError,
  );
  assertEquals(e2.code, "linkauth_api_key_invalid");
  assert(!e2.message.includes("wrong"));
});

Deno.test("a rejected poll token is a configuration error and drops the session", async () => {
  await using env = await setup();
  await challenge(env.connector);
  const key = (await env.cache.keys("linkauth/session/"))[0];
  const stored = await env.cache.get<Record<string, unknown>>(key);
  await env.cache.set(key, { ...stored, poll_token: "pt_forged" });
  env.clock.t += 6_000;
  const e = await assertRejects(() => env.connector.authenticate({ scope: "gmail" }), ConfigError);
  assertEquals(e.code, "linkauth_poll_rejected");
  assertEquals(await env.cache.get(key), undefined);
});

Deno.test("expiry at the broker (404) and locally both yield a new challenge", async () => {
  await using env = await setup();
  const first = await challenge(env.connector);
  env.broker.expire(first.userCode!);
  env.clock.t += 6_000;
  const second = await challenge(env.connector);
  assertNotEquals(second.userCode, first.userCode);
  assertStringIncludes(second.message, "expired");

  env.clock.t += 601_000; // past the local expires_at: no poll, straight to a new session
  const polls = env.broker.session(second.userCode!)?.pollCount;
  const third = await challenge(env.connector);
  assertNotEquals(third.userCode, second.userCode);
  assertEquals(polls, undefined, "the broker forgot the expired session too");
});

Deno.test("tampered envelope, wrong algorithm and wrong key are discarded with a new challenge", async () => {
  await using env = await setup();
  const other = await generateAgentKey();
  const cases: [string, (code: string, spki: string) => Promise<void>][] = [
    ["could not be decrypted", async (code, spki) => {
      const good = await encryptEnvelope(spki, { refresh_token: "rt-PLAINTEXT" });
      const inner = JSON.parse(atob(good));
      const ct = atob(inner.ciphertext);
      inner.ciphertext = btoa(String.fromCharCode(ct.charCodeAt(0) ^ 1) + ct.slice(1));
      env.broker.inject(code, btoa(JSON.stringify(inner)));
    }],
    ["unsupported format", async (code, spki) => {
      env.broker.inject(
        code,
        await encryptEnvelope(spki, { refresh_token: "rt-PLAINTEXT" }),
        "RSA1_5+A128CBC",
      );
    }],
    ["could not be decrypted", async (code) => {
      env.broker.inject(code, await encryptEnvelope(other.spki, { refresh_token: "rt-PLAINTEXT" }));
    }],
  ];
  for (const [expected, corrupt] of cases) {
    const c = await challenge(env.connector);
    await corrupt(c.userCode!, env.broker.session(c.userCode!)!.publicKey);
    env.clock.t += 6_000;
    const next = await challenge(env.connector);
    assertNotEquals(next.userCode, c.userCode);
    assertStringIncludes(next.message, expected);
    assert(!next.message.includes("PLAINTEXT"), "no plaintext in the message");
    await env.connector.invalidate("gmail");
    env.broker.expire(next.userCode!);
    env.clock.t += 6_000;
  }
});

Deno.test("polling too fast is slowed, not failed, and the new interval persists", async () => {
  // A broker that advertises interval 1 but enforces 5 makes the agent poll too early.
  let rewritten = false;
  const fetch: FetchLike = async (input, init) => {
    const res = await globalThis.fetch(input, init);
    if (!String(input).includes("/v1/sessions") || !res.ok) return res;
    const body = await res.json();
    if (body.interval === 5) {
      rewritten = true;
      body.interval = 1;
    }
    return new Response(JSON.stringify(body), { status: res.status });
  };
  await using env = await setup({}, { fetch, pollMarginMs: 0 });
  const c = await challenge(env.connector);
  assert(rewritten);
  env.clock.t += 1_000;
  await challenge(env.connector); // accepted (first poll)
  env.clock.t += 1_000;
  const slowed = await challenge(env.connector); // 429 slow_down, interval 10
  assertEquals(slowed.userCode, c.userCode);
  assertEquals(slowed.retryAfterS, 10);
  const polls = env.broker.session(c.userCode!)!.pollCount;
  env.clock.t += 5_000;
  // A new process (new connector, same cache) honours the persisted interval: it waits out the
  // rest of the 10 s, then polls once, accepted (no second slow_down).
  const slept: number[] = [];
  const sleep = (ms: number) => Promise.resolve(void (slept.push(ms), env.clock.t += ms));
  const waited = await challenge(env.make({ sleep }));
  assertEquals(waited.userCode, c.userCode);
  assertEquals(slept, [5_000]);
  assertEquals(env.broker.session(c.userCode!)!.pollCount, polls + 1);
  await env.broker.complete(c.userCode!, { refresh_token: "rt-slow" });
  env.clock.t += 5_000;
  const r = await env.make().authenticate({ scope: "gmail" });
  assertEquals(r.kind === "credential" && r.credential.value, "rt-slow");
});

Deno.test("a rerun right after the person finished gets the result, not the done challenge", async () => {
  await using env = await setup();
  const first = await challenge(env.make());
  env.clock.t += 6_000;
  await challenge(env.make()); // polled: pending
  // The person finishes now, and the agent runs the command again at once, 1 s after the last
  // poll: a fresh connector (a new process) on the same cache waits the rest out and polls.
  await env.broker.complete(first.userCode!, { refresh_token: "rt-9" });
  env.clock.t += 1_000;
  const slept: number[] = [];
  const sleep = (ms: number) => Promise.resolve(void (slept.push(ms), env.clock.t += ms));
  const result = await env.make({ sleep }).authenticate({ scope: "gmail" });
  assertEquals(result, {
    kind: "credential",
    credential: { kind: "refresh_token", value: "rt-9" },
  });
  assertEquals(slept, [4_500], "the rest of the interval (5 s + 0.5 s margin), no more");

  // The same for a passthrough poll by state alone.
  const req: AuthRequest = {
    scope: "gmail:connect",
    url: "http://127.0.0.1:9/connect?ticket=t9",
    callbackParams: ["connect_code"],
    state: "st-9",
  };
  const c = await challenge(env.make(), req);
  await env.broker.complete(c.userCode!, { connect_code: "cc-9" });
  env.clock.t += 2_000;
  assertEquals(await env.make({ sleep }).authenticate({ ...req, url: undefined }), {
    kind: "callback",
    params: { connect_code: "cc-9" },
  });
});

Deno.test("a stored next poll further out than any interval is not waited for", async () => {
  await using env = await setup();
  const first = await challenge(env.make());
  const key = (await env.cache.keys("linkauth/session/"))[0];
  const stored = await env.cache.get<Record<string, number>>(key);
  await env.cache.set(key, { ...stored, nextPollAt: env.clock.t + 300_000 });
  const slept: number[] = [];
  const again = await challenge(env.make({ sleep: (ms) => Promise.resolve(void slept.push(ms)) }));
  assertEquals([again.userCode, slept], [first.userCode, []]);
});

Deno.test("passthrough: connect consent via the broker, connect_code captured by state", async () => {
  await using env = await setup();
  const { broker, clock, connector } = env;
  assertEquals(connector.callbackUrl, `${broker.url}/v1/oauth/callback`);
  const req: AuthRequest = {
    scope: "gmail:connect",
    url: "http://127.0.0.1:9/connected-accounts/connect?ticket=t1",
    callbackParams: ["connect_code"],
    state: "st-1",
  };
  const c = await challenge(connector, req);
  assertEquals(c.step, "connect");
  const s = broker.session(c.userCode!)!;
  assertEquals(s.customAuthorizeUrl, req.url);
  assertEquals(s.customState, "st-1");

  // The person: confirm, follow the redirect, the provider calls back with state.
  const { connect_token } =
    await (await fetch(`${broker.url}/v1/connect/${c.userCode}/confirm`, { method: "POST" }))
      .json();
  const go = await fetch(
    `${broker.url}/v1/oauth/authorize/${c.userCode}?connect_token=${connect_token}`,
    { redirect: "manual" },
  );
  assertEquals(go.status, 302);
  assertEquals(go.headers.get("location"), req.url);
  const back = await fetch(`${broker.url}/v1/oauth/callback?connect_code=cc-9&state=st-1`, {
    redirect: "manual",
  });
  assertEquals(back.status, 302);
  await back.body?.cancel();

  clock.t += 6_000;
  assertEquals(await connector.authenticate(req), {
    kind: "callback",
    params: { connect_code: "cc-9" },
  });
  // One-time: the next call for the same state starts over.
  const again = await challenge(connector, req);
  assertNotEquals(again.userCode, c.userCode);
});

Deno.test("blocking wait polls until done and shows the challenge once", async () => {
  const seen: string[] = [];
  const ref: { env?: Awaited<ReturnType<typeof setup>> } = {};
  await using env = ref.env = await setup({}, {
    wait: { deadlineMs: 60_000 },
    onChallenge: (c) => seen.push(c.userCode!),
    sleep: async (ms) => {
      ref.env!.clock.t += ms;
      const s = ref.env!.broker.sessions()[0];
      if (s.pollCount === 2) await ref.env!.broker.complete(s.code, { refresh_token: "rt-w" });
    },
  });
  const r = await env.connector.authenticate({ scope: "gmail" });
  assertEquals(r.kind === "credential" && r.credential.value, "rt-w");
  assertEquals(seen.length, 1);
});

Deno.test("blocking wait gives up at the deadline with the challenge", async () => {
  const ref: { env?: Awaited<ReturnType<typeof setup>> } = {};
  await using env = ref.env = await setup({}, {
    wait: { deadlineMs: 20_000 },
    sleep: (ms) => Promise.resolve(void (ref.env!.clock.t += ms)),
  });
  await challenge(env.connector);
  assert(env.broker.sessions()[0].pollCount >= 2);
});

Deno.test("LinkAuthProvider: access token from a form template, with expiry", async () => {
  await using env = await setup({}, {
    credential: "access_token",
    login: { oauthProvider: null, template: "api_key" },
  });
  const provider = new LinkAuthProvider({ connector: env.connector, now: () => env.clock.t });
  const c = await assertRejects(() => provider.getToken("svc"), AuthChallenge);
  assertEquals(env.broker.session(c.userCode!)!.templateType, "form");
  await env.broker.complete(c.userCode!, { api_key: "k-1" });
  env.clock.t += 6_000;
  assertEquals(await provider.getToken("svc"), "k-1");
  assertEquals(await provider.getToken("svc"), "k-1");
  await provider.invalidate("svc");
  await assertRejects(() => provider.getToken("svc"), AuthChallenge);
});

Deno.test("access-token mode keeps expiry from the token response", async () => {
  await using env = await setup({}, { credential: "access_token" });
  const c = await challenge(env.connector);
  await env.broker.complete(c.userCode!, { access_token: "at-1", expires_in: 60, scope: "a b" });
  env.clock.t += 6_000;
  const r = await env.connector.authenticate({ scope: "gmail" });
  assert(r.kind === "credential" && r.credential.kind === "access_token");
  assertEquals(r.credential.value, "at-1");
  assertEquals(r.credential.expiresAt, env.clock.t + 60_000);
  assertEquals(r.credential.scopes, ["a", "b"]);
  env.clock.t += 61_000; // the stored result expires with the token
  await challenge(env.connector);
});

Deno.test("no refresh token in the result is an actionable error", async () => {
  await using env = await setup();
  const c = await challenge(env.connector);
  await env.broker.complete(c.userCode!, { access_token: "at" });
  env.clock.t += 6_000;
  const e = await assertRejects(() => env.connector.authenticate({ scope: "gmail" }), McsError);
  assertEquals(e.code, "linkauth_no_refresh_token");
  assertStringIncludes(e.message, "offline_access");
});

Deno.test("an unreachable broker is a retryable error", async () => {
  const cache = new MemoryCacheStore();
  const c = new LinkAuthConnector({ brokerUrl: "http://127.0.0.1:1", cache });
  const e = await assertRejects(() => c.authenticate({ scope: "gmail" }), McsError);
  assertEquals(e.code, "linkauth_broker_unreachable");
  assert(e.retryable);
});
