/**
 * The CacheStore contract, run against every implementation (memory, file, Redis) so they cannot
 * drift apart: round trips, copies, expiry, update semantics, keys/clear by prefix, namespacing
 * isolation. The Redis runs use a real `redis-server` (skipped without it, failing under CI).
 * @module
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../support/assert.ts";
import type { CacheStore } from "../../lib/cache/types.ts";
import { FileCacheStore } from "../../lib/cache/file_store.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { namespaced } from "../../lib/cache/namespace.ts";
import { McsError } from "../../lib/errors.ts";
import { RedisCacheStore } from "../../lib/cache/redis_store.ts";
import { connectRedis } from "../../lib/cache/redis_connection.ts";
import { parseStoreKeys, Sealer } from "../../lib/cache/seal.ts";
import { redisServer, startRedis } from "../support/redis.ts";
import { testRequiring } from "../support/requires.ts";
import { encodeBase64 } from "../../lib/encoding/base64.ts";

interface Fixture {
  store: CacheStore;
  clock: { now: number };
  warnings: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a store maker gets: the fixture's clock and its warnings list. */
interface StoreOptions {
  now: () => number;
  onWarning: (m: string) => void;
}

/** A fixture maker: `open` makes the store on a settable clock, warnings collected. */
function fixture(
  open: (o: StoreOptions) => Promise<{ store: CacheStore; close(): Promise<void> }>,
): () => Promise<Fixture> {
  return async () => {
    const clock = { now: 1_000_000 };
    const warnings: string[] = [];
    const { store, close } = await open({
      now: () => clock.now,
      onWarning: (m) => warnings.push(m),
    });
    return { store, clock, warnings, [Symbol.asyncDispose]: close };
  };
}

const makers: Record<string, () => Promise<Fixture>> = {
  memory: fixture(({ now }) =>
    Promise.resolve({ store: new MemoryCacheStore({ now }), close: async () => {} })
  ),
  file: fixture(async (o) => {
    const dir = await Deno.makeTempDir({ prefix: "mcs-cache-contract-" });
    return {
      store: new FileCacheStore(`${dir}/cache`, o),
      close: () => Deno.remove(dir, { recursive: true }),
    };
  }),
  redis: fixture(async (o) => {
    const server = await startRedis();
    const key = encodeBase64(crypto.getRandomValues(new Uint8Array(32)));
    const sealer = new Sealer(await parseStoreKeys(`k1:${key}`));
    const conn = connectRedis(server.url);
    return {
      store: new RedisCacheStore(conn, { sealer, prefix: "contract:", ...o }),
      close: async () => {
        await conn.close();
        await server[Symbol.asyncDispose]();
      },
    };
  }),
};

function contract(name: string, fn: (f: Fixture) => Promise<void>) {
  for (const [kind, make] of Object.entries(makers)) {
    const def = {
      name: `${kind}: ${name}`,
      fn: async () => {
        await using f = await make();
        await fn(f);
        assertEquals(f.warnings, [], "no warnings expected");
      },
    };
    if (kind === "redis") testRequiring(redisServer, def);
    else Deno.test(def);
  }
}

contract("absent keys read as undefined; delete of an absent key is fine", async ({ store }) => {
  assertEquals(await store.get("nope"), undefined);
  await store.delete("nope");
  assertEquals(await store.keys(), []);
});

contract("set/get round-trips JSON values and hands out copies", async ({ store }) => {
  const value = { token: "t", n: 1, list: [1, "two", null], nested: { ok: true } };
  await store.set("obj", value);
  value.n = 2;
  const got = await store.get<typeof value>("obj");
  assertEquals(got, { token: "t", n: 1, list: [1, "two", null], nested: { ok: true } });
  got!.n = 3;
  assertEquals((await store.get<typeof value>("obj"))!.n, 1);
  for (const v of ["s", 0, false, null, [], ""]) {
    await store.set("scalar", v);
    assertEquals(await store.get("scalar"), v);
  }
});

contract("set(undefined) deletes; non-JSON values and bad expiries are rejected", async (f) => {
  await f.store.set("k", 1);
  await f.store.set("k", undefined);
  assertEquals(await f.store.get("k"), undefined);
  const e1 = await assertRejects(() => f.store.set("k", () => 1), McsError);
  assertEquals(e1.code, "cache_value_not_json");
  const e2 = await assertRejects(() => f.store.set("k", 1, { expiresAt: NaN }), McsError);
  assertEquals(e2.code, "cache_invalid_expiry");
  assertEquals(await f.store.get("k"), undefined);
});

