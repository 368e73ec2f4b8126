/**
 * Cross-process guarantees, with real separate `deno` processes: concurrent `update`s lose
 * nothing; readers running alongside a writer never see a torn value; and a writer SIGKILLed
 * mid-write leaves the old or the new value.
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { FileCacheStore } from "../../lib/cache/file_store.ts";
import { McsError } from "../../lib/errors.ts";
import { version } from "./fixtures/big_writer.ts";

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "mcs-cache-proc-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

function child(
  fixture: string,
  dir: string,
  args: string[],
  stdout: "piped" | "null" = "null",
  stderr: "piped" | "null" = "piped",
) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      new URL(`./fixtures/${fixture}`, import.meta.url).pathname,
      dir,
      ...args,
    ],
    stdout,
    stderr,
  }).spawn();
}

async function runAll(children: Deno.ChildProcess[]): Promise<void> {
  for (const c of await Promise.all(children.map((c) => c.output()))) {
    assert(c.success, new TextDecoder().decode(c.stderr));
  }
}

Deno.test("8 processes x 50 updates of one key lose nothing", async () => {
  await using tmp = await tempDir();
  await runAll(Array.from({ length: 8 }, () => child("counter.ts", tmp.path, ["shared", "50"])));
  assertEquals(await new FileCacheStore(tmp.path).get("shared"), 400);
});

Deno.test("8 processes updating 8 different keys: every key ends at 50", async () => {
  await using tmp = await tempDir();
  const keys = Array.from({ length: 8 }, (_, i) => `tenant${i}/n`);
  await runAll(keys.map((k) => child("counter.ts", tmp.path, [k, "50"])));
  const store = new FileCacheStore(tmp.path);
  assertEquals(await store.keys(), keys);
  for (const k of keys) assertEquals(await store.get(k), 50, k);
});

Deno.test("readers never see a torn value; a writer SIGKILLed at a random moment leaves an intact version", async () => {
  for (let round = 0; round < 3; round++) {
    await using tmp = await tempDir();
    const warnings: string[] = [];
    const store = new FileCacheStore(tmp.path, { onWarning: (m) => warnings.push(m) });
    const proc = child("big_writer.ts", tmp.path, ["big"], "piped", "null");
    const lines = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    let drain: Promise<void> | undefined;
    let reads = 0;
    try {
      while (!seen.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error("writer exited before committing anything");
        seen += value;
      }
      drain = (async () => { // keep the pipe flowing until the writer dies
        for (let r = await lines.read(); !r.done; r = await lines.read()) seen += r.value;
      })();
      // Until a random moment, read concurrently: each read sees a whole version.
      const killAt = Date.now() + Math.random() * 150;
      do {
        const got = await store.get<{ i: number; pad: string }>("big");
        assert(got !== undefined, "a committed value read as absent");
        assertEquals(got, version(got.i));
        reads++;
      } while (Date.now() < killAt);
    } finally {
      try {
        proc.kill("SIGKILL");
      } catch { /* already exited */ }
      await proc.status;
      await (drain ?? lines.cancel());
    }
    assertEquals((await proc.status).signal, "SIGKILL");

    const committed = seen.trim().split("\n").map(Number);
    const last = committed[committed.length - 1];
    const got = await store.get<{ i: number; pad: string }>("big");
    assert(got !== undefined, "value lost");
    // The last printed version, or the next one if it was renamed in before the print.
    assert(got.i === last || got.i === last + 1, `got version ${got.i}, last committed ${last}`);
    assertEquals(got, version(got.i));
    assertEquals(warnings, []);
    assert(reads > 0);
    // The store stays usable: the next writer removes the orphaned temp file and proceeds.
    await store.set("big", "after");
    assertEquals(await store.get("big"), "after");
    assertEquals([...Deno.readDirSync(tmp.path)].filter((e) => e.name.startsWith(".tmp-")), []);
  }
});

Deno.test("a hung lock holder: writers give up with cache_busy; once it dies they take the lock", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(tmp.path, { recursive: true });
  const holder = child("hung_holder.ts", tmp.path, [], "piped");
  try {
    const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("held")) {
      const { value, done } = await reader.read();
      assert(!done, "the holder exited before taking the lock");
      seen += value;
    }
    reader.releaseLock();
    const store = new FileCacheStore(tmp.path, { lockWaitMs: 300 });
    const e = await store.set("k", 1).then(() => undefined, (e) => e);
    assert(e instanceof McsError, `expected cache_busy, got ${e}`);
    assertEquals(e.code, "cache_busy");
    assertEquals(e.retryable, true);
    assertEquals(e.category, "runtime");
    const lockFile = `${tmp.path}/.lock`;
    assert(e.message.includes(lockFile), "the message names the lock file");
    assert(/delete .*\.lock to clear it/.test(e.message), "and says how to clear a stale one");
    assertEquals(e.details?.lock_file, lockFile);
    assertEquals(await store.get("k"), undefined, "reads do not wait for the lock");
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
    await holder.stdout.cancel().catch(() => {});
    await holder.stderr.cancel().catch(() => {});
  }
  // The holder died: the kernel released its lock, and the next writer takes it at once.
  const store = new FileCacheStore(tmp.path, { lockWaitMs: 5_000 });
  await store.set("k", 2);
  assertEquals(await store.get("k"), 2);
});
