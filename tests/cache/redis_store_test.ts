/**
 * The Redis store beyond the shared contract (tests/cache/contract_test.ts), on a real
 * `redis-server`: two store instances (two connections, as two replicas) lose no update and share
 * one lease holder; a lock outlived by its holder writes nothing; a `set` waits for an update in
 * progress; prefixes separate deployments; SCAN treats glob characters literally; unreadable
 * values are quarantined; key rotation; values bound to their key; no cleartext in Redis; an
 * outage is a clear retryable error and heals by itself.
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { dumpStrings, redisServer, startRedis, type TestRedis } from "../support/redis.ts";
import { testRequiring } from "../support/requires.ts";
import {
  RedisCacheStore,
  type RedisCacheStoreOptions,
  REPORTED_KEYS_KEPT,
} from "../../lib/cache/redis_store.ts";
import { connectRedis, type RedisConnection } from "../../lib/cache/redis_connection.ts";
import { parseStoreKeys, Sealer } from "../../lib/cache/seal.ts";
import { withLease } from "../../lib/auth/lease.ts";
import { namespaced } from "../../lib/cache/namespace.ts";
import { encodeBase64, encodeBase64Url } from "../../lib/encoding/base64.ts";
import { McsError } from "../../lib/errors.ts";

const newKey = () => encodeBase64(crypto.getRandomValues(new Uint8Array(32)));
const K1 = newKey();
const K2 = newKey();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Replica extends AsyncDisposable {
  store: RedisCacheStore;
  conn: RedisConnection;
  warnings: string[];
}

async function replica(
  redis: TestRedis,
  keys = `k1:${K1}`,
  o: Partial<RedisCacheStoreOptions> = {},
): Promise<Replica> {
  const warnings: string[] = [];
  const conn = connectRedis(redis.url); // default timeouts: a loaded CI machine is slow
  const store = new RedisCacheStore(conn, {
    sealer: new Sealer(await parseStoreKeys(keys)),
    onWarning: (m) => warnings.push(m),
    ...o,
  });
  return { store, conn, warnings, [Symbol.asyncDispose]: () => conn.close() };
}

function redisTest(name: string, fn: () => Promise<void>) {
  testRequiring(redisServer, { name, fn });
}

redisTest("two replicas x 8 parallel async updates of one key lose nothing", async () => {
  await using redis = await startRedis();
  await using a = await replica(redis);
  await using b = await replica(redis);
  const bump = (r: Replica) =>
    r.store.update<number>("n", async (n) => {
      await sleep(1); // widen the read-modify-write window
      return { value: (n ?? 0) + 1 };
    });
  const rounds = 5;
  await Promise.all(
    [a, b].flatMap((r) =>
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < rounds; i++) await bump(r);
      })
    ),
  );
  assertEquals(await a.store.get("n"), 2 * 8 * rounds);
  assertEquals(await b.store.get("n"), 2 * 8 * rounds);
});

redisTest("withLease across two replicas: one holder at a time, both run", async () => {
  await using redis = await startRedis();
  await using a = await replica(redis);
  await using b = await replica(redis);
  let holders = 0;
  let most = 0;
  const ran: string[] = [];
  const work = (who: string, r: Replica) =>
    withLease(r.store, "lease/login", async () => {
      holders++;
      most = Math.max(most, holders);
      await sleep(30);
      ran.push(who);
      holders--;
    }, { ttlMs: 5_000, pollMs: 10 });
  await Promise.all([work("a1", a), work("b1", b), work("a2", a), work("b2", b)]);
  assertEquals(most, 1);
  assertEquals(ran.sort(), ["a1", "a2", "b1", "b2"]);
  assertEquals(await a.store.get("lease/login"), undefined, "released");
});

redisTest(
  "an update that outlives its lock writes nothing (fencing); the newer value stays",
  async () => {
    await using redis = await startRedis();
    await using slow = await replica(redis, undefined, { lockTtlMs: 100 });
    await using fast = await replica(redis);
    await slow.store.set("rt", "v1");
    const late = slow.store.update<string>("rt", async () => {
      await sleep(300); // the lock (100 ms) runs out meanwhile
      return { value: "stale" };
    });
    await sleep(150);
    await fast.store.update<string>("rt", (cur) => ({ value: `${cur}->v2` }));
    const e = await assertRejects(() => late, McsError);
    assertEquals(e.code, "store_lock_expired");
    assert(e.retryable);
    assertEquals(await fast.store.get("rt"), "v1->v2");
  },
);

redisTest("a set issued during another replica's update waits for it (never lost)", async () => {
  await using redis = await startRedis();
  await using a = await replica(redis);
  await using b = await replica(redis);
  await a.store.set("k", "old");
  let entered!: () => void;
  const inside = new Promise<void>((r) => entered = r);
  const upd = a.store.update<string>("k", async (cur) => {
    entered();
    await sleep(100);
    return { value: `${cur}+updated` };
  });
  await inside;
  await b.store.set("k", "set-after");
  await upd;
  assertEquals(await a.store.get("k"), "set-after");
});

redisTest(
  "a write inside an update of the same key fails after the wait (not a hang)",
  async () => {
    await using redis = await startRedis();
    await using a = await replica(redis, undefined, { lockWaitMs: 200 });
    const e = await assertRejects(
      () => a.store.update("k", async () => ({ value: await a.store.set("k", 1).then(() => 2) })),
      McsError,
    );
    assertEquals(e.code, "cache_busy");
    assert(e.retryable);
    assertEquals(await a.store.get("k"), undefined);
  },
);

redisTest(
  "expiry: Redis drops the entry itself (PX), an already expired write is a delete",
  async () => {
    await using redis = await startRedis();
    await using a = await replica(redis);
    await a.store.set("at", "tok", { expiresAt: Date.now() + 60_000 });
    const ttl = await redis.command("PTTL", "mcs:d:at") as number;
    assert(ttl > 60_000 - 5_000 && ttl <= 65_000, `PTTL ${ttl}`);
    await a.store.set("rt", "keep");
    assertEquals(await redis.command("PTTL", "mcs:d:rt"), -1, "no expiry: persistent");
    await a.store.set("at", "old", { expiresAt: Date.now() - 1 });
    assertEquals(await redis.command("EXISTS", "mcs:d:at"), 0);
  },
);

redisTest(
  "prefixes separate deployments; keys/clear use SCAN and treat glob characters literally",
  async () => {
    await using redis = await startRedis();
    await using teamA = await replica(redis, undefined, { prefix: "team-a:" });
    await using teamB = await replica(redis, undefined, { prefix: "team-b:" });
    for (const k of ["u*/1", "u*/2", "u1/1", "u[1]/x", "u?/y"]) await teamA.store.set(k, k);
    await teamB.store.set("u*/1", "b");
    assertEquals(await teamA.store.keys("u*/"), ["u*/1", "u*/2"]);
    assertEquals(await teamA.store.keys("u[1]"), ["u[1]/x"]);
    assertEquals(await teamB.store.keys(), ["u*/1"]);
    await teamA.store.clear("u*/");
    assertEquals(await teamA.store.keys(), ["u1/1", "u?/y", "u[1]/x"]);
    assertEquals(await teamB.store.get("u*/1"), "b");
    await teamA.store.clear();
    assertEquals(await teamA.store.keys(), []);
    assertEquals(await teamB.store.keys(), ["u*/1"]);
    // Many keys: SCAN pages through all of them.
    await Promise.all(Array.from({ length: 1_200 }, (_, i) => teamB.store.set(`many/${i}`, i)));
    assertEquals((await teamB.store.keys("many/")).length, 1_200);
    await teamB.store.clear("many/");
    assertEquals(await teamB.store.keys(), ["u*/1"]);
  },
);

