/**
 * Cold start is a headline figure: the modules `mcs --version` and `mcs tools --json` load
 * (the static import closure of the entry point and of the `tools` command) must not include
 * auth, Gmail, network, cache or emulator code, nor any npm package, nor any `node:` built-in
 * (importing one initialises Deno's Node compatibility layer: ~10 ms and ~6 MB measured). The
 * cache, loaded by every Gmail command, must not import `node:` either. Checked on the module
 * graph (`deno info --json`), following only static imports. The MCP SDK, needed only by
 * `mcs mcp` and `mcs serve`, is not even reachable through dynamic imports from `tools` and
 * `exec`.
 * @module
 */

import { assert } from "../support/assert.ts";
import { ROOT_PATH } from "./_mcs.ts";

interface Info {
  modules: {
    specifier: string;
    dependencies?: { code?: { specifier?: string }; isDynamic?: boolean }[];
  }[];
}

async function staticClosure(entry: string, followDynamic = false): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", `${ROOT_PATH}/deno.json`, entry],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "null",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as Info;
  const byUrl = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const visit = (url: string) => {
    if (seen.has(url)) return;
    seen.add(url);
    for (const d of byUrl.get(url)?.dependencies ?? []) {
      if ((followDynamic || !d.isDynamic) && d.code?.specifier) visit(d.code.specifier);
    }
  };
  visit(new URL(entry, `file://${ROOT_PATH}/`).href);
  return [...seen].map((u) => u.replace(`file://${ROOT_PATH}/`, ""));
}

const HEAVY =
  /^lib\/(auth\/(?!types\.ts)|gmail\/|net\/|cache\/|emulators\/|app\/)|^npm:|^https?:|^node:/;

for (const entry of ["cli/main.ts", "cli/commands/tools.ts"]) {
  Deno.test(`${entry} loads no auth, Gmail, network, cache or emulator module statically`, async () => {
    const mods = await staticClosure(entry);
    assert(mods.length > 1, mods.join());
    const heavy = mods.filter((m) => HEAVY.test(m));
    assert(heavy.length === 0, `heavy static imports: ${heavy.join(", ")}`);
  });
}

Deno.test("lib/cache/mod.ts (on every Gmail command's path) imports no node: built-in", async () => {
  const mods = await staticClosure("lib/cache/mod.ts");
  assert(mods.length > 1, mods.join());
  const node = mods.filter((m) => m.startsWith("node:"));
  assert(node.length === 0, `node: imports: ${node.join(", ")}`);
});

const MCP = /modelcontextprotocol|^lib\/mcp\//;
/** The Redis client and the shared-store modules: only `mcs mcp`/`mcs serve` with MCS_STORE. */
const REDIS = /@redis\/client|^lib\/cache\/(redis_store|redis_connection|open|seal)\.ts$/;

/** What the plain commands never reach: the test name's end, the modules, their label. */
const NEVER: [string, RegExp, string][] = [
  ["does not load the MCP SDK", MCP, "MCP"],
  ["cannot load the Redis client or the shared store", REDIS, "Redis"],
];

for (const [what, pattern, label] of NEVER) {
  for (const entry of ["cli/main.ts", "cli/commands/tools.ts", "cli/commands/exec.ts"]) {
    Deno.test(`${entry} ${what}`, async () => {
      // main.ts reaches every command through dynamic imports: static imports only. tools and
      // exec: everything they can load, dynamic imports included.
      const mods = await staticClosure(entry, entry !== "cli/main.ts");
      assert(mods.length > 1, mods.join());
      const found = mods.filter((m) => pattern.test(m));
      assert(found.length === 0, `${label} modules reachable: ${found.join(", ")}`);
    });
  }
}

Deno.test("the check sees the MCP SDK where it is loaded (mcs mcp)", async () => {
  const mods = await staticClosure("cli/commands/mcp.ts", true);
  assert(mods.some((m) => /modelcontextprotocol/.test(m)), "cli/commands/mcp.ts reaches the SDK");
});

Deno.test("mcs mcp reaches the Redis client only through a dynamic import", async () => {
  const all = await staticClosure("cli/commands/mcp.ts", true);
  assert(all.some((m) => /@redis\/client/.test(m)), "cli/commands/mcp.ts reaches @redis/client");
  const eager = await staticClosure("cli/commands/mcp.ts");
  const redis = eager.filter((m) => REDIS.test(m));
  assert(redis.length === 0, `Redis modules loaded statically: ${redis.join(", ")}`);
});
