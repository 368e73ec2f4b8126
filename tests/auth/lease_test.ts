import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { withLease } from "../../lib/auth/lease.ts";
import { McsError } from "../../lib/errors.ts";

Deno.test("holders run one at a time; a waiter sees what the first one stored", async () => {
  const cache = new MemoryCacheStore();
  const log: string[] = [];
  let created = 0;
  const once = (name: string) =>
    withLease(cache, "lease/x", async () => {
      log.push(`in ${name}`);
      const existing = await cache.get<number>("value/x");
      if (existing === undefined) {
        await new Promise((r) => setTimeout(r, 20));
        await cache.set("value/x", ++created);
      }
      log.push(`out ${name}`);
      return await cache.get<number>("value/x");
    }, { ttlMs: 5_000, pollMs: 5 });
  assertEquals(await Promise.all([once("a"), once("b"), once("c")]), [1, 1, 1]);
  assertEquals(created, 1);
  for (let i = 0; i < log.length; i += 2) {
    assertEquals(log[i].slice(3), log[i + 1].slice(4), `no overlap: ${log.join(", ")}`);
  }
  assertEquals(await cache.get("lease/x"), undefined, "released");
});

Deno.test("released when the holder throws", async () => {
  const cache = new MemoryCacheStore();
  await assertRejects(
    () => withLease(cache, "l", () => Promise.reject(new Error("boom")), { ttlMs: 1_000 }),
    Error,
    "boom",
  );
  assertEquals(await withLease(cache, "l", () => Promise.resolve(7), { ttlMs: 1_000 }), 7);
});

Deno.test("a lease past its time is taken over; a live one is waited for, bounded", async () => {
  const cache = new MemoryCacheStore();
  let t = 1_000_000;
  const clock = { now: () => t, sleep: (ms: number) => Promise.resolve(void (t += ms)) };
  await cache.set("l", { owner: "crashed", until: t - 1 });
  assertEquals(
    await withLease(cache, "l", () => Promise.resolve("mine"), { ttlMs: 100, ...clock }),
    "mine",
  );

  await cache.set("l", { owner: "slow", until: t + 60_000 });
  const err = await assertRejects(
    () =>
      withLease(cache, "l", () => Promise.resolve("never"), { ttlMs: 100, waitMs: 500, ...clock }),
    McsError,
  );
  assertEquals([err.code, err.retryable], ["auth_flow_busy", true]);
  assert(t < 1_000_000 + 60_000, "gave up at its own bound, not the other holder's");
  assertEquals(
    (await cache.get<{ owner: string }>("l"))?.owner,
    "slow",
    "not released by a waiter",
  );
});
