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

/**
 * npm packages that the one-file bundle keeps in a file of their own next to `mcs.js`
 * (`mcs-<name>.js`), because only a rare path imports them (lazily) and V8 would otherwise read
 * them on every start: html-to-text (about 190 KiB, 45% of the file) converts HTML-only mail
 * when it is read; `mcp-sdk` (lib/mcp/sdk.ts, the MCP SDK's values, about 290 KiB) serves only
 * `mcs mcp` and `mcs serve`; oauth4webapi serves only Auth0 grants and sign-ins (a command
 * whose Google token is cached never needs it); uqr draws the sign-in QR code; smol-toml reads a
 * config file (most runs have none); `@redis/client` serves only a server whose state is on Redis
 * (`MCS_STORE`); `mcs-broker` (lib/broker/entry.ts, about 70 KiB) serves only
 * `mcs broker serve` (it loads the Redis client from that package's file, only with `MCS_STORE`:
 * side files keep the other side packages external too). A local module qualifies when it is mapped to a bare name in
 * deno.json and re-exports a package that mcs's own code uses through it alone. A package here must be imported only with a dynamic `import("<name>")` and
 * share no state with mcs (it is a separate module graph).
 */
export const SIDE_PACKAGES: readonly string[] = [
  "html-to-text",
  "mcp-sdk",
  "oauth4webapi",
  "uqr",
  "smol-toml",
  "@redis/client",
  "mcs-broker",
];

/** The file a side package is bundled into (next to `mcs.js`). */
export function sideFile(pkg: string): string {
  return `mcs-${pkg.replace(/^@/, "").replace(/[^A-Za-z0-9.-]/g, "-")}.js`;
}

/**
 * Point the one-file bundle's `import("<pkg>")` of each side package (left external) at
 * `./mcs-<pkg>.js`. With `onlyPresent` (a side file, which imports some side packages of its
 * own, e.g. the broker the Redis client), packages it does not import are skipped.
 * @throws {McsError} `bundle_layout` when a package's import is not found exactly in that form
 * (the bundler's output changed; the program would fail when it needs the package).
 */
export function relocateSideImports(
  code: string,
  packages: readonly string[],
  options: { onlyPresent?: boolean } = {},
): string {
  let out = code;
  for (const pkg of packages) {
    const re = new RegExp(`import\\((["'\`])${escape(pkg)}\\1\\)`, "g");
    let n = 0;
    out = out.replace(re, (_m, q) => {
      n++;
      return `import(${q}./${sideFile(pkg)}${q})`;
    });
    if (n === 0 && !options.onlyPresent) {
      throw new McsError(
        "bundle_layout",
        `The bundle does not import ${pkg} as import("${pkg}"); the bundler's output format ` +
          "changed. Update SIDE_PACKAGES in lib/build/layout.ts.",
      );
    }
  }
  return out;
}

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
