/**
 * `lib/cache/path.ts` agrees with `node:path` on every form the cache builds (a directory from
 * the environment, with or without trailing separators, joined with plain file names).
 */

import { isAbsolute, join } from "node:path";
import { isAbsolutePath, joinPath } from "../../lib/cache/path.ts";
import { assertEquals } from "../support/assert.ts";

const DIRS = ["/h", "/h/", "/", "/var/cache/mcs", "relative", "rel/dir/", "/tmp/a b", "/x/.mcs"];
const NAMES = [["mcs"], [".mcs", "cache"], [".lock"], ["h-0a1b.json"], [".tmp-1234"]];

Deno.test("joinPath matches node:path join for the cache's paths", () => {
  for (const dir of DIRS) {
    for (const names of NAMES) {
      assertEquals(joinPath(dir, ...names), join(dir, ...names), `${dir} + ${names}`);
    }
  }
  assertEquals(joinPath("", "x"), join("", "x"));
});

Deno.test("isAbsolutePath matches node:path isAbsolute", () => {
  for (const p of [...DIRS, "", ".", "./x", "~/x", "//srv/share"]) {
    assertEquals(isAbsolutePath(p), isAbsolute(p), p);
  }
});
