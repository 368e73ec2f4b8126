/**
 * {@link FileCacheStore}: the durable {@link CacheStore}, one JSON file per key in one directory.
 *
 * Design (fixes B6 of the original single-file store):
 * - **One file per key**, `{"ver":1,"k":<key>,"exp":<epoch ms>?,"v":<value>}`, named by
 *   {@link fileNameForKey}. A damaged file can only ever lose its own key.
 * - **Atomic writes**: temp file in the same directory (`0600`), write, fsync, rename over the
 *   entry, fsync the directory. A writer killed at any moment leaves the old or the new entry.
 * - **One lock for the whole store** (`<dir>/.lock`, `Deno.FsFile.lock(true)`, an OS advisory
 *   lock released by the kernel if the holder dies). Every write (`set`, `delete`, `update`,
 *   `clear`) holds it, so `update` is a true read-modify-write and a `set` can never slip between
 *   an update's read and its write. One lock rather than one per key: the store is small and its
 *   critical sections short, and a single lock file that is never deleted avoids the
 *   unlink-while-waiting races of per-key lock files and makes `clear(prefix)` trivially atomic.
 *   Not re-entrant: an `update` callback may `get` but must not write to the same store.
 * - **A bounded wait for the lock**: a writer polls the lock (`tryLock`) for at most
 *   {@link LOCK_WAIT_MS} (option `lockWaitMs`), then fails with `cache_busy` (retryable), naming
 *   the lock file and how to clear it; a hung holder never hangs every later command. A holder
 *   that died released the lock with its descriptor, so the next writer takes it at once.
 * - **Reads never write entries**: expired entries read as absent; removal of expired entries
 *   and stale temp files happens in a sweep the first time an instance takes the lock.
 * - **Modes are tightened when the store opens** (the first read or write of an instance): an
 *   existing `0755` directory and `0644` files from an older version or a careless copy become
 *   `0700`/`0600` at once, not only at the next write; best effort on a read-only file system.
 *   The one exception is a corrupt file, which is moved aside (under the lock, after re-checking
 *   that no writer replaced it) to `<name>.corrupt-<epoch ms>` and reported once through
 *   `onWarning`; the read proceeds as absent and every other key is untouched.
 * - **Nothing touches the disk at construction**, so commands that only read work on read-only
 *   file systems; call {@link ensureWritable} up front in commands that persist state.
 * - Modes: directory `0700` (an existing one is tightened), files `0600`.
 *
 * @example
 * ```ts
 * import { FileCacheStore } from "./file_store.ts";
 * import { ensureWritable } from "./dir.ts";
 * const store = new FileCacheStore("/home/me/.cache/mcs");
 * await ensureWritable(store.dir);
 * await store.set("work/at:gmail", { token: "…" }, { expiresAt: Date.now() + 3_000_000 });
 * const n = await store.update<number>("work/counter", (n) => ({ value: (n ?? 0) + 1 }));
 * ```
 * @module
 */

import { joinPath as join } from "./path.ts";
import { McsError } from "../errors.ts";
import type { CacheStore, UpdateResult, WriteOptions } from "./types.ts";
import { type Clock, isLive, serializeValue } from "./entry.ts";
import { FILE_MODE, notWritable, prepareDir, tightenExisting, tightenFile } from "./dir.ts";
import { fileNameForKey, isEntryFileName } from "./file_name.ts";
import { Mutex } from "./mutex.ts";

/** Options for {@link FileCacheStore}. */
export interface FileCacheStoreOptions {
  /** Clock in epoch milliseconds (default `Date.now`). */
  now?: Clock;
  /** Receives one message per quarantined file (default: `console.error`). */
  onWarning?: (message: string) => void;
  /** How long a writer waits for the lock before `cache_busy` (default {@link LOCK_WAIT_MS}). */
  lockWaitMs?: number;
}

/** How long a writer waits for the store's lock by default: 10 s. */
export const LOCK_WAIT_MS = 10_000;

/** One entry as stored on disk. */
interface Entry {
  k: string;
  v: unknown;
  exp?: number;
}

const FORMAT_VERSION = 1;
const LOCK_FILE = ".lock";
const TEMP_PREFIX = ".tmp-";
/** How long a quarantined (corrupt) file is kept for inspection before a sweep removes it. */
export const QUARANTINE_KEEP_MS = 7 * 24 * 3600 * 1000;
const utf8 = new TextEncoder();

/** A {@link CacheStore} backed by one JSON file per key in `dir`. */
export class FileCacheStore implements CacheStore {
  /** The directory holding the entries. */
  readonly dir: string;
  readonly #now: Clock;
  readonly #warn: (message: string) => void;
  readonly #mutex = new Mutex();
  readonly #reported = new Set<string>();
  readonly #lockWaitMs: number;
  #opened: Promise<void> | undefined;
  #swept = false;
  /** True while this instance holds the lock (a read from inside an update callback). */
  #held = false;

