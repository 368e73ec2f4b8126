import { assert, assertEquals, assertRejects, assertStringIncludes } from "../support/assert.ts";
import { McsError } from "../../lib/errors.ts";
import {
  denortMissingError,
  denortZipPath,
  explainCompileFailure,
  locateDenort,
} from "../../lib/build/denort.ts";

const T = "x86_64-unknown-linux-gnu";

Deno.test("locateDenort: DENORT_BIN, then the cached zip, else nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = { env: {}, denoDir: dir, version: "2.9.6", target: T };
    assertEquals(await locateDenort(base), undefined);
    const zip = denortZipPath(dir, "2.9.6", T);
    assertEquals(zip, `${dir}/dl/release/v2.9.6/denort-${T}.zip`);
    await Deno.mkdir(`${dir}/dl/release/v2.9.6`, { recursive: true });
    await Deno.writeFile(zip, new Uint8Array([0x50, 0x4b]));
    assertEquals(await locateDenort(base), { kind: "cached-zip", path: zip });
    const bin = `${dir}/denort`;
    await Deno.writeFile(bin, new Uint8Array([1]));
    assertEquals(await locateDenort({ ...base, env: { DENORT_BIN: bin } }), {
      kind: "env",
      path: bin,
    });
    const e = await assertRejects(
      () => locateDenort({ ...base, env: { DENORT_BIN: `${dir}/missing` } }),
      McsError,
    );
    assertEquals((e as McsError).code, "denort_bin_invalid");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const opts = { env: {}, denoDir: "/dd", version: "2.9.6", target: T };

Deno.test("the missing-denort message says both ways to provide it", () => {
  const e = denortMissingError(opts);
  assertEquals(e.code, "denort_missing");
  assertEquals(e.category, "config");
  assertStringIncludes(e.message, "DENORT_BIN=");
  assertStringIncludes(e.message, `/dd/dl/release/v2.9.6/denort-${T}.zip`);
  assertStringIncludes(e.message, "deno task bundle");
});

// Real stderr of deno 2.9.6 (captured here) for the three failure shapes.
const DOWNLOAD = `\x1b[0m\x1b[32mCompile\x1b[0m h.ts to h
\x1b[0m\x1b[32mDownload\x1b[0m https://dl.deno.land/release/v2.9.6/denort-${T}.zip
\x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Writing deno compile executable to temporary file 'h.tmp-1'

Caused by:
    0: Setting up base binary.
    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-${T}.zip): client error (Connect): dns error
Stack backtrace:
   0: <unknown>`;
const NOT_FOUND = `error: Writing deno compile executable to temporary file 'h.tmp-2'

Caused by:
    0: Could not find denort at '/nonexist'`;
const NOT_ELF = `error: Writing deno compile executable to temporary file 'h.tmp-3'

Caused by:
    0: Writing binary bytes
    1: Invalid object: Not an ELF file`;

Deno.test("explainCompileFailure translates deno's raw errors", () => {
  assertEquals(explainCompileFailure(DOWNLOAD, opts).code, "denort_missing");
  const nf = explainCompileFailure(NOT_FOUND, { ...opts, env: { DENORT_BIN: "/nonexist" } });
  assertEquals(nf.code, "denort_bin_invalid");
  assertStringIncludes(nf.message, "/nonexist");
  const elf = explainCompileFailure(NOT_ELF, opts);
  assertEquals(elf.code, "denort_bin_invalid");
  assertStringIncludes(elf.message, "not a denort executable");
  const other = explainCompileFailure(
    "error: Type error in cli/main.ts\n  access_token=abc123 leaked",
    opts,
  );
  assertEquals(other.code, "compile_failed");
  assert(!other.message.includes("abc123"), "compile output is redacted");
});
