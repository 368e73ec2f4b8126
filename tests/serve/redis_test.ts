/**
 * Two `mcs serve` replicas in team mode on one real Redis (`MCS_STORE`): a user's sign-in started
 * on one replica continues and finishes on the other, a second user's flow stays their own on
 * both, and `/readyz` answers 503 while Redis is down and 200 once it is back. Redis hung or
 * restarted mid-run: a call that needs the store is a quick 503 `store_unavailable` (retryable,
 * `Retry-After`) while warm calls go on, and calls work again afterwards (a restarted, empty
 * Redis means signing in again) without restarting `mcs serve`. A replica (`mcs serve`, `mcs mcp`,
 * `mcs broker serve`) given other bytes under the same store key id refuses to start.
 *
 * Skipped without `redis-server` (see `tests/support/redis.ts`).
 * @module
 */
import { encodeBase64 } from "../../lib/encoding/base64.ts";
import { assert, assertEquals, assertNotEquals } from "../support/assert.ts";
import { redisServer, startRedis } from "../support/redis.ts";
import { testRequiring } from "../support/requires.ts";
import { testStack } from "../support/stack.ts";
import { startServe, userJwt } from "./_serve.ts";
import { spawnMcs } from "../cli/_mcs.ts";

const SECRET = "openwebui-jwt-secret-redis-0123456789";

/** Team mode (signed user header) on the shared Redis store, with a fresh store key. */
function teamOnRedis(stack: { env: Record<string, string> }, redis: { url: string }) {
  return {
    ...stack.env,
    MCS_STORE: redis.url,
    MCS_STORE_KEY: `k1:${encodeBase64(crypto.getRandomValues(new Uint8Array(32)))}`,
    MCS_SERVE_USER_JWT_SECRET: SECRET,
  };
}

testRequiring(redisServer, {
  name: "mcs serve team mode on Redis: a flow crosses replicas, users stay apart, /readyz",
  async fn() {
    await using redis = await startRedis();
    await using stack = await testStack();
    const env = teamOnRedis(stack, redis);
    await using one = await startServe(env);
    await using two = await startServe(env);
    const as = async (user: string) => ({ "x-openwebui-user-jwt": await userJwt(SECRET, user) });
    const call = async (srv: typeof one, user: string) =>
      await (await srv.post("/tools/list_labels", {}, await as(user))).json();

    const a1 = await call(one, "user-a");
    assertEquals([a1.auth_required, a1.step], [true, "login"], JSON.stringify(a1));
    assertEquals((await call(two, "user-a")).code, a1.code, "replica two continues A's flow");
    const b1 = await call(two, "user-b");
    assertNotEquals(b1.code, a1.code, "B has their own flow");
    await stack.userCompletes(a1.url, a1.code);
    await new Promise((r) => setTimeout(r, 1_100)); // the broker's poll interval
    const a2 = await call(two, "user-a");
    assertEquals([a2.auth_required, a2.step], [true, "connect"], JSON.stringify(a2));
    await stack.userCompletes(a2.url, a2.code);
    await new Promise((r) => setTimeout(r, 1_100));
    const labels = await call(one, "user-a");
    assert(Array.isArray(labels.labels), JSON.stringify(labels));
    const b2 = await call(one, "user-b");
    assertEquals([b2.step, b2.code], ["login", b1.code], "A's sign-in is not B's");

    const ready = await one.request("/readyz");
    assertEquals(ready.status, 200);
    await ready.body?.cancel();
    await redis.stop();
    const down = await one.request("/readyz");
    assertEquals(down.status, 503);
    await down.body?.cancel();
    await redis.start();
    let back = 0;
    for (let i = 0; i < 50 && back !== 200; i++) {
      const r = await one.request("/readyz");
      back = r.status;
      await r.body?.cancel();
      if (back !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    assertEquals(back, 200, "ready again once Redis is back");
  },
});

testRequiring(redisServer, {
  name: "mcs serve on Redis: hung or down, a call that needs the store is a quick 503 " +
    "store_unavailable while warm ones go on; back after resume or restart without restarting",
  async fn() {
    await using redis = await startRedis();
    await using stack = await testStack();
    const env = teamOnRedis(stack, redis);
    await using one = await startServe(env);
    await using two = await startServe(env);
    const call = async (srv: typeof one, user: string) => {
      // Bounded: a call that hangs fails the test (after 30 s) instead of blocking it.
      const r = await srv.request("/tools/search_emails", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-openwebui-user-jwt": await userJwt(SECRET, user),
        },
        body: JSON.stringify({ query: "in:inbox", limit: 2 }),
        signal: AbortSignal.timeout(30_000),
      });
      return { status: r.status, retryAfter: r.headers.get("retry-after"), body: await r.json() };
    };
    const found = (r: Awaited<ReturnType<typeof call>>, what: string) => {
      assertEquals(r.status, 200, `${what}: ${JSON.stringify(r.body)}`);
      assert(Array.isArray(r.body.messages), `${what}: ${JSON.stringify(r.body)}`);
    };
    const unavailable = (r: Awaited<ReturnType<typeof call>>, what: string) => {
      assertEquals(r.status, 503, `${what}: ${JSON.stringify(r.body)}`);
      assertEquals(
        [r.body.error.code, r.body.error.retryable],
        ["store_unavailable", true],
        JSON.stringify(r.body),
      );
      assert(Number(r.retryAfter) >= 1, `${what}: Retry-After ${r.retryAfter}`);
    };
    // A signs in (both steps) on replica one.
    const login = (await call(one, "user-a")).body;
    assertEquals(login.step, "login", JSON.stringify(login));
    await stack.userCompletes(login.url, login.code);
    await new Promise((r) => setTimeout(r, 1_100)); // the broker's poll interval
    const connect = (await call(one, "user-a")).body;
    assertEquals(connect.step, "connect", JSON.stringify(connect));
    await stack.userCompletes(connect.url, connect.code);
    await new Promise((r) => setTimeout(r, 1_100));
    found(await call(one, "user-a"), "signed in");

    // Hung (SIGSTOP): replica two has never served A, so A's call there reads the store and
    // fails within the store's timeouts instead of hanging; A's warm scope on one goes on.
    redis.pause();
    try {
      unavailable(await call(two, "user-a"), "A on two while Redis is hung");
      found(await call(one, "user-a"), "A's warm scope on one while Redis is hung");
    } finally {
      redis.resume();
    }
    // Answering again with its data intact: A's state is read on two, no restart.
    found(await call(two, "user-a"), "A on two after resume");

    // Down (stopped): B's first call needs the store: the same quick 503.
    await redis.stop();
    unavailable(await call(one, "user-b"), "B while Redis is down");
    // Restarted empty on the same port: B gets a sign-in challenge (200, auth_required), not a
    // crash, from the same mcs serve (the store reconnects by itself).
    await redis.start();
    let b = await call(one, "user-b");
    for (let i = 0; i < 20 && b.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 200));
      b = await call(one, "user-b");
    }
    assertEquals(b.status, 200, JSON.stringify(b.body));
    assertEquals([b.body.auth_required, b.body.step], [true, "login"], JSON.stringify(b.body));
  },
});