  /** Touches nothing on disk. */
  constructor(dir: string, options: FileCacheStoreOptions = {}) {
    this.dir = dir;
    this.#now = options.now ?? Date.now;
    this.#warn = options.onWarning ?? ((message) => console.error(message));
    this.#lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS;
  }

  /** Once per instance, before its first read or write: tighten existing modes. */
  #open(): Promise<void> {
    return this.#opened ??= tightenExisting(this.dir);
  }

  async get<T>(key: string): Promise<T | undefined> {
    await this.#open();
    const entry = await this.#read(await fileNameForKey(key), key, false);
    return entry && isLive(entry.exp, this.#now()) ? entry.v as T : undefined;
  }

  async set<T>(key: string, value: T, options: WriteOptions = {}): Promise<void> {
    if (value === undefined) return this.delete(key);
    const text = serializeValue(value, options);
    const name = await fileNameForKey(key);
    await this.#locked(() => this.#write(name, key, text, options.expiresAt));
  }

  async delete(key: string): Promise<void> {
    const name = await fileNameForKey(key);
    await this.#locked(() => this.#remove(name));
  }

  async update<T>(
    key: string,
    fn: (current: T | undefined) => UpdateResult<T> | Promise<UpdateResult<T>>,
  ): Promise<T | undefined> {
    const name = await fileNameForKey(key);
    return await this.#locked(async () => {
      const entry = await this.#read(name, key, true);
      const current = entry && isLive(entry.exp, this.#now()) ? entry.v as T : undefined;
      const next = await fn(current);
      if (next.value === undefined) {
        await this.#remove(name);
      } else {
        await this.#write(name, key, serializeValue(next.value, next), next.expiresAt);
      }
      return next.value;
    });
  }

  async keys(prefix = ""): Promise<string[]> {
    await this.#open();
    const now = this.#now();
    const out: string[] = [];
    for (const name of await this.#entryNames()) {
      const entry = await this.#read(name, undefined, false);
      if (entry && entry.k.startsWith(prefix) && isLive(entry.exp, now)) out.push(entry.k);
    }
    return out.sort();
  }

  async clear(prefix = ""): Promise<void> {
    await this.#locked(async () => {
      for (const name of await this.#entryNames()) {
        const entry = await this.#read(name, undefined, true);
        if (entry && entry.k.startsWith(prefix)) await this.#remove(name);
      }
    });
  }

  /** Run `fn` holding the in-process mutex and the cross-process lock on `<dir>/.lock`. */
  #locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      await this.#open();
      let lock: Deno.FsFile;
      try {
        await prepareDir(this.dir);
        lock = await Deno.open(join(this.dir, LOCK_FILE), {
          read: true,
          write: true,
          create: true,
          mode: FILE_MODE,
        });
      } catch (e) {
        throw notWritable(this.dir, e);
      }
      try {
        await acquire(lock, join(this.dir, LOCK_FILE), this.#lockWaitMs);
        if (!this.#swept) {
          await this.#sweep();
          this.#swept = true;
        }
        this.#held = true;
        return await fn();
      } finally {
        this.#held = false;
        lock.close(); // closing the descriptor releases the lock
      }
    });
  }

  /**
   * Under the lock: drop stale temp files, expired entries and quarantined files older than
   * {@link QUARANTINE_KEEP_MS} (they may hold token fragments), tighten file modes.
   */
  async #sweep(): Promise<void> {
    const now = this.#now();
    const names: string[] = [];
    for await (const e of Deno.readDir(this.dir)) if (e.isFile) names.push(e.name);
    for (const name of names) {
      const path = join(this.dir, name);
      // Every writer holds the lock while its temp file exists, so any temp file now is orphaned.
      if (name.startsWith(TEMP_PREFIX)) {
        await removeIfPresent(path);
        continue;
      }
      const quarantined = /\.corrupt-(\d+)$/.exec(name);
      if (quarantined && now - Number(quarantined[1]) > QUARANTINE_KEEP_MS) {
        await removeIfPresent(path);
        continue;
      }
      await tightenFile(path).catch(ignoreNotFound);
      if (!isEntryFileName(name)) continue;
      try {
        const entry = await this.#read(name, undefined, true);
        if (entry && !isLive(entry.exp, now)) await this.#remove(name);
      } catch {
        // Best effort: a later read of that key reports the problem to its caller.
      }
    }
  }

  /** The entry in file `name`, or undefined when absent or corrupt (then quarantined). */
  async #read(name: string, key: string | undefined, locked: boolean): Promise<Entry | undefined> {
    const path = join(this.dir, name);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
        return undefined; // the store (or its directory) does not exist yet
      }
      const msg = `Could not read cache file ${path}: ${message(e)}`;
      throw new McsError("cache_read_failed", msg, "runtime", { cause: e });
    }
    const parsed = parseEntry(text, path);
    if (typeof parsed !== "string" && (key === undefined || parsed.k === key)) return parsed;
    const reason = typeof parsed === "string" ? parsed : "it holds a different key";
    await this.#quarantine(path, text, reason, locked);
    return undefined;
  }

  /** Move a corrupt file aside and say so once; never fails the caller. */
  async #quarantine(path: string, seen: string, reason: string, locked: boolean): Promise<void> {
    const move = async () => {
      let current: string;
      try {
        current = await Deno.readTextFile(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return; // another process already moved it
        throw e;
      }
      if (current !== seen) return; // a writer replaced it meanwhile
      const dest = `${path}.corrupt-${this.#now()}`;
      await Deno.rename(path, dest);
      this.#warn(
        `mcs: cache file ${path} was unreadable (${reason}); moved it aside to ${dest} and ` +
          "continuing without that entry (other entries are unaffected).",
      );
    };
    try {
      await (locked || this.#held ? move() : this.#locked(move));
    } catch (e) {
      if (this.#reported.has(path)) return;
      this.#reported.add(path);
      this.#warn(
        `mcs: cache file ${path} is unreadable (${reason}) and could not be moved aside ` +
          `(${message(e)}); continuing without that entry. Delete the file to silence this.`,
      );
    }
  }

  /** Write one entry atomically: temp file, fsync, rename, fsync the directory. */
  async #write(name: string, key: string, valueJson: string, exp?: number): Promise<void> {
    const text = `{"ver":${FORMAT_VERSION},"k":${JSON.stringify(key)}` +
      (exp === undefined ? "" : `,"exp":${exp}`) + `,"v":${valueJson}}`;
    const data = utf8.encode(text);
    const tmp = join(this.dir, `${TEMP_PREFIX}${crypto.randomUUID()}`);
    try {
      const file = await Deno.open(tmp, { write: true, createNew: true, mode: FILE_MODE });
      try {
        for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, join(this.dir, name));
    } catch (e) {
      await removeIfPresent(tmp).catch(() => {});
      throw notWritable(this.dir, e);
    }
    await syncDir(this.dir);
  }

  async #remove(name: string): Promise<void> {
    try {
      await removeIfPresent(join(this.dir, name));
    } catch (e) {
      throw notWritable(this.dir, e);
    }
  }

  /** Names of entry files in the directory (none when it does not exist). */
  async #entryNames(): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(this.dir)) {
        if (e.isFile && isEntryFileName(e.name)) names.push(e.name);
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return [];
      const msg = `Could not list cache directory ${this.dir}: ${message(e)}`;
      throw new McsError("cache_read_failed", msg, "runtime", { cause: e });
    }
    return names;
  }
}

