/**
 * The key canary (lib/cache/key_canary.ts) through `openStore`, on a real `redis-server`: a
 * replica with other bytes under the same key id refuses to open (`store_key_mismatch`, the kid
 * named, no key bytes) and quarantines nothing; the same bytes open; rotation (a new kid first,
 * the old one kept, later dropped) keeps working; replicas starting at once agree on one canary
 * (and one that lost the race to create it checks the winner's);
 * a replica that started while Redis hung refuses its first operation and `check()`; a canary
 * Redis lost is re-created by `check()`.
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { dumpStrings, redisServer, startRedis, type TestRedis } from "../support/redis.ts";
import { testRequiring } from "../support/requires.ts";
import { type OpenedStore, openStore, type OpenStoreOptions } from "../../lib/cache/open.ts";
import { encodeBase64 } from "../../lib/encoding/base64.ts";
import { ConfigError } from "../../lib/errors.ts";
import { KeyCanary } from "../../lib/cache/key_canary.ts";
import { connectRedis } from "../../lib/cache/redis_connection.ts";
import type { RedisCommands } from "../../lib/cache/redis_store.ts";
import { parseStoreKeys, Sealer } from "../../lib/cache/seal.ts";

const newKey = () => encodeBase64(crypto.getRandomValues(new Uint8Array(32)));

function redisTest(name: string, fn: () => Promise<void>) {
  testRequiring(redisServer, { name, fn });
}

/** `openStore` on `redis` with `MCS_STORE_KEY=keys` (and a prefix), as a server replica does. */
function open(
  redis: TestRedis,
  keys: string,
  o: Partial<OpenStoreOptions> & { prefix?: string; warnings?: string[] } = {},
): Promise<OpenedStore> {
  const vars: Record<string, string> = { MCS_STORE: redis.url, MCS_STORE_KEY: keys };
  if (o.prefix) vars.MCS_STORE_PREFIX = o.prefix;
  return openStore({
    env: { get: (n) => vars[n] },
    onWarning: (m) => o.warnings?.push(m),
    connectTimeoutMs: o.connectTimeoutMs,
    commandTimeoutMs: o.commandTimeoutMs,
  });
}

/** The Redis keys that start with `start`. */
async function keysOf(redis: TestRedis, start: string): Promise<string[]> {
  return [...(await dumpStrings(redis)).keys()].filter((k) => k.startsWith(start)).sort();
}

/** A refusal names the kid and says what to do, without any key's bytes. */
function assertMismatch(e: ConfigError, kid: string, ...keys: string[]) {
  assertEquals([e.code, e.category, e.retryable], ["store_key_mismatch", "config", false]);
  assert(e.message.includes(`key id "${kid}"`), e.message);
  assert(e.message.includes("same bytes under one key id"), e.message);
  assert(e.message.includes("new key id"), e.message);
  assertEquals(e.details?.kid, kid);
  const text = e.message + JSON.stringify(e.details);
  for (const key of keys) {
    for (
      const form of [key, key.replace(/=+$/, ""), key.replaceAll("+", "-").replaceAll("/", "_")]
    ) {
      assert(!text.includes(form), "key bytes in the error");
    }
  }
}

redisTest(
  "same kid, other bytes: the second replica refuses (store_key_mismatch) and quarantines nothing",
  async () => {
    await using redis = await startRedis();
    const [k1, other] = [newKey(), newKey()];
    const first = await open(redis, `k1:${k1}`);
    try {
      await first.store.set("users/a/rt", "refresh-a");
      await first.store.set("users/b/rt", "refresh-b");
      const warnings: string[] = [];
      const e = await assertRejects(() => open(redis, `k1:${other}`, { warnings }), ConfigError);
      assertMismatch(e, "k1", k1, other);
      assert(e.message.includes(redis.url.replace("redis://", "")), e.message);
      assertEquals(warnings, []);
      assertEquals(await keysOf(redis, "mcs:q:"), [], "nothing moved aside");
      assertEquals(await first.store.get("users/a/rt"), "refresh-a");
      assertEquals(await first.store.get("users/b/rt"), "refresh-b");
      await first.check(); // the first replica stays ready
    } finally {
      await first.close();
    }
  },
);

redisTest("same kid, same bytes: every replica opens and reads the others' values", async () => {
  await using redis = await startRedis();
  const keys = `k1:${newKey()}`;
  const a = await open(redis, keys);
  const b = await open(redis, keys);
  try {
    await a.store.set("x", "from a");
    assertEquals(await b.store.get("x"), "from a");
    await a.check();
    await b.check();
    assertEquals(await keysOf(redis, "mcs:canary:"), ["mcs:canary:k1"]);
    assertEquals(await keysOf(redis, "mcs:q:"), []);
  } finally {
    await a.close();
    await b.close();
  }
});

