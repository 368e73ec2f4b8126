/**
 * The split bundle's layout: the entry's chunk imports are moved under `mcs-chunks/`, nothing
 * else is touched, and output the rewrite cannot handle is refused rather than shipped broken.
 */

import { assertEquals, assertThrows } from "../support/assert.ts";
import { McsError } from "../../lib/errors.ts";
import {
  assertChunksIndependent,
  CHUNK_DIR,
  relocateEntry,
  relocateSideImports,
  sideFile,
} from "../../lib/build/layout.ts";

Deno.test("relocateEntry rewrites static and dynamic chunk imports only", () => {
  const code = `import{a as b}from"./chunk-AB12.js";import"./chunk-EF56.js";` +
    `const m=()=>import("./mail-CD34.js");const s="./not-a-chunk.js";const t='./chunk-AB12.jsx';`;
  assertEquals(
    relocateEntry(code, ["chunk-AB12.js", "chunk-EF56.js", "mail-CD34.js"]),
    `import{a as b}from"./${CHUNK_DIR}/chunk-AB12.js";import"./${CHUNK_DIR}/chunk-EF56.js";` +
      `const m=()=>import("./${CHUNK_DIR}/mail-CD34.js");const s="./not-a-chunk.js";` +
      `const t='./chunk-AB12.jsx';`,
  );
});

Deno.test("relocateEntry treats chunk names literally (a '.' is not a wildcard)", () => {
  assertEquals(
    relocateEntry(`import"./aXjs";import"./a.js"`, ["a.js"]),
    `import"./aXjs";import"./${CHUNK_DIR}/a.js"`,
  );
});

Deno.test("relocateEntry refuses an entry that references none of its chunks", () => {
  const e = assertThrows(() => relocateEntry(`require("chunk-AB12")`, ["chunk-AB12.js"]), McsError);
  assertEquals(e.code, "bundle_layout");
  assertEquals(relocateEntry("x", []), "x");
});

Deno.test("assertChunksIndependent refuses a chunk that imports the entry", () => {
  assertChunksIndependent(new Map([["a.js", `import"./b.js"`]]));
  const e = assertThrows(
    () => assertChunksIndependent(new Map([["a.js", `import{x}from"./main.js"`]])),
    McsError,
  );
  assertEquals(e.code, "bundle_layout");
});

Deno.test("relocateSideImports points import(<pkg>) at ./mcs-<pkg>.js and refuses a missing one", () => {
  const code = `const a=async()=>(await import("html-to-text")).convert;const s="html-to-text";` +
    `import("html-to-textile");`;
  assertEquals(
    relocateSideImports(code, ["html-to-text"]),
    `const a=async()=>(await import("./mcs-html-to-text.js")).convert;const s="html-to-text";` +
      `import("html-to-textile");`,
  );
  assertEquals(sideFile("@scope/pkg"), "mcs-scope-pkg.js");
  const e = assertThrows(() => relocateSideImports(`const s="html-to-text";`, ["html-to-text"]));
  assertEquals((e as McsError).code, "bundle_layout");
});
