/**
 * Refresh token rotation across replicas on one Redis: each exchange rotates the refresh token
 * (the tenant reuses-detects: presenting a spent one revokes the family), and replicas taking
 * turns always present the newest one, which the previous replica stored. Also: neither the
 * configured refresh token nor a Google token appears in Redis in the clear.
 * @module
 */
import { Auth0Provider } from "../../lib/auth/auth0/mod.ts";
import { startAuth0Emulator, TOKEN_VAULT_GRANT } from "../../lib/emulators/auth0/server.ts";
import { RedisCacheStore } from "../../lib/cache/redis_store.ts";
import { connectRedis } from "../../lib/cache/redis_connection.ts";
import { parseStoreKeys, Sealer } from "../../lib/cache/seal.ts";
import { encodeBase64 } from "../../lib/encoding/base64.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { dumpStrings, redisServer, startRedis } from "../support/redis.ts";
import { testRequiring } from "../support/requires.ts";
import { ScriptedPort } from "./fixtures/scripted_port.ts";

testRequiring(redisServer, {
  name: "a refresh token rotated by one replica is the one the other replica uses next",
  async fn() {
    await using redis = await startRedis();
    const emu = await startAuth0Emulator({
      config: { refreshTokenRotation: true },
      guesses: { tokenVaultUnderRotation: "rotates" },
    });
    const dir = await Deno.makeTempDir({ prefix: "mcs-redis-rotation-" });
    const sealer = new Sealer(
      await parseStoreKeys(`k1:${encodeBase64(crypto.getRandomValues(new Uint8Array(32)))}`),
    );
    const conns = [connectRedis(redis.url), connectRedis(redis.url)];
    try {
      const stores = conns.map((c) => new RedisCacheStore(c, { sealer }));
      const rt = emu.issueRefreshToken();
      const provider = (i: number) =>
        new Auth0Provider({
          domain: emu.url,
          clientId: emu.clientId,
          clientSecret: emu.clientSecret,
          cache: stores[i % 2],
          refreshToken: rt,
          auth: new ScriptedPort({
            file: `${dir}/port.json`,
            domain: emu.url,
            clientId: emu.clientId,
            clientSecret: emu.clientSecret,
          }),
        });
      // Not connected yet: the connect step's exchange already rotates the configured token.
      let challenged = false;
      await provider(0).getToken("gmail").catch(() => challenged = true);
      assert(challenged, "the consent challenge");
      emu.connectAccount();
      const tokens: string[] = [];
      const before = emu.countRequests({ grantType: TOKEN_VAULT_GRANT });
      for (let turn = 1; turn <= 4; turn++) {
        const p = provider(turn); // a fresh "process" on the other replica each time
        await p.invalidate("gmail"); // force an exchange, hence a rotation
        tokens.push(await p.getToken("gmail"));
      }
      // Each turn exchanged (and rotated) with the newest refresh token: a spent one would
      // have revoked the family and failed the turn.
      assertEquals(emu.countRequests({ grantType: TOKEN_VAULT_GRANT }) - before, 4);
      const dump = await dumpStrings(redis);
      for (const [k, v] of dump) {
        assert(!v.includes(rt), `the configured refresh token in the clear at ${k}`);
        for (const t of tokens) assert(!v.includes(t), `a Google token in the clear at ${k}`);
      }
    } finally {
      for (const c of conns) await c.close();
      await emu.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