redisTest(
  "rotation: new kid first with the old kept opens on the old canary; dropping the old works; " +
    "the dropped kid with new bytes is refused",
  async () => {
    await using redis = await startRedis();
    const [k1, k2] = [newKey(), newKey()];
    const old = await open(redis, `k1:${k1}`);
    await old.store.set("rt", "sealed under k1");
    assertEquals(await keysOf(redis, "mcs:canary:"), ["mcs:canary:k1"]);
    const rotated = await open(redis, `k2:${k2},k1:${k1}`);
    assertEquals(await rotated.store.get("rt"), "sealed under k1");
    await rotated.store.set("rt2", "sealed under k2");
    assertEquals(await keysOf(redis, "mcs:canary:"), ["mcs:canary:k1", "mcs:canary:k2"]);
    const dropped = await open(redis, `k2:${k2}`);
    assertEquals(await dropped.store.get("rt2"), "sealed under k2");
    await dropped.check();
    const reused = await assertRejects(() => open(redis, `k1:${newKey()}`), ConfigError);
    assertMismatch(reused, "k1", k1);
    const k2Wrong = await assertRejects(() => open(redis, `k2:${newKey()},k1:${k1}`), ConfigError);
    assertMismatch(k2Wrong, "k2", k1, k2);
    assertEquals(await keysOf(redis, "mcs:q:"), []);
    for (const s of [old, rotated, dropped]) await s.close();
  },
);

redisTest(
  "replicas starting at once agree on one canary: same bytes all open, other bytes: all but one refuse",
  async () => {
    await using redis = await startRedis();
    for (let round = 0; round < 8; round++) {
      const same = `k1:${newKey()}`;
      const opened = await Promise.all(
        Array.from({ length: 4 }, () => open(redis, same, { prefix: `same${round}:` })),
      );
      assertEquals(await keysOf(redis, `same${round}:canary:`), [`same${round}:canary:k1`]);
      for (const s of opened) {
        await s.check();
        await s.close();
      }
      const results = await Promise.allSettled(
        [newKey(), newKey(), newKey()].map((k) =>
          open(redis, `k1:${k}`, { prefix: `diff${round}:` })
        ),
      );
      const refused = results.filter((r) => r.status === "rejected");
      assertEquals(refused.length, 2, `round ${round}: all but one of three refuse`);
      for (const r of refused) {
        assertEquals(
          ((r as PromiseRejectedResult).reason as ConfigError).code,
          "store_key_mismatch",
        );
      }
      for (const r of results) if (r.status === "fulfilled") await r.value.close();
    }
  },
);

redisTest(
  "started while Redis hung: the replica with other bytes refuses its first operation and " +
    "check(), and moves nothing aside",
  async () => {
    await using redis = await startRedis();
    const k1 = newKey();
    const first = await open(redis, `k1:${k1}`);
    await first.store.set("users/a/rt", "refresh-a");
    redis.pause();
    let late: OpenedStore;
    try {
      late = await open(redis, `k1:${newKey()}`, { connectTimeoutMs: 300, commandTimeoutMs: 300 });
    } finally {
      redis.resume();
    }
    try {
      for (const op of [() => late.store.get("users/a/rt"), () => late.store.keys(), late.check]) {
        const e = await assertRejects(op, ConfigError);
        assertMismatch(e, "k1", k1);
      }
      assertEquals(await keysOf(redis, "mcs:q:"), []);
      assertEquals(await first.store.get("users/a/rt"), "refresh-a");
    } finally {
      await late.close();
      await first.close();
    }
  },
);

redisTest("check() re-creates a canary Redis lost (restarted without persistence)", async () => {
  await using redis = await startRedis();
  const a = await open(redis, `k1:${newKey()}`);
  try {
    await redis.stop();
    await redis.start();
    assertEquals(await keysOf(redis, "mcs:canary:"), []);
    let ready = false;
    for (let i = 0; i < 20 && !ready; i++) {
      ready = await a.check().then(() => true, () => false);
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    assert(ready, "ready again");
    assertEquals(await keysOf(redis, "mcs:canary:"), ["mcs:canary:k1"]);
    const wrong = await assertRejects(() => open(redis, `k1:${newKey()}`), ConfigError);
    assertEquals(wrong.code, "store_key_mismatch");
  } finally {
    await a.close();
  }
});

redisTest(
  "a replica that saw no canary but lost the race to create it checks the one that won",
  async () => {
    await using redis = await startRedis();
    const [a, b] = [connectRedis(redis.url), connectRedis(redis.url)];
    try {
      const sealer = async () => new Sealer(await parseStoreKeys(`k1:${newKey()}`));
      // B reads (no canary yet), then its SET waits until A has created and checked its own.
      const bRead = Promise.withResolvers<void>();
      const aDone = Promise.withResolvers<void>();
      const slowB: RedisCommands = {
        where: b.where,
        async send(args) {
          if (args[0] === "SET") await aDone.promise;
          const reply = await b.send(args);
          if (args[0] === "GET") bRead.resolve();
          return reply;
        },
      };
      const late = new KeyCanary(slowB, await sealer(), "race:").check();
      late.catch(() => {});
      await bRead.promise;
      await new KeyCanary(a, await sealer(), "race:").check();
      aDone.resolve();
      const e = await assertRejects(() => late, ConfigError);
      assertEquals(e.code, "store_key_mismatch");
    } finally {
      await a.close();
      await b.close();
    }
  },
);
