/**
 * Two real `mcs broker serve` processes on one real Redis (`MCS_STORE`): sessions, connect
 * tokens, OAuth states and rate limits are shared, and every transition that must happen once
 * happens once across both. Also: the mcs double flow with the agent and the person's browser on
 * different replicas, no cleartext secret in Redis, and a Redis outage answered with a clear 503
 * and recovered from without a restart.
 * @module
 */
import { encodeBase64 } from "../../lib/encoding/base64.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { dumpStrings, redisServer, startRedis, type TestRedis } from "../support/redis.ts";
import { testRequiring } from "../support/requires.ts";
import { chainWorld } from "../chain/_world.ts";
import { type BrokerProcess, spawnBroker } from "./_process.ts";
import { agentKey, openEnvelope, pageEnvelope } from "./_world.ts";

const KEY = "replica-agent-key";

/** The shared environment of both replicas. */
function replicaEnv(redis: TestRedis, dir: string, storeKey: string): Record<string, string> {
  return {
    LINKAUTH_API_KEYS: KEY,
    LINKAUTH_ALLOWED_DOMAINS: "*.example.test",
    MCS_STORE: redis.url,
    MCS_STORE_KEY: storeKey,
    MCS_STORE_PREFIX: "broker-test:",
    MCS_BROKER_STATE_DIR: `${dir}/unused-state`,
    OAUTH_AUTH0_CLIENT_ID: "client",
    OAUTH_AUTH0_CLIENT_SECRET: "replica-client-secret",
    OAUTH_AUTH0_AUTH_URL: "https://tenant.example.test/authorize",
    OAUTH_AUTH0_TOKEN_URL: "https://tenant.example.test/oauth/token",
  };
}

const newStoreKey = () => `k1:${encodeBase64(crypto.getRandomValues(new Uint8Array(32)))}`;

/** Redis, two replicas on it (`extra` added to their environment), and an agent key; dispose
 * with `await using`. */
