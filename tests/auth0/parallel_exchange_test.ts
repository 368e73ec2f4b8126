/**
 * Parallel first calls (issue 10, defect 7): 8 processes with an empty cache, all asking at the
 * same moment, make exactly one Token Vault exchange; the others wait on the lease and read the
 * token the first one stored. The same with the processes as replicas on one Redis.
 * @module
 */
import { startAuth0Emulator, TOKEN_VAULT_GRANT } from "../../lib/emulators/auth0/server.ts";
import { assertEquals } from "../support/assert.ts";
import { runDenoJson } from "../support/process.ts";
import type { ChildInput } from "./fixtures/child.ts";
import { redisServer, startRedis } from "../support/redis.ts";
import { testRequiring } from "../support/requires.ts";
import { encodeBase64 } from "../../lib/encoding/base64.ts";

const CHILD = new URL("./fixtures/child.ts", import.meta.url).pathname;
const N = 8;

Deno.test(`${N} processes on an empty cache make one Token Vault exchange`, () => parallel());

testRequiring(redisServer, {
  name: `${N} processes as replicas on one empty Redis make one Token Vault exchange`,
  async fn() {
    await using redis = await startRedis();
    await parallel({
      MCS_STORE: redis.url,
      MCS_STORE_KEY: `k1:${encodeBase64(crypto.getRandomValues(new Uint8Array(32)))}`,
    });
    // The token the exchange produced lives in Redis (sealed), not in a cache directory.
    const [, keys] = await redis.command("SCAN", "0", "MATCH", "mcs:d:*", "COUNT", "1000") as [
      string,
      string[],
    ];
    assertEquals(keys.length > 0, true, "state in Redis");
  },
});

async function parallel(store?: Record<string, string>) {
  // Latency keeps the first exchange in flight while the others ask.
  const emu = await startAuth0Emulator({ config: { latencyMs: 300 } });
  const dir = await Deno.makeTempDir({ prefix: "mcs-parallel-vault-" });
  try {
    const rt = emu.issueRefreshToken();
    emu.connectAccount();
    const base: ChildInput = {
      cacheDir: `${dir}/cache`,
      portFile: `${dir}/port.json`,
      domain: emu.url,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      scope: "gmail",
      refreshToken: rt,
      noPort: true,
      store,
    };
    await Deno.mkdir(`${dir}/barrier`);
    const runs = Array.from(
      { length: N },
      (_, id) =>
        runDenoJson<{ ok?: boolean; token?: string; error?: unknown }>(CHILD, {
          perms: ["--allow-net=127.0.0.1", "--allow-read", "--allow-write", "--allow-env"],
          input: { ...base, barrier: { dir: `${dir}/barrier`, id } },
        }),
    );
    for (;;) {
      const ready = [...Deno.readDirSync(`${dir}/barrier`)].length;
      if (ready >= N) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await Deno.writeTextFile(`${dir}/barrier/go`, "");
    const outs = await Promise.all(runs);
    for (const o of outs) assertEquals(o.ok, true, JSON.stringify(o));
    assertEquals(new Set(outs.map((o) => o.token)).size, 1, "one token for all");
    assertEquals(emu.countRequests({ grantType: TOKEN_VAULT_GRANT }), 1, "one exchange");
    if (store) {
      const used = await Deno.stat(`${dir}/cache`).then(() => true, () => false);
      assertEquals(used, false, "with a shared store, no cache directory is written");
    }
  } finally {
    await emu.close();
    await Deno.remove(dir, { recursive: true });
  }
}
