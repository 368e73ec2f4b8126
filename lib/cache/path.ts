/**
 * The two path helpers the cache needs, without `node:path`: importing any `node:` module
 * initialises Deno's Node compatibility layer, which measured ~10 ms and ~6 MB on every
 * Gmail command's cold start (deno 2.9.6), more than the whole cache costs otherwise.
 * `tests/cache/path_test.ts` checks them against `node:path` on the forms the cache uses.
 *
 * @example
 * ```ts
 * import { isAbsolutePath, joinPath } from "./path.ts";
 * joinPath("/home/ada/", ".mcs", "cache"); // "/home/ada/.mcs/cache" (on POSIX)
 * isAbsolutePath("relative"); // false
 * ```
 * @module
 */

const WINDOWS = Deno.build.os === "windows";
const SEP = WINDOWS ? "\\" : "/";

/** `dir` followed by `names`, one separator between parts (no `.`/`..` folding needed here). */
export function joinPath(dir: string, ...names: string[]): string {
  let out = dir;
  for (const name of names) {
    const endsWithSep = out.endsWith("/") || (WINDOWS && out.endsWith("\\"));
    out = out === "" || endsWithSep ? out + name : `${out}${SEP}${name}`;
  }
  return out;
}

/** Whether `path` is absolute on this platform (`/x`; on Windows also `C:\\x` and `\\\\server`). */
export function isAbsolutePath(path: string): boolean {
  return WINDOWS ? /^([A-Za-z]:)?[\\/]/.test(path) : path.startsWith("/");
}
