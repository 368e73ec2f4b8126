/**
 * `mcs serve` under a net grant that does not include its listen address (a least-privilege
 * build made without `--allow-host HOST:PORT`): it stops with `permission_denied` and a message
 * that names the address and the rebuild that grants it, instead of Deno's bare flag advice.
 * @module
 */

import { mcs } from "../cli/_mcs.ts";
import { assertEquals, assertStringIncludes } from "../support/assert.ts";

Deno.test("mcs serve without a net grant for its address says how to build one that has it", async () => {
  const perms = ["--allow-net=127.0.0.1:1", "--allow-read", "--allow-env"];
  const r = await mcs(["serve", "--port", "18799"], { perms, env: { MCS_AUTH: "static" } });
  assertEquals(r.code, 1, r.stderr);
  assertStringIncludes(r.stderr, "may not listen on 127.0.0.1:18799");
  assertStringIncludes(r.stderr, "deno task bundle --allow-host 127.0.0.1:18799");
  const json = await mcs(["serve", "--port", "18799", "--json"], {
    perms,
    env: { MCS_AUTH: "static" },
  });
  const doc = JSON.parse(json.stdout);
  assertEquals(doc.error.code, "permission_denied");
  assertEquals(doc.error.details, {
    listen: "127.0.0.1:18799",
    permission: "--allow-net=127.0.0.1:18799",
  });
});
