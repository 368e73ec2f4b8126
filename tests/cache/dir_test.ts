/**
 * Cache directory resolution and the fail-fast writability check, including directories that
 * are unwritable even for root (a path under a regular file; a read-only tmpfs mounted in a private
 * mount namespace, when `unshare` is available).
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../support/assert.ts";
import { ensureWritable, resolveCacheDir } from "../../lib/cache/dir.ts";
import { FileCacheStore } from "../../lib/cache/file_store.ts";
import { mapEnv } from "../../lib/config/env.ts";
import { ConfigError } from "../../lib/errors.ts";
import { mountNamespace, requires, testRequiring } from "../support/requires.ts";

const POSIX = Deno.build.os !== "windows";
const isRoot = POSIX && Deno.uid() === 0;

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "mcs-cache-dir-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

function assertNotWritable(e: ConfigError, dir: string): void {
  assertEquals(e.code, "cache_dir_not_writable");
  assertEquals(e.category, "config");
  assertStringIncludes(e.message, dir);
  assertStringIncludes(e.message, "MCS_CACHE_DIR");
}

Deno.test("resolveCacheDir: MCS_CACHE_DIR, then $XDG_CACHE_HOME/mcs, then $HOME/.mcs/cache", () => {
  const env = (vars: Record<string, string>) => ({ get: (n: string) => vars[n] });
  assertEquals(
    resolveCacheDir(env({ MCS_CACHE_DIR: "/c", XDG_CACHE_HOME: "/x", HOME: "/h" })),
    "/c",
  );
  assertEquals(
    resolveCacheDir(env({ MCS_CACHE_DIR: "", XDG_CACHE_HOME: "/x", HOME: "/h" })),
    "/x/mcs",
  );
  assertEquals(resolveCacheDir(env({ XDG_CACHE_HOME: "relative", HOME: "/h" })), "/h/.mcs/cache");
  assertEquals(resolveCacheDir(mapEnv({ HOME: "/h" })), "/h/.mcs/cache");
  const e = assertThrows(() => resolveCacheDir(mapEnv({})), ConfigError);
  assertEquals(e.code, "cache_dir_unresolved");
  assertStringIncludes(e.message, "MCS_CACHE_DIR");
});

Deno.test("ensureWritable creates the directory (0700) and leaves nothing behind", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.path}/a/b`;
  await ensureWritable(dir);
  assertEquals([...Deno.readDirSync(dir)], []);
  if (POSIX) assertEquals(Deno.statSync(dir).mode! & 0o777, 0o700);
});

Deno.test({
  name: "ensureWritable on an existing 0700 directory leaves its contents and mtime untouched",
  ignore: !POSIX,
  fn: async () => {
    await using tmp = await tempDir();
    const dir = `${tmp.path}/cache`;
    await Deno.mkdir(dir, { mode: 0o700 });
    await Deno.writeTextFile(`${dir}/entry`, "x");
    const past = new Date(Date.now() - 3_600_000);
    await Deno.utime(dir, past, past);
    const before = Deno.statSync(dir).mtime!.getTime();
    await ensureWritable(dir);
    assertEquals(Deno.statSync(dir).mtime!.getTime(), before, "no probe file created in it");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["entry"]);
    assertEquals(Deno.statSync(dir).mode! & 0o777, 0o700);
  },
});

Deno.test(
  "an existing 0700 directory without Deno write permission: ConfigError (no fast path)",
  async () => {
    await using tmp = await tempDir();
    const dir = `${tmp.path}/cache`;
    await Deno.mkdir(dir, { mode: 0o700 });
    const child = new URL("./fixtures/ensure_writable.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--allow-read",
        `--allow-write=${tmp.path}/elsewhere`,
        child,
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const { ensure } = JSON.parse(new TextDecoder().decode(out.stdout));
    assertEquals(ensure.ok, false);
    assertNotWritable(ensure, dir);
  },
);

Deno.test({
  name: "ensureWritable tightens an existing 0755 directory to 0700",
  ignore: !POSIX,
  fn: async () => {
    await using tmp = await tempDir();
    await Deno.chmod(tmp.path, 0o755);
    await ensureWritable(tmp.path);
    assertEquals(Deno.statSync(tmp.path).mode! & 0o777, 0o700);
  },
});

Deno.test("a directory under a regular file: ConfigError naming it and MCS_CACHE_DIR", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.path}/file`, "x");
  const dir = `${tmp.path}/file/cache`;
  assertNotWritable(await assertRejects(() => ensureWritable(dir), ConfigError), dir);
  // The store's writes fail the same way, while its reads still just see nothing.
  const store = new FileCacheStore(dir);
  assertNotWritable(await assertRejects(() => store.set("k", 1), ConfigError), dir);
  assertEquals(await store.get("k"), undefined);
});

testRequiring(
  requires("a non-root user", POSIX && !isRoot, {
    reason: POSIX ? "running as root, where chmod 0500 does not stop writes" : "no POSIX modes",
    ciCannotProvide: "CI may run as root; the read-only case is covered by the tmpfs test",
  }),
  {
    name: "a chmod 0500 directory: ConfigError",
    fn: async () => {
      await using tmp = await tempDir();
      const dir = `${tmp.path}/ro`;
      await Deno.mkdir(dir, { mode: 0o700 });
      await Deno.writeTextFile(`${dir}/k-rt.json`, '{"ver":1,"k":"rt","v":'); // truncated
      await Deno.chmod(dir, 0o500);
      try {
        assertNotWritable(await assertRejects(() => ensureWritable(dir), ConfigError), dir);
        // A corrupt entry that cannot be moved aside is reported once and reads as absent.
        const warnings: string[] = [];
        const store = new FileCacheStore(dir, { onWarning: (m) => warnings.push(m) });
        assertEquals(await store.get("rt"), undefined);
        assertEquals(await store.get("rt"), undefined);
        assertEquals(warnings.length, 1);
        assertStringIncludes(warnings[0], "could not be moved aside");
      } finally {
        await Deno.chmod(dir, 0o700);
      }
    },
  },
);

/** `unshare` flags that give us a private mount namespace where we may mount, if any. */
function unshareFlags(): string[] | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const target = Deno.makeTempDirSync({ prefix: "mcs-cache-probe-" });
  try {
    for (const flags of [["-rm"], ["-m"]]) {
      const probe = new Deno.Command("unshare", {
        args: [...flags, "sh", "-c", 'mount -t tmpfs -o ro,size=64k tmpfs "$1"', "sh", target],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      if (probe.success) return flags;
    }
    return undefined;
  } catch {
    return undefined; // no unshare binary
  } finally {
    Deno.removeSync(target);
  }
}
const flags = unshareFlags();

testRequiring(mountNamespace(flags), {
  name: "a read-only file system (tmpfs in a private mount namespace): ConfigError, even as root",
  fn: async () => {
    await using tmp = await tempDir();
    const dir = `${tmp.path}/ro`;
    await Deno.mkdir(dir);
    const child = new URL("./fixtures/ensure_writable.ts", import.meta.url).pathname;
    const script = 'mount -t tmpfs -o ro,mode=0700,size=64k tmpfs "$1" && ' +
      'exec "$2" run --no-prompt --allow-read --allow-write "$3" "$1"';
    const out = await new Deno.Command("unshare", {
      args: [...flags!, "sh", "-c", script, "sh", dir, Deno.execPath(), child],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert(out.success, stderr);
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    for (const step of [result.ensure, result.set]) {
      assertEquals(step.ok, false, JSON.stringify(result));
      assertEquals(step.name, "ConfigError");
      assertNotWritable(step, dir);
      assertStringIncludes(step.message, "Read-only");
    }
  },
});
