import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { encodeBase64 } from "../../lib/encoding/base64.ts";
import { generateAgentKey } from "../../lib/auth/linkauth/crypto.ts";
import { LinkAuthRelay } from "../../lib/auth/linkauth/relay.ts";
import { startLinkAuthBroker } from "../../lib/emulators/linkauth/mod.ts";
import { ConfigError } from "../../lib/errors.ts";
import { UNREACHABLE_AUTH0 } from "../support/emulators.ts";
import { agentKey } from "../broker/_world.ts";

const key = await generateAgentKey();
const provider = UNREACHABLE_AUTH0;

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: res.status === 204 ? null : await res.json(),
  };
}

Deno.test("create and poll follow the v0.2 wire format", async () => {
  const broker = await startLinkAuthBroker({ pollInterval: 5 });
  await using _ = { [Symbol.asyncDispose]: () => broker.close() };
  const created = await post(`${broker.url}/v1/sessions`, {
    public_key: key.spki,
    template: "api_key",
  });
  assertEquals(created.status, 201);
  const s = created.body;
  assertEquals(Object.keys(s), [
    "session_id",
    "code",
    "url",
    "poll_token",
    "expires_at",
    "interval",
    "callback_secret",
    "webhook_url",
  ]);
  assertMatch(s.code, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s.code.replace("-", ""))),
  );
  assertEquals(s.session_id, Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""));
  assertEquals(s.url, `${broker.url}/connect/${s.code}`);
  assertMatch(s.poll_token, /^pt_[A-Za-z0-9_-]{43}$/);
  assertMatch(s.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/);
  assertEquals([s.interval, s.callback_secret, s.webhook_url], [5, null, null]);

  const poll = (token?: string) =>
    fetch(`${broker.url}/v1/sessions/${s.session_id}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const noAuth = await poll();
  assertEquals(noAuth.status, 401);
  assertEquals(noAuth.headers.get("www-authenticate"), "Bearer");
  await noAuth.body?.cancel();
  const wrong = await poll("pt_nope");
  assertEquals([wrong.status, (await wrong.json()).title], [403, "Forbidden"]);
  const ok = await poll(s.poll_token);
  assertEquals(await ok.json(), {
    status: "pending",
    expires_at: s.expires_at,
    interval: 5,
    ciphertext: null,
    algorithm: null,
  });
  const fast = await poll(s.poll_token);
  assertEquals(fast.status, 429);
  assertEquals(fast.headers.get("content-type"), "application/problem+json");
  const slow = await fast.json();
  assertEquals([slow.type, slow.interval], ["urn:ietf:params:oauth:error:slow_down", 10]);
  const gone = await fetch(`${broker.url}/v1/sessions/${"0".repeat(64)}`, {
    headers: { authorization: "Bearer x" },
  });
  assertEquals([gone.status, (await gone.json()).title], [404, "Session Not Found"]);
});

Deno.test("public keys must be strict base64 DER SPKI RSA >= 2048", async () => {
  const broker = await startLinkAuthBroker();
  try {
    const pem = `-----BEGIN PUBLIC KEY-----\n${key.spki}\n-----END PUBLIC KEY-----`;
    const url = key.spki.replace(/\+/g, "-").replace(/\//g, "_");
    const spki1024 = (await agentKey(1024)).spki;
    for (
      const [pk, detail] of [
        [pem, "not valid base64"],
        [url === key.spki ? "!!" : url, "not valid base64"],
        [spki1024, "too small (1024 bits)"],
        ["", "must not be empty"],
        [encodeBase64(new Uint8Array([1, 2, 3])), "not a valid public key"],
      ]
    ) {
      const r = await post(`${broker.url}/v1/sessions`, { public_key: pk, template: "api_key" });
      assertEquals([r.status, r.body.title], [400, "Invalid Public Key"], pk);
      assert(r.body.detail.includes(detail), r.body.detail);
    }
    const r422 = await post(`${broker.url}/v1/sessions`, { template: "api_key" });
    assertEquals(r422.status, 422);
    assert(Array.isArray(r422.body.detail));
  } finally {
    await broker.close();
  }
});

Deno.test("API keys: nested 401/403 shape on create and proxy", async () => {
  const broker = await startLinkAuthBroker({ apiKeys: ["k1", "k2"], allowedHosts: ["127.0.0.1"] });
  try {
    for (const path of ["/v1/sessions", "/v1/proxy"]) {
      const missing = await post(`${broker.url}${path}`, {
        public_key: key.spki,
        method: "GET",
        url: "http://127.0.0.1:9/",
      });
      assertEquals([missing.status, missing.body.detail.title], [401, "API Key Required"]);
      const bad = await post(`${broker.url}${path}`, {
        public_key: key.spki,
        method: "GET",
        url: "http://127.0.0.1:9/",
      }, { "x-api-key": "k3" });
      assertEquals([bad.status, bad.body.detail.title], [403, "Invalid API Key"]);
    }
    const ok = await post(`${broker.url}/v1/sessions`, {
      public_key: key.spki,
      template: "api_key",
    }, { "x-api-key": "k2" });
    assertEquals(ok.status, 201);
  } finally {
    await broker.close();
  }
});

Deno.test("hole 1 closed: no empty connect-token injection after the OAuth redirect", async () => {
  const broker = await startLinkAuthBroker({ providers: { auth0: provider } });
  try {
    const s =
      (await post(`${broker.url}/v1/sessions`, { public_key: key.spki, oauth_provider: "auth0" }))
        .body;
    const { connect_token } = (await post(`${broker.url}/v1/connect/${s.code}/confirm`, {})).body;
    const go = await fetch(
      `${broker.url}/v1/oauth/authorize/${s.code}?connect_token=${connect_token}`,
      { redirect: "manual" },
    );
    assertEquals(go.status, 302);
    const target = new URL(go.headers.get("location")!);
    assertEquals(target.searchParams.get("code_challenge_method"), "S256");
    assert(
      target.searchParams.get("state") !== s.session_id,
      "state is not derivable from the code",
    );
    await go.body?.cancel();
    for (const token of ["", connect_token]) {
      const inj = await post(`${broker.url}/v1/connect/${s.code}/complete`, {
        ciphertext: "x",
        connect_token: token,
      });
      assertEquals(inj.status, 409, `token ${JSON.stringify(token)}`);
    }
    assertEquals(broker.session(s.code)!.status, "confirmed");
    // Form sessions: an empty token never matches either.
    const f =
      (await post(`${broker.url}/v1/sessions`, { public_key: key.spki, template: "api_key" })).body;
    await post(`${broker.url}/v1/connect/${f.code}/confirm`, {});
    const empty = await post(`${broker.url}/v1/connect/${f.code}/complete`, {
      ciphertext: "x",
      connect_token: "",
    });
    assertEquals(empty.status, 403);
  } finally {
    await broker.close();
  }
});

Deno.test("hole 3 closed: code guessing is limited per client across codes", async () => {
  const broker = await startLinkAuthBroker({ codeAttemptLimit: 5 });
  try {
    const s =
      (await post(`${broker.url}/v1/sessions`, { public_key: key.spki, template: "api_key" })).body;
    for (let i = 0; i < 5; i++) {
      const guess = await fetch(`${broker.url}/v1/connect/ZZZZ-000${i}`, {
        headers: { "x-forwarded-for": `10.0.0.${i}` },
      });
      assertEquals(guess.status, 404);
      await guess.body?.cancel();
    }
    // Even the right code, from the same client (X-Forwarded-For is not trusted), is now refused.
    const right = await fetch(`${broker.url}/v1/connect/${s.code}`);
    assertEquals([right.status, (await right.json()).title], [429, "Too Many Requests"]);
    const confirm = await post(`${broker.url}/v1/connect/${s.code}/confirm`, {});
    assertEquals(confirm.status, 429);
  } finally {
    await broker.close();
  }
});

Deno.test("hole 4 closed: the proxy relays only to allowlisted hosts and sends no CORS", async () => {
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) =>
      new Response(
        JSON.stringify({ got: req.method, body: await req.text(), h: req.headers.get("x-t") }),
        {
          status: 401,
          headers: { "content-type": "application/json", "x-up": "1" },
        },
      ),
  );
  const open = await startLinkAuthBroker(); // no allowlist: relays nothing
  const strict = await startLinkAuthBroker({ apiKeys: ["k"], allowedHosts: ["127.0.0.1"] });
  try {
    const target = `http://127.0.0.1:${upstream.addr.port}/x`;
    const denied = await post(`${open.url}/v1/proxy`, { method: "GET", url: target });
    assertEquals([denied.status, denied.body.title], [403, "Domain Not Allowed"]);
    assertEquals(denied.headers.get("access-control-allow-origin"), null);
    const other = await post(`${strict.url}/v1/proxy`, {
      method: "GET",
      url: "http://localhost:9/",
    }, { "x-api-key": "k" });
    assertEquals(other.status, 403);
    const badMethod = await post(`${strict.url}/v1/proxy`, { method: "HACK", url: target }, {
      "x-api-key": "k",
    });
    assertEquals(badMethod.status, 422);

    const relay = new LinkAuthRelay({ brokerUrl: strict.url, apiKey: "k" });
    const res = await relay.relay(
      new Request(target, { method: "POST", body: "hello", headers: { "x-t": "v" } }),
    );
    assertEquals(res.status, 401, "upstream status survives the 200 wrapper");
    assertEquals(res.headers.get("x-up"), "1");
    assertEquals(await res.json(), { got: "POST", body: "hello", h: "v" });
    assertEquals(strict.proxyLog.at(-1), { method: "POST", url: target });

    const e1 = await assertRejects(
      () => new LinkAuthRelay({ brokerUrl: open.url }).relay(new Request(target)),
      ConfigError,
    );
    assertEquals(e1.code, "linkauth_proxy_host_not_allowed");
    const e2 = await assertRejects(
      () => new LinkAuthRelay({ brokerUrl: strict.url }).relay(new Request(target)),
      ConfigError,
    );
    assertEquals(e2.code, "linkauth_api_key_missing");
  } finally {
    await Promise.all([open.close(), strict.close(), upstream.shutdown()]);
  }
});

Deno.test("ready is handed out once; consumed, then 404 after cleanup", async () => {
  const clock = { t: 1_000_000 };
  const broker = await startLinkAuthBroker({ now: () => clock.t, cleanupInterval: 60 });
  try {
    const s =
      (await post(`${broker.url}/v1/sessions`, { public_key: key.spki, template: "api_key" })).body;
    await broker.complete(s.code, { api_key: "k" });
    const poll = async () => {
      const r = await fetch(`${broker.url}/v1/sessions/${s.session_id}`, {
        headers: { authorization: `Bearer ${s.poll_token}` },
      });
      return { status: r.status, body: await r.json() };
    };
    const first = await poll();
    assertEquals([first.body.status, first.body.interval, first.body.algorithm], [
      "ready",
      null,
      "RSA-OAEP-256+AES-256-GCM",
    ]);
    clock.t += 5_000;
    const second = await poll();
    assertEquals([second.body.status, second.body.ciphertext], ["consumed", null]);
    const info = await fetch(`${broker.url}/v1/connect/${s.code}`);
    assertEquals(info.status, 410);
    await info.body?.cancel();
    clock.t += 60_000;
    assertEquals((await poll()).status, 404);
  } finally {
    await broker.close();
  }
});
