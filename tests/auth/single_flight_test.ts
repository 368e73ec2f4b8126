/**
 * Concurrent `getToken(scope)` calls share one flow inside each provider: one Token Vault
 * exchange at the Auth0 emulator, one broker authentication for LinkAuth; and the helper itself.
 * @module
 */
import { Auth0Provider, TOKEN_VAULT_GRANT } from "../../lib/auth/auth0/mod.ts";
import { LinkAuthProvider } from "../../lib/auth/linkauth/provider.ts";
import { SingleFlight } from "../../lib/auth/single_flight.ts";
import { AuthChallenge, type AuthPort, type AuthRequest } from "../../lib/auth/types.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";

Deno.test("SingleFlight: concurrent calls per key share one run; settled flights start anew", async () => {
  const flights = new SingleFlight<number>();
  let calls = 0;
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const slow = async () => {
    calls++;
    await gate;
    return calls;
  };
  const a = flights.run("gmail", slow);
  const b = flights.run("gmail", slow);
  const other = flights.run("drive", slow);
  release();
  assertEquals(await Promise.all([a, b, other]), [2, 2, 2]);
  assertEquals(calls, 2);
  assertEquals(await flights.run("gmail", slow), 3);
  const failing = () => Promise.reject(new Error("boom"));
  const [e1, e2] = await Promise.allSettled([
    flights.run("x", failing),
    flights.run("x", failing),
  ]);
  assertEquals([e1.status, e2.status], ["rejected", "rejected"]);
  assertEquals(await flights.run("x", () => Promise.resolve(7)), 7);
});

Deno.test("Auth0Provider: two concurrent getToken calls make one Token Vault exchange", async () => {
  const emu = await startAuth0Emulator();
  try {
    emu.connectAccount();
    const provider = new Auth0Provider({
      domain: emu.url,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      refreshToken: emu.issueRefreshToken(),
      cache: new MemoryCacheStore(),
    });
    const [a, b] = await Promise.all([provider.getToken("gmail"), provider.getToken("gmail")]);
    assert(a.length > 0, "a Google access token");
    assertEquals(b, a);
    assertEquals(emu.countRequests({ grantType: TOKEN_VAULT_GRANT }), 1);
  } finally {
    await emu.close();
  }
});

Deno.test("LinkAuthProvider: concurrent calls share one broker flow and its challenge", async () => {
  const seen: AuthRequest[] = [];
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const port: AuthPort = {
    async authenticate(request) {
      seen.push(request);
      await gate;
      throw new AuthChallenge({
        message: "Open the link.",
        url: "https://b/connect/C",
        step: "login",
      });
    },
    invalidate: () => Promise.resolve(),
  };
  const provider = new LinkAuthProvider({ connector: port });
  const both = Promise.allSettled([provider.getToken("gmail"), provider.getToken("gmail")]);
  release();
  const [a, b] = await both;
  assert(a.status === "rejected" && b.status === "rejected");
  assertEquals(a.reason, b.reason);
  assert(a.reason instanceof AuthChallenge);
  assertEquals(seen.length, 1);
  await assertRejects(() => provider.getToken("gmail"), AuthChallenge);
  assertEquals(seen.length, 2);
});
