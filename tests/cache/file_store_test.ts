/**
 * FileCacheStore behaviour that only a disk store has: nothing touched at construction, reads
 * never write, on-disk format and modes, orphaned temp files, corrupt-file quarantine.
 * @module
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../support/assert.ts";
import { FileCacheStore, QUARANTINE_KEEP_MS } from "../../lib/cache/file_store.ts";
import { fileNameForKey } from "../../lib/cache/file_name.ts";
import { McsError } from "../../lib/errors.ts";

const POSIX = Deno.build.os !== "windows";

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "mcs-cache-file-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test("file names: readable, injective under case folding, hashed when long", async () => {
  assertEquals(
    await fileNameForKey("work/rt:Tenant.auth0.com"),
    "k-work%2Frt%3A%54enant.auth0.com.json",
  );
  const upper = await fileNameForKey("A");
  const lower = await fileNameForKey("a");
  assert(upper.toLowerCase() !== lower.toLowerCase());
  const long = await fileNameForKey("x".repeat(500));
  assert(/^h-[0-9a-f]{64}\.json$/.test(long), long);
});

Deno.test("construction and reads touch nothing on disk", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.path}/not/yet`;
  const store = new FileCacheStore(dir);
  assertEquals(await store.get("k"), undefined);
  assertEquals(await store.keys(), []);
  assertEquals(await exists(dir), false);
  await store.set("k", 1);
  assertEquals(await store.get("k"), 1);
});

Deno.test("entries are one JSON file each: {ver, k, exp?, v}; no temp files left", async () => {
  await using tmp = await tempDir();
  const store = new FileCacheStore(tmp.path);
  await store.set("at:gmail", { t: "x" }, { expiresAt: 1_234 });
  await store.set("rt", "r");
  const name = await fileNameForKey("at:gmail");
  assertEquals(await names(tmp.path), [".lock", name, await fileNameForKey("rt")].sort());
  assertEquals(JSON.parse(await Deno.readTextFile(`${tmp.path}/${name}`)), {
    ver: 1,
    k: "at:gmail",
    exp: 1_234,
    v: { t: "x" },
  });
});

Deno.test("reads never write: an expired entry stays on disk until a write sweeps it", async () => {
  await using tmp = await tempDir();
  const clock = { now: 1_000 };
  const store = new FileCacheStore(tmp.path, { now: () => clock.now });
  await store.set("old", "v", { expiresAt: 2_000 });
  const file = `${tmp.path}/${await fileNameForKey("old")}`;
  const before = await Deno.readTextFile(file);
  clock.now = 5_000;
  assertEquals(await store.get("old"), undefined);
  assertEquals(await store.keys(), []);
  assertEquals(await Deno.readTextFile(file), before);
  // The first write of a fresh instance (a fresh process) sweeps expired entries.
  await new FileCacheStore(tmp.path, { now: () => clock.now }).set("other", 1);
  assertEquals(await exists(file), false);
});

Deno.test("an orphaned temp file (writer killed mid-write) is removed by the next writer", async () => {
  await using tmp = await tempDir();
  const store = new FileCacheStore(tmp.path);
  await store.set("k", 1);
  await Deno.writeTextFile(`${tmp.path}/.tmp-orphan`, '{"ver":1,"k":"k","v":');
  await new FileCacheStore(tmp.path).set("k", 2);
  assertEquals(await exists(`${tmp.path}/.tmp-orphan`), false);
  assertEquals(await store.get("k"), 2);
});

Deno.test({
  name: "modes: new directory 0700 and files 0600; existing 0755 dir and 0644 files tightened",
  ignore: !POSIX,
  fn: async () => {
    await using tmp = await tempDir();
    const fresh = `${tmp.path}/fresh/cache`;
    await new FileCacheStore(fresh).set("k", 1);
    assertEquals(await mode(fresh), 0o700);
    assertEquals(await mode(`${fresh}/${await fileNameForKey("k")}`), 0o600);
    assertEquals(await mode(`${fresh}/.lock`), 0o600);

    const old = `${tmp.path}/old`;
    await Deno.mkdir(old);
    await Deno.chmod(old, 0o755);
    const loose = `${old}/${await fileNameForKey("loose")}`;
    await Deno.writeTextFile(loose, JSON.stringify({ ver: 1, k: "loose", v: "secret" }));
    await Deno.chmod(loose, 0o644);
    const store = new FileCacheStore(old);
    await store.set("other", 1);
    assertEquals(await mode(old), 0o700);
    assertEquals(await mode(loose), 0o600);
    assertEquals(await store.get("loose"), "secret");
  },
});

Deno.test({
  name: "modes: a 0755 store with 0644 files is tightened when it opens, before any write",
  ignore: !POSIX,
  fn: async () => {
    await using tmp = await tempDir();
    const dir = `${tmp.path}/old`;
    await Deno.mkdir(dir);
    await Deno.chmod(dir, 0o755);
    const files = [`${dir}/${await fileNameForKey("loose")}`, `${dir}/.lock`];
    await Deno.writeTextFile(files[0], JSON.stringify({ ver: 1, k: "loose", v: "secret" }));
    await Deno.writeTextFile(files[1], "");
    for (const f of files) await Deno.chmod(f, 0o644);
    assertEquals(await new FileCacheStore(dir).get("loose"), "secret"); // a read, no write
    assertEquals(await mode(dir), 0o700);
    for (const f of files) assertEquals(await mode(f), 0o600, f);
    const other = `${tmp.path}/other`;
    await Deno.mkdir(other);
    await Deno.chmod(other, 0o755);
    assertEquals(await new FileCacheStore(other).keys(), []);
    assertEquals(await mode(other), 0o700, "keys() opens the store too");
  },
});

Deno.test("a corrupt file is quarantined, reported once, and other keys survive", async () => {
  await using tmp = await tempDir();
  const warnings: string[] = [];
  const store = new FileCacheStore(tmp.path, { onWarning: (m) => warnings.push(m) });
  await store.set("rt", "refresh");
  await store.set("privkey", "pem");
  const file = `${tmp.path}/${await fileNameForKey("rt")}`;
  const full = await Deno.readTextFile(file);
  await Deno.writeTextFile(file, full.slice(0, full.length / 2)); // truncated

  assertEquals(await store.get("rt"), undefined);
  assertEquals(warnings.length, 1);
  assertStringIncludes(warnings[0], file);
  assertStringIncludes(warnings[0], "moved it aside");
  const aside = (await names(tmp.path)).filter((n) => n.includes(".corrupt-"));
  assertEquals(aside.length, 1);
  assertEquals(await Deno.readTextFile(`${tmp.path}/${aside[0]}`), full.slice(0, full.length / 2));

  // Next calls proceed: no further warning, other keys intact, the key is writable again.
  assertEquals(await store.get("rt"), undefined);
  assertEquals(await store.keys(), ["privkey"]);
  assertEquals(await store.get("privkey"), "pem");
  await store.set("rt", "new");
  assertEquals(await store.get("rt"), "new");
  assertEquals(warnings.length, 1);
});

Deno.test("update over a corrupt entry starts from absent and reports it once", async () => {
  await using tmp = await tempDir();
  const warnings: string[] = [];
  const store = new FileCacheStore(tmp.path, { onWarning: (m) => warnings.push(m) });
  await store.set("n", 41);
  await store.set("keep", true);
  await Deno.writeTextFile(`${tmp.path}/${await fileNameForKey("n")}`, "");
  assertEquals(await store.update<number>("n", (n) => ({ value: (n ?? 0) + 1 })), 1);
  assertEquals(await store.update<number>("n", (n) => ({ value: (n ?? 0) + 1 })), 2);
  assertEquals(warnings.length, 1);
  assertEquals(await store.get("keep"), true);
});

Deno.test("a well-formed file of the wrong shape is also quarantined", async () => {
  await using tmp = await tempDir();
  const warnings: string[] = [];
  const store = new FileCacheStore(tmp.path, { onWarning: (m) => warnings.push(m) });
  await Deno.writeTextFile(`${tmp.path}/${await fileNameForKey("a")}`, '["not", "an", "entry"]');
  await Deno.writeTextFile(
    `${tmp.path}/${await fileNameForKey("b")}`,
    JSON.stringify({ ver: 1, k: "someone-else", v: 1 }),
  );
  assertEquals(await store.get("a"), undefined);
  assertEquals(await store.get("b"), undefined);
  assertEquals(warnings.length, 2);
});

Deno.test("an entry from a newer format is an error, not quarantined", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.path}/${await fileNameForKey("k")}`;
  const text = JSON.stringify({ ver: 2, k: "k", v: 1 });
  await Deno.writeTextFile(file, text);
  const e = await assertRejects(() => new FileCacheStore(tmp.path).get("k"), McsError);
  assertEquals(e.code, "cache_entry_unsupported_version");
  assertEquals(await Deno.readTextFile(file), text);
});

Deno.test("a get inside an update callback that meets a corrupt file does not deadlock", async () => {
  await using tmp = await tempDir();
  const warnings: string[] = [];
  const store = new FileCacheStore(tmp.path, { onWarning: (m) => warnings.push(m) });
  await Deno.writeTextFile(`${tmp.path}/${await fileNameForKey("other")}`, "{");
  const v = await store.update<string>("k", async () => ({ value: `${await store.get("other")}` }));
  assertEquals(v, "undefined");
  assertEquals(warnings.length, 1);
});

Deno.test("quarantined files are kept a week for inspection, then swept", async () => {
  await using dir = await tempDir();
  let now = 1_000_000_000_000;
  const warnings: string[] = [];
  const first = new FileCacheStore(dir.path, {
    now: () => now,
    onWarning: (w) => warnings.push(w),
  });
  await first.set("a", 1);
  await Deno.writeTextFile(`${dir.path}/${await fileNameForKey("a")}`, "{ truncated");
  assertEquals(await first.get("a"), undefined);
  assertEquals(warnings.length, 1);
  const quarantined = (await names(dir.path)).filter((n) => n.includes(".corrupt-"));
  assertEquals(quarantined.length, 1);
  // A day later a new process's first write sweeps: the file is still kept.
  now += QUARANTINE_KEEP_MS / 7;
  await new FileCacheStore(dir.path, { now: () => now }).set("b", 2);
  assert((await names(dir.path)).includes(quarantined[0]));
  // After the keep period it goes (it may hold token fragments).
  now += QUARANTINE_KEEP_MS;
  await new FileCacheStore(dir.path, { now: () => now }).set("c", 3);
  assert(!(await names(dir.path)).includes(quarantined[0]));
});