contract("entries expire at expiresAt (get, keys and update see them as absent)", async (f) => {
  const { store, clock } = f;
  await store.set("at", "token", { expiresAt: clock.now + 1_000 });
  await store.set("rt", "refresh");
  clock.now += 999;
  assertEquals(await store.get("at"), "token");
  assertEquals(await store.keys(), ["at", "rt"]);
  clock.now += 1;
  assertEquals(await store.get("at"), undefined);
  assertEquals(await store.keys(), ["rt"]);
  assertEquals(await store.get("rt"), "refresh");
  let seen: unknown = "not called";
  await store.update<string>("at", (cur) => {
    seen = cur;
    return { value: "new", expiresAt: clock.now + 10 };
  });
  assertEquals(seen, undefined);
  assertEquals(await store.get("at"), "new");
});

contract("update returns the new value, deletes on undefined, keeps state when fn throws", async (
  { store },
) => {
  assertEquals(await store.update<number>("n", (n) => ({ value: (n ?? 0) + 1 })), 1);
  assertEquals(await store.update<number>("n", (n) => Promise.resolve({ value: (n ?? 0) + 1 })), 2);
  await assertRejects(() => store.update("n", () => Promise.reject(new Error("boom"))), Error);
  assertEquals(await store.get("n"), 2);
  assertEquals(await store.update<number>("n", () => ({ value: undefined })), undefined);
  assertEquals(await store.get("n"), undefined);
});

contract("concurrent updates within one process lose nothing", async ({ store }) => {
  await Promise.all(
    Array.from({ length: 20 }, () => store.update<number>("n", (n) => ({ value: (n ?? 0) + 1 }))),
  );
  assertEquals(await store.get("n"), 20);
});

contract("keys(prefix) lists matching keys, sorted; clear(prefix) removes only those", async (
  { store },
) => {
  for (const k of ["b/2", "a/1", "b/1", "bb/1", "c"]) await store.set(k, k);
  assertEquals(await store.keys(), ["a/1", "b/1", "b/2", "bb/1", "c"]);
  assertEquals(await store.keys("b/"), ["b/1", "b/2"]);
  await store.clear("b/");
  assertEquals(await store.keys(), ["a/1", "bb/1", "c"]);
  assertEquals(await store.get("bb/1"), "bb/1");
  await store.clear();
  assertEquals(await store.keys(), []);
});

contract("unusual keys (unicode, case, separators, very long) stay distinct", async ({ store }) => {
  const keys = [
    "at:https://www.googleapis.com/auth/gmail.readonly",
    "A",
    "a",
    "%41",
    "é",
    "e\u0301",
    "x".repeat(1_000),
    "x".repeat(1_001),
    "..",
    ".lock",
  ];
  for (const [i, k] of keys.entries()) await store.set(k, i);
  for (const [i, k] of keys.entries()) assertEquals(await store.get(k), i, k);
  assertEquals(await store.keys(), [...keys].sort());
});

contract("namespaced views are isolated from each other and clear only themselves", async (
  { store },
) => {
  const t1 = namespaced(store, "work", "tenant1.auth0.com", "client");
  const t12 = namespaced(store, "work", "tenant12.auth0.com", "client");
  const other = namespaced(store, "home", "tenant1.auth0.com", "client");
  await t1.set("rt", "r1");
  await t12.set("rt", "r12");
  await other.set("rt", "r-home");
  assertEquals(await t1.get("rt"), "r1");
  assertEquals(await t12.get("rt"), "r12");
  assertEquals(await other.get("rt"), "r-home");
  assertEquals(await t1.keys(), ["rt"]);
  await t1.update<number>("n", (n) => ({ value: (n ?? 0) + 1 }));
  assertEquals(await t12.get("n"), undefined);
  assertEquals(await t1.keys(), ["n", "rt"]);

  // Escaping: a "/" inside a part cannot impersonate two parts.
  await namespaced(store, "a/b").set("k", "slash");
  assertEquals(await namespaced(store, "a", "b").get("k"), undefined);

  // Logout of profile "work" removes both work tenants and nothing of "home".
  await namespaced(store, "work").clear();
  assertEquals(await t1.keys(), []);
  assertEquals(await t12.get("rt"), undefined);
  assertEquals(await other.get("rt"), "r-home");
  assert((await store.keys()).every((k) => !k.startsWith("work/")));
});

Deno.test("namespaced rejects empty parts", () => {
  const e = assertThrows(() => namespaced(new MemoryCacheStore(), "work", ""), McsError);
  assertEquals(e.code, "cache_namespace_invalid");
});