redisTest(
  "an unreadable value is moved aside, read as absent, reported without its content",
  async () => {
    await using redis = await startRedis();
    await using a = await replica(redis);
    await a.store.set("ok", "fine");
    await redis.command("SET", "mcs:d:work/rt", "garbage-SECRET-123");
    assertEquals(await a.store.get("work/rt"), undefined);
    assertEquals(await redis.command("EXISTS", "mcs:d:work/rt"), 0);
    const moved = [...(await dumpStrings(redis)).entries()].filter(([k]) =>
      k.startsWith("mcs:q:work/rt#")
    );
    assertEquals(moved.length, 1);
    assertEquals(moved[0][1], "garbage-SECRET-123");
    const ttl = await redis.command("PTTL", moved[0][0]) as number;
    assert(ttl > 6 * 24 * 3600 * 1000, `quarantine kept about 7 days: ${ttl}`);
    assertEquals(a.warnings.length, 1);
    assert(a.warnings[0].includes('"work/rt"') && a.warnings[0].includes(moved[0][0]));
    assert(!a.warnings[0].includes("SECRET"), a.warnings[0]);
    assertEquals(await a.store.get("ok"), "fine", "other entries unaffected");
    assertEquals(await a.store.keys(), ["ok"]);
    // The key is usable again, and clear(prefix) also drops its quarantined values.
    await a.store.update<number>("work/rt", (n) => ({ value: (n ?? 0) + 1 }));
    assertEquals(await a.store.get("work/rt"), 1);
    await a.store.clear("work/");
    assertEquals([...(await dumpStrings(redis)).keys()].sort(), ["mcs:d:ok"]);
  },
);

