/**
 * `MCS_STORE_KEY` parsing and sealing (no Redis needed): clear errors that never echo key
 * material, base64 and base64url keys, fingerprint kids, round trips bound to the key and the
 * expiry; and the store URL checks of `openStore` / `redactRedisUrl` (the password never shown).
 * @module
 */
import { assert, assertEquals, assertNotEquals, assertRejects } from "../support/assert.ts";
import { parseStoreKeys, Sealer } from "../../lib/cache/seal.ts";
import { redactRedisUrl } from "../../lib/cache/redis_connection.ts";
import { openStore } from "../../lib/cache/open.ts";
import { FileCacheStore } from "../../lib/cache/file_store.ts";
import { ConfigError } from "../../lib/errors.ts";
import { encodeBase64, encodeBase64Url } from "../../lib/encoding/base64.ts";

const bytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const KEY = encodeBase64(bytes(32));

Deno.test("MCS_STORE_KEY: missing or malformed is a ConfigError that says how to make one, without the key", async () => {
  for (const text of [undefined, "", "  "]) {
    const e = await assertRejects(() => parseStoreKeys(text), ConfigError);
    assertEquals(e.code, "missing_setting");
    assert(e.message.includes("openssl rand -base64 32"), e.message);
  }
  const short = encodeBase64(bytes(16));
  const cases: [string, RegExp][] = [
    [`k1:${short}`, /decodes to 16 bytes, not 32/],
    ["k1:not base64!!", /not base64/],
    [`bad kid:${KEY}`, /bad key id/],
    [`k1:${KEY},k1:${encodeBase64(bytes(32))}`, /appears twice/],
    [`k1:${KEY},k2:${short}`, /entry 2 decodes to 16 bytes/],
  ];
  for (const [text, want] of cases) {
    const e = await assertRejects(() => parseStoreKeys(text), ConfigError);
    assertEquals(e.code, "store_key_invalid");
    assert(want.test(e.message), e.message);
    assert(!e.message.includes(KEY) && !e.message.includes(short), "no key material");
    assert(e.message.includes("MCS_STORE_KEY"), e.message);
  }
});

Deno.test("MCS_STORE_KEY: base64url keys work; bare keys get a fingerprint kid; the first key seals", async () => {
  const raw = bytes(32);
  const ring = await parseStoreKeys(`new_1:${encodeBase64Url(raw)}, ${encodeBase64(raw)}`);
  assertEquals(ring.keys.length, 2);
  assertEquals(ring.keys[0].kid, "new_1");
  assert(/^fp-[0-9a-f]{8}$/.test(ring.keys[1].kid), ring.keys[1].kid);
  const sealer = new Sealer(ring);
  assertEquals(sealer.currentKid, "new_1");
  const env = JSON.parse(await sealer.seal("p:d:k", '"v"'));
  assertEquals(env.kid, "new_1");
});

Deno.test("sealing: round trip; another place, an altered expiry or ciphertext does not open", async () => {
  const sealer = new Sealer(await parseStoreKeys(`k1:${KEY}`));
  const json = JSON.stringify({ token: "ya29.secret-value" });
  const env = await sealer.seal("mcs:d:alice/at", json, 5_000);
  assert(!env.includes("ya29") && !env.includes("secret-value"), env);
  assertEquals(await sealer.open("mcs:d:alice/at", env), { json, exp: 5_000 });
  assertNotEquals(await sealer.seal("mcs:d:alice/at", json, 5_000), env, "fresh IV each time");
  const other = await sealer.open("mcs:d:bob/at", env);
  assert("reason" in other && !other.unknownKey, JSON.stringify(other));
  const pushed = JSON.stringify({ ...JSON.parse(env), exp: 9_999_999 });
  assert("reason" in await sealer.open("mcs:d:alice/at", pushed));
  const e = JSON.parse(env);
  const ct = e.ct as string;
  const flipped = JSON.stringify({ ...e, ct: (ct[0] === "A" ? "B" : "A") + ct.slice(1) });
  assert("reason" in await sealer.open("mcs:d:alice/at", flipped));
  for (const junk of ["not json", "{}", '{"v":2,"kid":"k1","iv":"","ct":""}', "null"]) {
    const r = await sealer.open("mcs:d:alice/at", junk);
    assert("reason" in r && !r.unknownKey, junk);
  }
  const stranger = new Sealer(await parseStoreKeys(`k9:${encodeBase64(bytes(32))}`));
  const unknown = await stranger.open("mcs:d:alice/at", env);
  assert("reason" in unknown && unknown.unknownKey === true, JSON.stringify(unknown));
});

Deno.test("store URLs: the password is never shown; bad URLs are store_url_invalid", () => {
  assertEquals(redactRedisUrl("redis://:s3cret@10.0.0.5:6380/2"), "redis://10.0.0.5:6380/2");
  assertEquals(
    redactRedisUrl("rediss://app:s3cret@cache.internal"),
    "rediss://app@cache.internal:6379/0",
  );
  assertEquals(redactRedisUrl("redis://127.0.0.1"), "redis://127.0.0.1:6379/0");
  for (const bad of ["http://x:6379", "redis://", "redis://h:1/abc", "::"]) {
    let code = "";
    try {
      redactRedisUrl(bad.replace("x", "u:pw-XYZ@x"));
    } catch (e) {
      code = (e as ConfigError).code;
      assert(!(e as Error).message.includes("pw-XYZ"), (e as Error).message);
    }
    assertEquals(code, "store_url_invalid", bad);
  }
});

Deno.test("openStore: the file store by default; Redis needs a valid key and prefix (checked at once)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcs-open-" });
  try {
    const env = (vars: Record<string, string>) => ({ get: (n: string) => vars[n] });
    const file = await openStore({ env: env({ MCS_CACHE_DIR: dir }) });
    assertEquals(file.kind, "file");
    assert(file.store instanceof FileCacheStore);
    assertEquals(file.describe, dir);
    await file.check();
    await file.close();
    const url = "redis://:pw-XYZ@127.0.0.1:1/0";
    const noKey = await assertRejects(() => openStore({ env: env({ MCS_STORE: url }) }));
    assertEquals((noKey as ConfigError).code, "missing_setting");
    const badPrefix = await assertRejects(() =>
      openStore({ env: env({ MCS_STORE: url, MCS_STORE_KEY: KEY, MCS_STORE_PREFIX: "a b" }) })
    );
    assertEquals((badPrefix as ConfigError).code, "store_prefix_invalid");
    const redis = await openStore({
      env: env({ MCS_STORE: url, MCS_STORE_KEY: `k1:${KEY}`, MCS_STORE_PREFIX: "team-a:" }),
      connectTimeoutMs: 200,
    });
    assertEquals(redis.kind, "redis");
    assertEquals(redis.describe, "redis://127.0.0.1:1/0 (prefix team-a:)");
    // Nothing listens on port 1: the readiness probe fails, bounded, with the typed error.
    const down = await assertRejects(() => redis.check());
    assertEquals((down as ConfigError).code, "store_unavailable");
    assert(!(down as Error).message.includes("pw-XYZ"));
    await redis.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
