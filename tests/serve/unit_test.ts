/**
 * Units of `lib/serve`: the per-user pool (cap, LRU and idle eviction, closing), the HTTP status
 * of each kind of failure, user hashes, and the store probe.
 * @module
 */

import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { ConfigError, McsError, UsageError } from "../../lib/errors.ts";
import {
  CLOCK_TOLERANCE_S,
  identify,
  userHash,
  UserTokenVerifier,
} from "../../lib/serve/identity.ts";
import { userJwt } from "./_serve.ts";
import { retryAfterOf, statusOf } from "../../lib/serve/responses.ts";
import { probeStore, userStore } from "../../lib/serve/store.ts";
import { serveApp } from "../../lib/serve/app.ts";
import { UserPool } from "../../lib/serve/users.ts";
import { assert, assertEquals, assertNotEquals, assertRejects } from "../support/assert.ts";

Deno.test("UserPool: a cap per user, LRU and idle eviction of idle scopes only", async () => {
  const clock = { t: 0 };
  const closed: string[] = [];
  const pool = new UserPool((user) => ({ user, close: () => void closed.push(user) }), {
    maxConcurrent: 2,
    maxUsers: 2,
    idleMs: 1_000,
    now: () => clock.t,
  });
  const a1 = pool.enter("a")!;
  const a2 = pool.enter("a")!;
  assertEquals(pool.enter("a"), undefined, "a is at its cap");
  assert(pool.enter("b"), "b is not limited by a");
  a1.leave();
  a1.leave(); // twice: counted once
  const a3 = pool.enter("a");
  assert(a3, "a has a slot again");
  assertEquals(pool.enter("a"), undefined, "a double leave() freed one slot only");
  a2.leave();
  a3.leave();
  // b (entered, never left) is busy; a is idle. A third user evicts the idle LRU one... a.
  clock.t = 10;
  pool.enter("c")!.leave();
  await Promise.resolve();
  await Promise.resolve();
  assertEquals(closed, ["a"]);
  assertEquals(pool.size, 2);
  // Idle eviction: c unused for longer than idleMs is closed when a new user arrives.
  clock.t = 5_000;
  pool.enter("d")!.leave();
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(closed, ["a", "c"], "b stays: it has a call in flight");
  await pool.close();
  assertEquals(closed.sort(), ["a", "b", "c", "d"]);
});

Deno.test("statusOf: usage 400, not found 404, rate 429, upstream 502/503, config 500", () => {
  assertEquals(statusOf(new UsageError("invalid_arguments", "x")), 400);
  assertEquals(statusOf(new UsageError("label_not_found", "x")), 404);
  assertEquals(statusOf(new McsError("not_found", "x")), 404);
  assertEquals(
    statusOf(new McsError("gmail_rate_limited", "x", "runtime", { retryable: true })),
    429,
  );
  assertEquals(
    statusOf(new McsError("gmail_unavailable", "x", "runtime", { retryable: true })),
    503,
  );
  assertEquals(statusOf(new McsError("gmail_error", "x")), 502);
  assertEquals(statusOf(new ConfigError("missing_setting", "x")), 500);
  assertEquals(statusOf(new Error("boom")), 500);
  const limited = new McsError("gmail_rate_limited", "x", "runtime", {
    retryable: true,
    details: { retry_after_s: 41.2 },
  });
  assertEquals(retryAfterOf(limited), { "retry-after": "42" });
  assertEquals(retryAfterOf(new McsError("gmail_rate_limited", "x")), {});
  const store = new McsError("store_unavailable", "x", "runtime", { retryable: true });
  assertEquals([statusOf(store), retryAfterOf(store)], [503, { "retry-after": "2" }]);
  assertEquals(
    retryAfterOf(new UsageError("invalid_arguments", "x", { details: { retry_after_s: 5 } })),
    {},
    "only for 429 and 503",
  );
});

Deno.test("userHash: stable, 128-bit hex, distinct per user; identity off without team settings", async () => {
  const a = await userHash("alice");
  assertEquals(a, await userHash("alice"));
  assert(/^[0-9a-f]{32}$/.test(a), a);
  assertNotEquals(a, await userHash("bob"));
  const single = await identify(
    new Request("http://x/tools/t", { headers: { "x-user": "eve" } }),
    {},
  );
  assertEquals(single, { ok: true }, "single-user mode ignores user headers");
});

Deno.test("probeStore: a working store passes and keeps no probe; a failing one throws", async () => {
  const root = new MemoryCacheStore();
  await probeStore(root);
  assertEquals(await root.keys(), []);
  await userStore(root, "h1").set("k", 1);
  assertEquals(await root.keys(), ["users/h1/k"]);
  const broken = {
    set: () => Promise.reject(new Error("down")),
  } as unknown as MemoryCacheStore;
  await assertRejects(() => probeStore(broken));
  const forgetful = {
    set: () => Promise.resolve(),
    get: () => Promise.resolve(undefined),
    delete: () => Promise.resolve(),
  } as unknown as MemoryCacheStore;
  await assertRejects(() => probeStore(forgetful));
});

