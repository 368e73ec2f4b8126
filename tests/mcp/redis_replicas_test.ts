/**
 * Two `mcs mcp` processes on one Redis (`MCS_STORE`) behave as one: the double flow (login, then
 * Connected Accounts consent) started on one replica finishes on the other, both then serve the
 * account without asking again, a replica started while Redis hangs gets `store_unavailable` and
 * then serves the account once Redis is back,
 * neither replica writes its cache directory, and a scan of every value in
 * Redis finds only sealed envelopes: no token in the clear (the Google token is found inside one
 * once opened with the key, so the scan did look at real tokens).
 * @module
 */

import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { startStack } from "../../lib/emulators/stack.ts";
import { parseStoreKeys, Sealer } from "../../lib/cache/seal.ts";
import { encodeBase64 } from "../../lib/encoding/base64.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { dumpStrings, redisServer, startRedis } from "../support/redis.ts";
import { testRequiring } from "../support/requires.ts";
import { callThroughSignIn, stdioClient } from "./_mcp.ts";

testRequiring(redisServer, {
  name: "two mcs mcp replicas on one Redis: a flow crosses them, state is shared and sealed",
  async fn() {
    await using redis = await startRedis({ password: "redis-pw" });
    const stack = await startStack({ pollInterval: 1 });
    const dirs = [
      await Deno.makeTempDir({ prefix: "mcs-replica-a-" }),
      await Deno.makeTempDir({ prefix: "mcs-replica-b-" }),
    ];
    const storeKey = `k1:${encodeBase64(crypto.getRandomValues(new Uint8Array(32)))}`;
    try {
      const envOf = (dir: string) => ({
        ...stack.env,
        MCS_CACHE_DIR: dir,
        MCS_STORE: redis.url,
        MCS_STORE_KEY: storeKey,
      });
      await using a = await stdioClient(envOf(dirs[0]));
      await using b = await stdioClient(envOf(dirs[1]));
      const replicas = [a, b];
      const call = (i: number) =>
        replicas[i % 2].client.callTool({
          name: "search_emails",
          arguments: { query: "from:alice", limit: 2 },
        }) as Promise<CallToolResult>;
      // Alternate: each step is continued on the other replica.
      const { steps, last, round } = await callThroughSignIn(stack, call, { rounds: 14 });
      assertEquals(steps, ["login", "connect"]);
      assert(!last.isError, JSON.stringify(last));
      // Both replicas now serve the account without asking.
      for (const i of [round + 1, round + 2]) {
        const r = await call(i);
        assert(!r.isError, JSON.stringify(r));
      }
      // A third replica starting while Redis hangs: its first call needs the store (warm
      // replicas answer from memory) and fails with store_unavailable within the timeouts; once
      // Redis answers again the same process serves the account from the shared state.
      await using c = await stdioClient(envOf(dirs[0]));
      const search = () =>
        c.client.callTool({
          name: "search_emails",
          arguments: { query: "from:alice", limit: 1 },
        }) as Promise<CallToolResult>;
      redis.pause();
      let hung: CallToolResult;
      try {
        hung = await search();
      } finally {
        redis.resume();
      }
      const text = JSON.stringify(hung);
      assert(hung.isError && text.includes("store_unavailable"), text);
      assert(text.includes(`127.0.0.1:${redis.port}`) && !text.includes("redis-pw"), text);
      const healed = await search();
      assert(!healed.isError, JSON.stringify(healed));
      assert(a.stderr.includes("state store: redis://127.0.0.1:"), a.stderr);
      assert(!a.stderr.includes("redis-pw") && !b.stderr.includes("redis-pw"), "no password");
      // Nothing went to the cache directories.
      for (const dir of dirs) {
        const names: string[] = [];
        for await (const e of Deno.readDir(dir)) names.push(e.name);
        assertEquals(names, [], `${dir} is untouched`);
      }
      // Every Redis value is a sealed envelope; no token is readable.
      const dump = await dumpStrings(redis);
      assert(dump.size > 0);
      const sealer = new Sealer(await parseStoreKeys(storeKey));
      let googleTokenSeen = false;
      // Every string the sealed values hold (tokens, keys, ids), to look for in the raw values:
      // searching the base64 ciphertext for fixed words would match by chance.
      const held = new Set<string>();
      const collect = (x: unknown): void => {
        if (typeof x === "string") {
          if (x.length >= 16) held.add(x);
        } else if (x && typeof x === "object") Object.values(x).forEach(collect);
      };
      for (const [k, v] of dump) {
        assert(/^mcs:(d|canary):/.test(k), `only entries and key canaries remain: ${k}`);
        const env = JSON.parse(v) as Record<string, unknown>;
        assertEquals(
          Object.keys(env).filter((f) => !["v", "kid", "exp", "iv", "ct"].includes(f)),
          [],
          `${k} holds only envelope fields`,
        );
        const { iv: _iv, ct: _ct, ...clear } = env;
        assert(
          !/ya29|eyJ|token|refresh|BEGIN|"d":|"n":/.test(JSON.stringify(clear)),
          `readable content in ${k}`,
        );
        const opened = await sealer.open(k, v);
        assert("json" in opened, `${k} opens with the key`);
        if (opened.json.includes("ya29.emu-")) googleTokenSeen = true;
        collect(JSON.parse(opened.json));
      }
      assert(googleTokenSeen, "the Google token was stored (sealed) in Redis");
      assert([...held].some((x) => x.startsWith("ya29.emu-")), "the Google token is looked for");
      for (const [k, v] of dump) {
        for (const x of held) assert(!v.includes(x), `a stored value is readable in ${k}`);
      }
    } finally {
      await stack.close();
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
  },
});