redisTest(
  "unreadable keys are reported once while recent; the memory of reported keys is bounded",
  async () => {
    await using redis = await startRedis();
    await using a = await replica(redis);
    // Values under a key id this replica does not hold: read as absent, left in place, reported.
    const n = REPORTED_KEYS_KEPT + 1;
    const foreign = JSON.stringify({ v: 1, kid: "k9", iv: "AAAAAAAAAAAAAAAA", ct: "AAAA" });
    const names = Array.from({ length: n }, (_, i) => `bad/${String(i).padStart(5, "0")}`);
    for (let i = 0; i < n; i += 2000) {
      await redis.command(
        "MSET",
        ...names.slice(i, i + 2000).flatMap((k) => [`mcs:d:${k}`, foreign]),
      );
    }
    assertEquals(await a.store.get("bad/00000"), undefined);
    assertEquals(await a.store.get("bad/00000"), undefined);
    assertEquals(a.warnings.length, 1, "reported once");
    assertEquals(await a.store.keys("bad/"), []);
    assertEquals(a.warnings.length, n, "every other key reported once");
    // The first key reported is the oldest of more than the store remembers: forgotten, so
    // reported again (an unbounded memory would stay silent); then it is recent again.
    assertEquals(await a.store.get("bad/00000"), undefined);
    assertEquals(a.warnings.length, n + 1, "the oldest was forgotten");
    assertEquals(await a.store.get("bad/00000"), undefined);
    assertEquals(a.warnings.length, n + 1, "a recent key is reported once");
    assertEquals(await redis.command("EXISTS", "mcs:d:bad/00000"), 1, "left in place");
  },
);

redisTest(
  "key rotation: the first key seals, every listed key opens; a wrong key quarantines",
  async () => {
    await using redis = await startRedis();
    await using old = await replica(redis, `k1:${K1}`);
    await old.store.set("rt", "refresh-1");
    await using rotated = await replica(redis, `k2:${K2},k1:${K1}`);
    assertEquals(await rotated.store.get("rt"), "refresh-1", "old kid opens");
    await rotated.store.set("rt", "refresh-2");
    const raw = JSON.parse(await redis.command("GET", "mcs:d:rt") as string);
    assertEquals(raw.kid, "k2", "new writes use the new kid");
    // A replica not yet given k2 reads it as absent and leaves it alone (rolling rotation).
    assertEquals(await old.store.get("rt"), undefined);
    assertEquals(await redis.command("EXISTS", "mcs:d:rt"), 1);
    assert(old.warnings.some((w) => w.includes('"k2"')), old.warnings.join("\n"));
    // A different key under the same kid: does not open, quarantined, no crash.
    await using wrong = await replica(redis, `k2:${newKey()}`);
    assertEquals(await wrong.store.get("rt"), undefined);
    assertEquals(await redis.command("EXISTS", "mcs:d:rt"), 0);
    assertEquals(wrong.warnings.length, 1);
    // Bare keys get a fingerprint kid.
    await using bare = await replica(redis, K1);
    await bare.store.set("x", 1);
    const kid = JSON.parse(await redis.command("GET", "mcs:d:x") as string).kid as string;
    assert(/^fp-[0-9a-f]{8}$/.test(kid), kid);
  },
);

