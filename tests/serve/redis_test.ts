/**
 * Two `mcs serve` replicas in team mode on one real Redis (`MCS_STORE`): a user's sign-in started
 * on one replica continues and finishes on the other, a second user's flow stays their own on
 * both, and `/readyz` answers 503 while Redis is down and 200 once it is back.
 *
 * Skipped without `redis-server` (see `tests/support/redis.ts`).
 * @module
 */
import { startStack } from "../../lib/emulators/stack.ts";
import { encodeBase64 } from "../../lib/encoding/base64.ts";
import { assert, assertEquals, assertNotEquals } from "../support/assert.ts";
import { redisServer, startRedis } from "../support/redis.ts";
import { testRequiring } from "../support/requires.ts";
import { startServe, userJwt } from "./_serve.ts";

const SECRET = "openwebui-jwt-secret-redis-0123456789";

testRequiring(redisServer, {
  name: "mcs serve team mode on Redis: a flow crosses replicas, users stay apart, /readyz",
  async fn() {
    await using redis = await startRedis();
    const stack = await startStack({ pollInterval: 1 });
    try {
      const env: Record<string, string> = {
        ...stack.env,
        MCS_STORE: redis.url,
        MCS_STORE_KEY: `k1:${encodeBase64(crypto.getRandomValues(new Uint8Array(32)))}`,
        MCS_SERVE_USER_JWT_SECRET: SECRET,
      };
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
    } finally {
      await stack.close();
    }
  },
});