Deno.test("UserTokenVerifier: a remembered token still expires, and binds to its secret", async () => {
  const clock = { t: Date.now() };
  const v = new UserTokenVerifier("secret-a-0123456789012345678901", { now: () => clock.t });
  const token = await userJwt("secret-a-0123456789012345678901", "alice", { expiresIn: "300s" });
  const alice = await userHash("alice");
  assertEquals(await v.user(token), alice);
  assertEquals(v.size, 1, "remembered");
  assertEquals(await v.user(token), alice, "answered from memory");
  // Just before exp + tolerance it is still good; at exp + tolerance jose and the memory refuse.
  const exp = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp;
  clock.t = (exp + CLOCK_TOLERANCE_S) * 1000 - 1;
  assertEquals(await v.user(token), alice);
  clock.t = (exp + CLOCK_TOLERANCE_S) * 1000;
  assertEquals(await v.user(token), undefined, "expired: refused although it was remembered");
  assertEquals(v.size, 0, "and forgotten");
  clock.t = Date.now();
  // Another secret: a token signed under the first one does not verify, remembered or not.
  assertEquals(await v.user(token), alice, "remembered again under secret a");
  const b = new UserTokenVerifier("secret-b-0123456789012345678901");
  assertEquals(await b.user(token), undefined, "secret b refuses a token of secret a");
  // A bad token is never remembered.
  assertEquals(await v.user(token.slice(0, -2) + "xx"), undefined);
  assertEquals(v.size, 1);
  // Bounded.
  const small = new UserTokenVerifier("secret-a-0123456789012345678901", { maxEntries: 2 });
  for (const u of ["u1", "u2", "u3"]) {
    assert(await small.user(await userJwt("secret-a-0123456789012345678901", u)));
  }
  assertEquals(small.size, 2);
});

Deno.test("identify: the remembered token of one secret is refused once the secret changes", async () => {
  const policy = { jwtSecret: "secret-a-0123456789012345678901" };
  const req = async (secret: string, sub: string, o = {}) =>
    new Request("http://x/tools/t", {
      headers: { "x-openwebui-user-jwt": await userJwt(secret, sub, o) },
    });
  const r = await req("secret-a-0123456789012345678901", "alice");
  const ok = await identify(r, policy);
  assertEquals(ok, { ok: true, user: await userHash("alice") });
  assertEquals(await identify(r, policy), ok, "again (remembered)");
  policy.jwtSecret = "secret-b-0123456789012345678901";
  const refused = await identify(r, policy);
  assert(!refused.ok && refused.status === 401, JSON.stringify(refused));
  const other = await identify(r, { jwtSecret: "secret-c-0123456789012345678901" });
  assert(!other.ok && other.status === 401);
  // An already expired token (beyond the tolerance) is refused.
  const old = await identify(
    await req("secret-b-0123456789012345678901", "bob", {
      expiresIn: Math.floor(Date.now() / 1000) - 60,
    }),
    policy,
  );
  assert(!old.ok && old.status === 401, JSON.stringify(old));
});

/** A serveApp with no tools and a scope that does nothing: for the routes around the tools. */
function bareApp(o: Partial<Parameters<typeof serveApp>[0]> = {}) {
  return serveApp({
    version: "0",
    tools: [],
    policy: {},
    scope: () => ({
      call: () => Promise.resolve({}),
      mcp: () => Promise.resolve(new Response(null)),
      close: () => Promise.resolve(),
    }),
    describe: () => ({ ok: false, error: { code: "internal" } }),
    probe: () => Promise.resolve(),
    log: () => {},
    ...o,
  });
}

Deno.test("serveApp: a tool path that is not valid percent-encoding is 404, not a 500", async () => {
  const lines: string[] = [];
  const app = bareApp({ log: (line) => void lines.push(line) });
  const res = await app.handler(new Request("http://127.0.0.1/tools/%E0%A4", { method: "POST" }));
  const doc = await res.json();
  assertEquals(res.status, 404);
  assertEquals(doc.error.code, "tool_not_found");
  await app.close();
});

Deno.test("serveApp: /readyz names a store key mismatch (503 store_key_mismatch), else serve_store_unavailable", async () => {
  let failure: Error = new ConfigError(
    "store_key_mismatch",
    'MCS_STORE_KEY holds different key bytes under key id "k1" ...',
  );
  const app = bareApp({ probe: () => Promise.reject(failure) });
  const mismatch = await app.handler(new Request("http://127.0.0.1/readyz"));
  const doc = await mismatch.json();
  assertEquals([mismatch.status, doc.error.code], [503, "store_key_mismatch"]);
  assert(doc.error.message.includes('key id "k1"'), doc.error.message);
  failure = new McsError("store_unavailable", "Redis is down", "runtime", { retryable: true });
  const down = await app.handler(new Request("http://127.0.0.1/readyz"));
  assertEquals([down.status, (await down.json()).error.code], [503, "serve_store_unavailable"]);
  await app.close();
});