redisTest("a value copied to another user's key does not open there", async () => {
  await using redis = await startRedis();
  await using a = await replica(redis);
  const alice = namespaced(a.store, "user", "alice");
  const bob = namespaced(a.store, "user", "bob");
  await alice.set("rt", "alice-refresh-token");
  await bob.set("rt", "bob-refresh-token");
  const aliceRaw = await redis.command("GET", "mcs:d:user/alice/rt") as string;
  await redis.command("SET", "mcs:d:user/bob/rt", aliceRaw);
  assertEquals(await bob.get("rt"), undefined);
  assertEquals(await alice.get("rt"), "alice-refresh-token");
  // Pushing the expiry of a sealed value back is detected too.
  await alice.set("at", "tok", { expiresAt: Date.now() + 1_000 });
  const env = JSON.parse(await redis.command("GET", "mcs:d:user/alice/at") as string);
  env.exp += 3_600_000;
  await redis.command("SET", "mcs:d:user/alice/at", JSON.stringify(env));
  assertEquals(await alice.get("at"), undefined);
});

redisTest("no stored value is readable in Redis: tokens never appear in the clear", async () => {
  await using redis = await startRedis();
  await using a = await replica(redis);
  const secrets = {
    rt: `v1.${encodeBase64Url(crypto.getRandomValues(new Uint8Array(24)))}`,
    at: `ya29.${encodeBase64Url(crypto.getRandomValues(new Uint8Array(24)))}`,
  };
  await a.store.set("p/t/c/rt", secrets.rt);
  await a.store.set("p/t/c/at:gmail", { token: secrets.at, exp: 1 }, {
    expiresAt: Date.now() + 60_000,
  });
  await a.store.update("p/t/c/dead", () => ({ value: [secrets.rt] }));
  const dump = await dumpStrings(redis);
  assertEquals(dump.size, 3);
  for (const [k, v] of dump) {
    for (const s of Object.values(secrets)) assert(!v.includes(s), `cleartext token in ${k}`);
    assert(!v.includes("ya29") && !v.includes("token"), `readable content in ${k}: ${v}`);
  }
});

redisTest(
  "Redis down: store_unavailable within the timeouts (no password); back: works again",
  async () => {
    await using redis = await startRedis({ password: "pw-S3CRET" });
    await using a = await replica(redis);
    await a.store.set("k", "v1");
    await redis.stop();
    for (const op of [() => a.store.get("k"), () => a.store.set("k", "x"), () => a.store.keys()]) {
      const e = await assertRejects(op, McsError);
      assertEquals(e.code, "store_unavailable");
      assert(e.retryable);
      assert(e.message.includes(`127.0.0.1:${redis.port}`), e.message);
      assert(!e.message.includes("pw-S3CRET"), e.message);
    }
    await redis.start(); // same port, empty (no persistence)
    await a.store.set("k", "v2");
    assertEquals(await a.store.get("k"), "v2");
  },
);

redisTest(
  "a wrong password is store_unavailable naming the store, never the password",
  async () => {
    await using redis = await startRedis({ password: "right-pw" });
    const url = redis.url.replace("right-pw", "wrong-pw-XYZ");
    const conn = connectRedis(url, { connectTimeoutMs: 500, commandTimeoutMs: 500 });
    try {
      const e = await assertRejects(() => conn.send(["PING"]), McsError);
      assertEquals(e.code, "store_unavailable");
      assert(!e.message.includes("wrong-pw-XYZ"), e.message);
      assert(e.message.includes(`127.0.0.1:${redis.port}`), e.message);
    } finally {
      await conn.close();
    }
  },
);