testRequiring(redisServer, {
  name: "a replica with other bytes under the same MCS_STORE_KEY id refuses to start: " +
    "the message on stderr (store_key_mismatch), exit 3, no key bytes",
  async fn() {
    await using redis = await startRedis();
    const newKey = () => encodeBase64(crypto.getRandomValues(new Uint8Array(32)));
    const [good, other] = [newKey(), newKey()];
    const env = (key: string) => ({
      MCS_AUTH: "static",
      MCS_STORE: redis.url,
      MCS_STORE_KEY: `k1:${key}`,
      LINKAUTH_API_KEYS: "broker-api-key",
    });
    await using first = await startServe(env(good));
    const ready = await first.request("/readyz");
    assertEquals(ready.status, 200);
    await ready.body?.cancel();
    const runs = [
      ["serve", "--port", "0"],
      ["serve", "--port", "0", "--json"],
      ["mcp"],
      ["broker", "serve", "--port", "0"],
    ];
    for (const args of runs) {
      const live = spawnMcs(args, { env: env(other) });
      const started = await live.waitFor(/MCP on|MCP server on stdio|listening on/);
      if (started) live.kill();
      const ran = await live.finish();
      const what = `mcs ${args.join(" ")}: ${ran.stderr}`;
      assertEquals(started, null, `started anyway: ${what}`);
      assertEquals(ran.code, 3, what);
      if (args.includes("--json")) {
        assertEquals(JSON.parse(ran.stdout).error.code, "store_key_mismatch", what);
      } else {
        assert(ran.stderr.includes('different key bytes under key id "k1"'), what);
        assert(ran.stderr.includes("same bytes under one key id"), what);
      }
      for (const key of [good, other]) {
        assert(!(ran.stdout + ran.stderr).includes(key.slice(0, 16)), `key bytes shown: ${what}`);
      }
    }
    // The first replica lost nothing and is still ready.
    const still = await first.request("/readyz");
    assertEquals(still.status, 200);
    await still.body?.cancel();
  },
});