/**
 * Take the exclusive lock on `lock`, polling `tryLock` with a growing pause (2 ms up to 50 ms)
 * for at most `waitMs`; then `cache_busy`.
 */
async function acquire(lock: Deno.FsFile, path: string, waitMs: number): Promise<void> {
  const deadline = performance.now() + waitMs;
  for (let pause = 2;; pause = Math.min(pause * 2, 50)) {
    if (await lock.tryLock(true)) return;
    const left = deadline - performance.now();
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(pause, left)));
  }
  const seconds = Math.round(waitMs / 100) / 10;
  throw new McsError(
    "cache_busy",
    `The cache is busy: another process has held its lock ${path} for more than ${seconds} s. ` +
      "Run the command again in a moment. If no other mcs is running, a stuck process holds " +
      `the lock: end it (\`fuser -v ${path}\` names it), or delete ${path} to clear it.`,
    "runtime",
    { retryable: true, details: { lock_file: path, waited_ms: waitMs } },
  );
}

/** Parse a file's text into an entry, or return why it is not one. */
function parseEntry(text: string, path: string): Entry | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return "not valid JSON, probably truncated";
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return "not a cache entry";
  const r = raw as Record<string, unknown>;
  if (typeof r.ver === "number" && r.ver > FORMAT_VERSION) {
    throw new McsError(
      "cache_entry_unsupported_version",
      `Cache file ${path} was written by a newer mcs (format ${r.ver}); upgrade mcs.`,
    );
  }
  if (
    r.ver !== FORMAT_VERSION || typeof r.k !== "string" || !("v" in r) ||
    (r.exp !== undefined && (typeof r.exp !== "number" || !Number.isFinite(r.exp)))
  ) {
    return "not a cache entry";
  }
  return { k: r.k, v: r.v, exp: r.exp as number | undefined };
}

async function removeIfPresent(path: string): Promise<void> {
  await Deno.remove(path).catch(ignoreNotFound);
}

function ignoreNotFound(e: unknown): void {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

/** fsync a directory so a rename survives power loss; best effort (not possible on Windows). */
async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Durability only; atomicity is already guaranteed by the rename.
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
