/**
 * Two implementations, not one: the LinkAuth emulator and the production broker import no mcs
 * client code (`lib/auth`, `lib/gmail`, ...). The emulator is a thin in-memory front over the
 * broker's shared protocol modules (`lib/broker`), which the allow-lists below name on purpose;
 * the broker reaches only its own modules, the cache port and stores (with the Redis store's
 * base64), and network infrastructure (`lib/net/ip.ts`, `lib/net/types.ts`, `lib/net/read_capped.ts`), never a client protocol module.
 * @module
 */
import { assert } from "../support/assert.ts";
import { importGraph } from "../support/import_graph.ts";

const SHARED_INFRA = [
  "lib/net/types.ts",
  "lib/net/ip.ts",
  "lib/net/read_capped.ts",
  "lib/errors.ts",
];

Deno.test("the LinkAuth emulator imports no client code: only itself and lib/broker", async () => {
  const graph = await importGraph("lib/emulators/linkauth/mod.ts");
  assert(graph.size > 5);
  assert([...graph.keys()].some((f) => f.startsWith("lib/broker/")), "shares lib/broker");
  for (const file of graph.keys()) {
    assert(
      file.startsWith("lib/emulators/linkauth/") ||
        (file.startsWith("lib/broker/") &&
          !/^lib\/broker\/(handler|server|state|config|store|mod)\.ts$/.test(file)) ||
        SHARED_INFRA.includes(file),
      `the emulator reaches ${file}`,
    );
  }
  const bare = [...graph.values()].flat().filter((s) => !s.startsWith("."));
  assert(bare.length === 0, `unexpected dependencies ${bare}`);
});

Deno.test("the production broker imports no client protocol code", async () => {
  for (const entry of ["lib/broker/entry.ts", "cli/commands/broker.ts"]) {
    const graph = await importGraph(entry, { types: false });
    for (const file of graph.keys()) {
      assert(
        file.startsWith("lib/broker/") || file.startsWith("lib/cache/") ||
          SHARED_INFRA.includes(file) || file === "cli/commands/broker.ts" ||
          // The --port parser and listen-grant error shared with `mcs serve` (no protocol).
          file === "cli/listen.ts" ||
          // The stores (lib/cache/seal.ts for MCS_STORE, file names in lib/cache/file_name.ts)
          // encode with them; the broker's own envelope and session code does not.
          file === "lib/encoding/base64.ts" || file === "lib/encoding/hex.ts" ||
          file === "deno.json",
        `${entry} reaches ${file}`,
      );
      assert(!file.startsWith("lib/auth/"), `${entry} reaches client code ${file}`);
    }
  }
});