async function replicas(extra: Record<string, string> = {}) {
  const redis = await startRedis();
  const dir = await Deno.makeTempDir({ prefix: "mcs-broker-replicas-" });
  const env = { ...replicaEnv(redis, dir, newStoreKey()), ...extra };
  const a = await spawnBroker(env);
  const b = await spawnBroker(env);
  const key = await agentKey();
  const api = (r: BrokerProcess, path: string, init: RequestInit = {}) =>
    fetch(`${r.url}${path}`, {
      ...init,
      headers: {
        "content-type": "application/json",
        "x-api-key": KEY,
        ...init.headers as Record<string, string>,
      },
    });
  const create = async (r: BrokerProcess, body: Record<string, unknown>) => {
    const res = await api(r, "/v1/sessions", {
      method: "POST",
      body: JSON.stringify({ public_key: key.spki, ...body }),
    });
    const j = await res.json();
    assertEquals(res.status, 201, JSON.stringify(j));
    return j as { session_id: string; code: string; poll_token: string; url: string };
  };
  const confirm = async (r: BrokerProcess, code: string) => {
    const res = await fetch(`${r.url}/v1/connect/${code}/confirm`, { method: "POST" });
    const j = await res.json();
    assertEquals(res.status, 200, JSON.stringify(j));
    return j.connect_token as string;
  };
  const complete = (r: BrokerProcess, code: string, body: Record<string, unknown>) =>
    fetch(`${r.url}/v1/connect/${code}/complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const poll = async (r: BrokerProcess, s: { session_id: string; poll_token: string }) => {
    const res = await api(r, `/v1/sessions/${s.session_id}`, {
      headers: { authorization: `Bearer ${s.poll_token}` },
    });
    return { status: res.status, body: await res.json() };
  };
  return {
    redis,
    a,
    b,
    key,
    env,
    api,
    create,
    confirm,
    complete,
    poll,
    async [Symbol.asyncDispose]() {
      await Promise.all([a.close(), b.close()]);
      await redis[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

testRequiring(redisServer, {
  name:
    "replicas: created on A, confirmed and completed on B, ready once when A and B poll together",
  async fn() {
    await using w = await replicas();
    assert(
      /state in redis store redis:\/\/127\.0\.0\.1:\d+\/0 \(prefix broker-test:\)\n/.test(
        w.a.log(),
      ),
      w.a.log(),
    );
    for (let i = 0; i < 4; i++) {
      const s = await w.create(w.a, { template: "api_key" });
      const ct = await w.confirm(w.b, s.code);
      const env = await pageEnvelope(w.key.spki, { api_key: `secret-${i}` });
      const done = await w.complete(w.b, s.code, { ciphertext: env, connect_token: ct });
      assertEquals(done.status, 204, await done.text());
      const both = await Promise.all([w.poll(w.a, s), w.poll(w.b, s)]);
      const ready = both.filter((r) => r.body.status === "ready");
      assertEquals(ready.length, 1, JSON.stringify(both));
      assertEquals(await openEnvelope(w.key.privateKey, ready[0].body.ciphertext), {
        api_key: `secret-${i}`,
      });
      const other = both.find((r) => r !== ready[0])!;
      assert(!other.body.ciphertext, JSON.stringify(other));
    }
  },
});

testRequiring(redisServer, {
  name: "replicas: a connect token used on A is refused on B (form complete, passthrough redirect)",
  async fn() {
    await using w = await replicas();
    const form = await w.create(w.a, { template: "api_key" });
    const ct = await w.confirm(w.a, form.code);
    const again = await fetch(`${w.b.url}/v1/connect/${form.code}/confirm`, { method: "POST" });
    assertEquals(again.status, 409, await again.text()); // confirmed once, across replicas
    const env = await pageEnvelope(w.key.spki, { api_key: "k" });
    const first = await w.complete(w.a, form.code, { ciphertext: env, connect_token: ct });
    assertEquals(first.status, 204, await first.text());
    const second = await w.complete(w.b, form.code, { ciphertext: env, connect_token: ct });
    assert(second.status >= 400, `${second.status}`);
    await second.body?.cancel();

    const pass = await w.create(w.a, {
      template: "custom",
      fields: [{ name: "x", label: "X" }],
      oauth_provider: "auth0",
      custom_authorize_url: "https://tenant.example.test/connect?ticket=t1",
      custom_state: "st-1",
    });
    const pct = await w.confirm(w.b, pass.code);
    const go = (r: BrokerProcess) =>
      fetch(`${r.url}/v1/oauth/authorize/${pass.code}?connect_token=${pct}`, {
        redirect: "manual",
      });
    const redirected = await go(w.a);
    assertEquals(redirected.status, 302);
    await redirected.body?.cancel();
    const replay = await go(w.b);
    assert(replay.status >= 400, `${replay.status}`);
    await replay.body?.cancel();
  },
});

testRequiring(redisServer, {
  name:
    "replicas: code guesses from one address are counted across replicas (429 with Retry-After on both)",
  async fn() {
    await using w = await replicas();
    const guess = async (r: BrokerProcess, i: number) => {
      const res = await fetch(`${r.url}/v1/connect/ZZZZ-${String(1000 + i)}`);
      await res.body?.cancel();
      return res;
    };
    for (let i = 0; i < 10; i++) {
      assertEquals((await guess(i % 2 ? w.b : w.a, i)).status, 404); // 5 misses on each
    }
    for (const r of [w.a, w.b]) {
      const limited = await guess(r, 40);
      assertEquals(limited.status, 429);
      assert(Number(limited.headers.get("retry-after")) > 0);
    }
  },
});

testRequiring(redisServer, {
  name: "replicas: parallel code guesses on both replicas cannot overshoot the address limit",
  async fn() {
    await using w = await replicas();
    const statuses = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const res = await fetch(`${(i % 2 ? w.b : w.a).url}/v1/connect/ZZZZ-${2000 + i}`);
        await res.body?.cancel();
        return res.status;
      }),
    );
    assertEquals(statuses.filter((s) => s === 404).length, 10, JSON.stringify(statuses));
    assertEquals(statuses.filter((s) => s === 429).length, 14, JSON.stringify(statuses));
  },
});

testRequiring(redisServer, {
  name:
    "replicas: one API key's calls on both replicas are limited in total (MCS_BROKER_API_KEY_RATE), 429 with Retry-After; another key is unaffected",
  async fn() {
    const OTHER = "replica-agent-key-2";
    await using w = await replicas({
      LINKAUTH_API_KEYS: `${KEY},${OTHER}`,
      MCS_BROKER_API_KEY_RATE: "7",
    });
    /** An agent call (a poll of an unknown session: 404 once the key passes). */
    const call = async (r: BrokerProcess, key: string) => {
      const res = await w.api(r, "/v1/sessions/unknown-session-id", {
        headers: { "x-api-key": key, authorization: "Bearer pt_unknown" },
      });
      await res.body?.cancel();
      return { status: res.status, retryAfter: Number(res.headers.get("retry-after")) };
    };
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(i % 2 ? w.b : w.a, KEY)),
    );
    const statuses = answers.map((a) => a.status);
    assertEquals(statuses.filter((s) => s === 404).length, 7, JSON.stringify(statuses));
    assertEquals(statuses.filter((s) => s === 429).length, 13, JSON.stringify(statuses));
    for (const a of answers.filter((a) => a.status === 429)) {
      assert(a.retryAfter > 0 && a.retryAfter <= 60, JSON.stringify(a));
    }
    // Both replicas refuse the spent key; the other key is counted on its own.
    for (const r of [w.a, w.b]) {
      assertEquals((await call(r, KEY)).status, 429);
      assertEquals((await call(r, OTHER)).status, 404);
    }
    for (const r of [w.a, w.b]) assert(/GET \/v1\/sessions\/… 429/.test(r.log()), r.log());
  },
});

testRequiring(redisServer, {
  name: "replicas: Redis holds no cleartext ciphertext, token, code or API key",
  async fn() {
    await using w = await replicas();
    const s = await w.create(w.a, { template: "api_key", enable_webhook: true });
    const ct = await w.confirm(w.b, s.code);
    const pending = await w.create(w.b, { template: "api_key" });
    const env = await pageEnvelope(w.key.spki, { api_key: "k" });
    assertEquals(
      (await w.complete(w.a, s.code, { ciphertext: env, connect_token: ct })).status,
      204,
    );
    const values = await dumpStrings(w.redis);
    assert(values.size >= 3, `values: ${values.size}`);
    const secrets = [
      env,
      ct,
      new URL((s as unknown as { webhook_url: string }).webhook_url).searchParams.get("token")!,
      s.poll_token,
      pending.poll_token,
      s.code,
      s.code.replace("-", ""),
      pending.code.replace("-", ""),
      KEY,
      w.key.spki.slice(20, 80),
    ];
    for (const [k, v] of values) {
      for (const x of secrets) assert(!v.includes(x) && !k.includes(x), `cleartext in ${k}`);
      // The session id (SHA-256 of the code) names its entry; the value never holds it.
      assert(!v.includes(s.session_id), `the session id in the value of ${k}`);
      // (Sealed values are base64url, so a quoted token prefix cannot occur by chance.)
      assert(!/"(ct|pt|wt|cs)_/.test(v), `a token in ${k}`);
    }
  },
});

testRequiring(redisServer, {
  name:
    "replicas: Redis down answers 503 store_unavailable (health too), then both recover without a restart",
  async fn() {
    await using w = await replicas();
    assertEquals((await fetch(`${w.a.url}/health`)).status, 200);
    await w.redis.stop();
    for (const r of [w.a, w.b]) {
      const health = await fetch(`${r.url}/health`);
      assertEquals([health.status, (await health.json()).status], [503, "unavailable"]);
    }
    const res = await w.api(w.a, "/v1/sessions", {
      method: "POST",
      body: JSON.stringify({ public_key: w.key.spki, template: "api_key" }),
    });
    const body = await res.json();
    assertEquals([res.status, body.code], [503, "store_unavailable"], JSON.stringify(body));
    assert(Number(res.headers.get("retry-after")) > 0);
    await w.redis.start();
    for (const r of [w.a, w.b]) {
      const deadline = Date.now() + 20_000;
      let status = 0;
      while (status !== 200 && Date.now() < deadline) {
        const h = await fetch(`${r.url}/health`);
        await h.body?.cancel();
        status = h.status;
        if (status !== 200) await new Promise((ok) => setTimeout(ok, 200));
      }
      assertEquals(status, 200);
    }
    const s = await w.create(w.a, { template: "api_key" });
    const ct = await w.confirm(w.b, s.code);
    const env = await pageEnvelope(w.key.spki, { api_key: "after" });
    assertEquals(
      (await w.complete(w.b, s.code, { ciphertext: env, connect_token: ct })).status,
      204,
    );
    const got = await w.poll(w.a, s);
    assertEquals(got.body.status, "ready");
    assert(/state store trouble \(store_unavailable\)/.test(w.a.log()), w.a.log());
  },
});

testRequiring(redisServer, {
  name:
    "replicas: the mcs double flow with the agent and the person's browser on alternating replicas",
  async fn() {
    await using redis = await startRedis({ password: "replica-redis-pass" });
    await using w = await chainWorld({
      brokerProcess: true,
      brokerReplica: true,
      brokerEnv: { MCS_STORE: redis.url, MCS_STORE_KEY: newStoreKey() },
    });
    const a = w.brokerProcess!;
    const b = w.brokerReplica!;
    // Login: the agent on A, the person on B; the agent polls on B.
    const login = await w.agent({ brokerUrl: a.url });
    assertEquals(login.challenge?.step, "login", JSON.stringify(login));
    w.personAt(b.url);
    await w.personSignsIn(login.challenge!.code!);
    w.advance(6_000);
    // Connect: the agent (now on B) gets the consent challenge; the person consents on A.
    const connect = await w.agent({ brokerUrl: b.url });
    assertEquals(connect.challenge?.step, "connect", JSON.stringify(connect));
    w.personAt(a.url);
    await w.personConnects(connect.challenge!.code!);
    w.advance(6_000);
    const done = await w.agent({ brokerUrl: b.url });
    assert(done.ok && done.messages! > 0, JSON.stringify(done));
    assertEquals(w.auth0.accounts().length, 1);
    for (const r of [a, b]) {
      assert(!r.log().includes("replica-redis-pass"), "the Redis password in the log");
      assert(/state in redis store redis:\/\/127\.0\.0\.1:\d+\/0/.test(r.log()), r.log());
    }
    // A created the login session and took the consent's confirm and redirect; B took the
    // sign-in, both callbacks (the consent's state was bound on A, taken on B) and the polls.
    assert(/POST \/v1\/sessions 201/.test(a.log()), a.log());
    assert(/GET \/v1\/oauth\/authorize\/… 302/.test(a.log()), a.log());
    assert(!/oauth\/callback/.test(a.log()), a.log());
    assert(/GET \/v1\/oauth\/callback 302[^]*GET \/v1\/oauth\/callback 302/.test(b.log()), b.log());
    assert(/GET \/v1\/sessions\/… 200/.test(b.log()), b.log());
  },
});
