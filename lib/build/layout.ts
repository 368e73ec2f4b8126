/**
 * The bundle's file layout: `deno bundle --code-splitting` writes the entry (`main.js`) next to
 * its chunks; mcs ships the entry as `dist/mcs.js` and the chunks in `dist/mcs-chunks/`, so
 * `dist/` keeps its few well-known files and a rebuild replaces the chunk folder wholesale.
 *
 * Why split at all: a single-file bundle inlines every lazy `import()` (auth, Gmail, emulators,
 * html-to-text), so V8 parsed ~770 KB on every start; measured on deno 2.9.6, `mcs --version`
 * took ~42 ms from the single file against ~26 ms from a 16 KB entry whose commands load their
 * chunk only when they run.
 *
 * @example
 * ```ts
 * import { relocateEntry } from "./layout.ts";
 * relocateEntry(`import{a}from"./chunk-AB12.js";await import("./mail-CD34.js")`, [
 *   "chunk-AB12.js",
 *   "mail-CD34.js",
 * ]);
 * // `import{a}from"./mcs-chunks/chunk-AB12.js";await import("./mcs-chunks/mail-CD34.js")`
 * ```
 * @module
 */

import { McsError } from "../errors.ts";

/** Folder (next to `mcs.js`) that holds the chunks. */
export const CHUNK_DIR = "mcs-chunks";

/** The entry file name `deno bundle` gives `cli/main.ts`. */
export const BUNDLER_ENTRY = "main.js";

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Rewrite the entry's relative imports of `chunks` (`"./x.js"`, as the bundler emits them) to
 * `"./mcs-chunks/x.js"`. Only exact string literals naming an emitted chunk are touched.
 * @throws {McsError} `bundle_layout` when a chunk is never referenced (the bundler's output
 * format changed and the rewrite would produce a broken program).
 */
export function relocateEntry(code: string, chunks: readonly string[]): string {
  if (chunks.length === 0) return code;
  const names = chunks.map(escape).join("|");
  const seen = new Set<string>();
  const out = code.replace(new RegExp(`(["'\`])\\./(${names})\\1`, "g"), (_m, q, name) => {
    seen.add(name);
    return `${q}./${CHUNK_DIR}/${name}${q}`;
  });
  if (seen.size === 0) {
    throw new McsError(
      "bundle_layout",
      `The bundle entry imports none of its ${chunks.length} chunks in the expected form ("./<chunk>.js"); ` +
        "the bundler's output format changed. Rebuild without code splitting or update lib/build/layout.ts.",
    );
  }
  return out;
}

/**
 * Check that no chunk imports the entry (esbuild never emits that, but moving the entry to
 * another folder would break such an import silently).
 * @throws {McsError} `bundle_layout` naming the chunk.
 */
export function assertChunksIndependent(chunkCode: ReadonlyMap<string, string>): void {
  const entryRef = new RegExp(`["'\`]\\./${escape(BUNDLER_ENTRY)}["'\`]`);
  for (const [name, code] of chunkCode) {
    if (entryRef.test(code)) {
      throw new McsError(
        "bundle_layout",
        `Chunk ${name} imports the entry ${BUNDLER_ENTRY}; the split layout cannot move it.`,
      );
    }
  }
}
