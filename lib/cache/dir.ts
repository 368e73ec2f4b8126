/**
 * Where the cache lives, and proof that it is usable.
 *
 * - {@link resolveCacheDir}: `MCS_CACHE_DIR`, else `$XDG_CACHE_HOME/mcs`, else `$HOME/.mcs/cache`.
 * - {@link ensureWritable}: creates the directory (`0700`; group/other access is removed from an
 *   existing one) and proves a file can be created, written and removed there, or throws
 *   `ConfigError("cache_dir_not_writable")`. Only commands that persist state call it, so
 *   read-only commands keep working on read-only file systems.
 *
 * @example
 * ```ts
 * import { ensureWritable, resolveCacheDir } from "./dir.ts";
 * import { denoEnv } from "../config/env.ts";
 * const dir = resolveCacheDir(denoEnv); // e.g. "/home/me/.cache/mcs"
 * await ensureWritable(dir); // throws ConfigError naming dir and MCS_CACHE_DIR if unusable
 * ```
 * @module
 */

import { isAbsolutePath as isAbsolute, joinPath as join } from "./path.ts";
import { ConfigError } from "../errors.ts";

/** Directory mode: owner only. */
export const DIR_MODE = 0o700;
/** File mode: owner read/write only. */
export const FILE_MODE = 0o600;

const POSIX = Deno.build.os !== "windows";

/** Anything with `get(name)`; empty strings count as unset. */
export interface EnvLike {
  get(name: string): string | undefined;
}

/**
 * The cache directory from the environment: `MCS_CACHE_DIR` (used as given), else
 * `$XDG_CACHE_HOME/mcs` (only when absolute, as the XDG spec requires), else `$HOME/.mcs/cache`.
 * Throws `ConfigError("cache_dir_unresolved")` when none is set.
 */
export function resolveCacheDir(env: EnvLike): string {
  const read = (name: string) => {
    const v = env.get(name);
    return v === undefined || v === "" ? undefined : v;
  };
  const explicit = read("MCS_CACHE_DIR");
  if (explicit) return explicit;
  const xdg = read("XDG_CACHE_HOME");
  if (xdg && isAbsolute(xdg)) return join(xdg, "mcs");
  const home = read("HOME");
  if (home) return join(home, ".mcs", "cache");
  throw new ConfigError(
    "cache_dir_unresolved",
    "Cannot determine the cache directory: set MCS_CACHE_DIR to a writable directory " +
      "(or set HOME).",
  );
}

/**
 * Create `dir` (and missing parents) with mode `0700`, and tighten an existing `dir` by removing
 * every group/other permission (`0755` → `0700`). Owner bits are never added, so a directory the
 * owner made read-only stays read-only. A shared sticky directory such as `/tmp` is left alone
 * (entry files are `0600` regardless). Errors propagate as raised by Deno.
 */
export async function prepareDir(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (!POSIX) return;
  const { mode } = await Deno.stat(dir);
  if (mode !== null && (mode & 0o1000) === 0 && (mode & 0o077) !== 0) {
    await Deno.chmod(dir, mode & DIR_MODE);
  }
}

/** Remove group/other permissions and execute bits from a file (`0644` → `0600`; no-op on Windows). */
export async function tightenFile(path: string): Promise<void> {
  if (!POSIX) return;
  const { mode } = await Deno.lstat(path);
  if (mode !== null && (mode & 0o777 & ~FILE_MODE) !== 0) await Deno.chmod(path, mode & FILE_MODE);
}

/**
 * Tighten an existing store in place: the directory as {@link prepareDir} would (without creating
 * it) and every file in it as {@link tightenFile}. Best effort and silent: a read-only file
 * system or a file owned by someone else is left as it is (the next write reports real problems).
 */
export async function tightenExisting(dir: string): Promise<void> {
  if (!POSIX) return;
  try {
    const { mode, isDirectory } = await Deno.stat(dir);
    if (!isDirectory) return;
    if (mode !== null && (mode & 0o1000) === 0 && (mode & 0o077) !== 0) {
      await Deno.chmod(dir, mode & DIR_MODE).catch(() => {});
    }
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile) await tightenFile(join(dir, e.name)).catch(() => {});
    }
  } catch {
    // Absent or unreadable: nothing to tighten.
  }
}

/** The error every unusable-directory failure becomes. */
export function notWritable(dir: string, cause: unknown): ConfigError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ConfigError(
    "cache_dir_not_writable",
    `Cache directory ${dir} is not writable (${reason}). ` +
      "Set MCS_CACHE_DIR to a writable directory.",
    { cause, details: { dir } },
  );
}

/**
 * Prove that `dir` can hold the cache: create it (`0700`), then create, write and remove a probe
 * file. Throws `ConfigError("cache_dir_not_writable")` naming `dir` and `MCS_CACHE_DIR` otherwise.
 *
 * Fast path (POSIX), taken by every command once the cache exists: a directory already at mode
 * `0700` is proven writable by setting that same mode again. `chmod` needs Deno's write
 * permission for `dir`, succeeds only for its owner (who holds `rwx` there) or root, and fails on
 * a read-only file system, which covers what the probe file proves, without creating a file or
 * changing the directory's contents or modification time. Any failure there falls back to the
 * probe, so the error reported is the probe's.
 */
export async function ensureWritable(dir: string): Promise<void> {
  if (POSIX && await alreadyWritable(dir)) return;
  const probe = join(dir, `.probe-${crypto.randomUUID()}`);
  try {
    await prepareDir(dir);
    await Deno.writeFile(probe, new Uint8Array([1]), { createNew: true, mode: FILE_MODE });
    await Deno.remove(probe);
  } catch (e) {
    throw notWritable(dir, e);
  }
}

/** The fast path of {@link ensureWritable}: `dir` is an existing `0700` directory we may chmod. */
async function alreadyWritable(dir: string): Promise<boolean> {
  try {
    const { isDirectory, mode } = await Deno.stat(dir);
    if (!isDirectory || mode === null || (mode & 0o777) !== DIR_MODE) return false;
    await Deno.chmod(dir, mode & 0o7777);
    return true;
  } catch {
    return false;
  }
}
