/**
 * The refresh-token lookup a cached-token command makes is done once: the label cache's
 * `identity()` and `getToken()` run side by side, and share one read of the stored refresh
 * token (and of the dead-token list) instead of each reading both entries.
 * @module
 */
import { RefreshTokens } from "../../lib/auth/auth0/refresh_token.ts";
import { fingerprint, keysFor } from "../../lib/auth/auth0/state.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { assertEquals } from "../support/assert.ts";

/** A memory store counting `get` per key. */
function countingStore() {
  const store = new MemoryCacheStore();
  const reads = new Map<string, number>();
  const get = store.get.bind(store);
  store.get = <T>(key: string) => {
    reads.set(key, (reads.get(key) ?? 0) + 1);
    return get<T>(key);
  };
  return { store, reads };
}

Deno.test("concurrent current() calls share one lookup: each entry is read once", async () => {
  const { store, reads } = countingStore();
  const keys = keysFor("tenant.example", "client");
  const configured = "v1.configured-refresh-token";
  await store.set(keys.refreshToken, {
    kind: "refresh_token",
    value: "v1.rotated",
    origin: await fingerprint(configured),
    hint: await fingerprint(""),
    source: "configured",
  });
  const rts = new RefreshTokens(store, keys, { configured });
  const [a, b] = await Promise.all([rts.current(), rts.current()]);
  assertEquals(a.token?.value, "v1.rotated");
  assertEquals(b.token?.identity, a.token?.identity);
  assertEquals(reads.get(keys.refreshToken), 1);
  assertEquals(reads.get(keys.deadRefreshTokens), 1);
  // Held from now on: no further reads.
  await rts.current();
  assertEquals(reads.get(keys.refreshToken), 1);
});

Deno.test("a failed lookup is not kept: the next call reads again", async () => {
  const { store, reads } = countingStore();
  const keys = keysFor("tenant.example", "client");
  let fail = true;
  const get = store.get.bind(store);
  store.get = <T>(key: string) => {
    if (fail && key === keys.refreshToken) return Promise.reject(new Error("disk"));
    return get<T>(key);
  };
  const rts = new RefreshTokens(store, keys, { configured: "v1.configured" });
  const first = await rts.current().then(() => "ok", (e) => String(e));
  assertEquals(first, "Error: disk");
  fail = false;
  assertEquals((await rts.current()).token?.value, "v1.configured");
  assertEquals(reads.get(keys.deadRefreshTokens), 2);
});
