/**
 * In-process regression tests for the integration bugs the chain tests found between the Auth0
 * provider, the LinkAuth connector and relay, and the emulators. Each would have failed before
 * its fix (noted per test).
 * @module
 */
import { Auth0Provider } from "../../lib/auth/auth0/mod.ts";
import { LinkAuthRelay } from "../../lib/auth/linkauth/mod.ts";
import {
  AuthChallenge,
  type AuthPort,
  type AuthRequest,
  type AuthResult,
} from "../../lib/auth/types.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";
import { startLinkAuthBroker } from "../../lib/emulators/linkauth/mod.ts";
import { McsError } from "../../lib/errors.ts";
import { PermissionDeniedError } from "../../lib/net/errors.ts";
import { assertEquals, assertRejects } from "../support/assert.ts";
import { linkAuthWorld } from "../support/emulators.ts";

/** An AuthPort that records every request and always asks the user to act. */
function recordingPort(): AuthPort & { seen: AuthRequest[] } {
  const seen: AuthRequest[] = [];
  return {
    seen,
    callbackUrl: "http://127.0.0.1:9/callback",
    invalidate: () => Promise.resolve(),
    authenticate(request): Promise<AuthResult> {
      seen.push(request);
      return Promise.reject(
        new AuthChallenge({ message: "act", url: request.url, step: request.step ?? "login" }),
      );
    },
  };
}

// Before: the resume passed only `state`, which LinkAuthConnector (and the loopback connector)
// read as a *login* for scope "gmail:connect": a new broker login session on every run.
Deno.test("Auth0Provider resumes a pending connect with the same url and state", async () => {
  const emu = await startAuth0Emulator();
  try {
    const cache = new MemoryCacheStore();
    const refreshToken = emu.issueRefreshToken();
    const port = recordingPort();
    const provider = () =>
      new Auth0Provider({
        domain: emu.url,
        clientId: emu.clientId,
        clientSecret: emu.clientSecret,
        refreshToken,
        cache,
        auth: port,
      });
    await assertRejects(() => provider().getToken("gmail"), AuthChallenge);
    await assertRejects(() => provider().getToken("gmail"), AuthChallenge);
    const [start, resume] = port.seen;
    assertEquals(port.seen.length, 2);
    assertEquals(start.step, "connect");
    assertEquals([resume.url, resume.state, resume.step], [start.url, start.state, "connect"]);
    assertEquals(emu.countRequests({ path: "/me/v1/connected-accounts/connect" }), 1);
  } finally {
    await emu.close();
  }
});

// Before: a request carrying only `state` was a login (slot `login.<scope>`), so the poll
// created a login session and asked the person to sign in again.
Deno.test("LinkAuthConnector: a passthrough poll by state alone finds its session", async () => {
  await using w = await linkAuthWorld();
  const { clock, broker, connector } = w;
  const start: AuthRequest = {
    scope: "gmail:connect",
    url: "http://127.0.0.1:9/connect?ticket=t1",
    callbackParams: ["connect_code"],
    state: "st-1",
    step: "connect",
  };
  const poll: AuthRequest = { ...start, url: undefined };
  const first = await assertRejects(() => connector.authenticate(start), AuthChallenge);
  clock.t += 6_000;
  const again = await assertRejects(() => connector.authenticate(poll), AuthChallenge);
  assertEquals([again.userCode, again.step], [first.userCode, "connect"]);
  assertEquals(broker.sessions().length, 1);

  await broker.complete(first.userCode!, { connect_code: "cc-1" });
  clock.t += 6_000;
  assertEquals(await connector.authenticate(poll), {
    kind: "callback",
    params: { connect_code: "cc-1" },
  });
  // Handed out once: the flow is gone, reported as "nothing captured" (the caller restarts),
  // and no session (let alone a login) is created without a URL.
  assertEquals(await connector.authenticate(poll), { kind: "callback", params: {} });
  assertEquals(broker.sessions().filter((s) => s.status === "pending").length, 0);
});

// Before: every relay or network-layer error became "Auth0 did not answer normally: retry
// later" (auth0_unavailable), hiding the fix the typed error names.
Deno.test("Auth0 transport: relay and network errors keep their own code", async () => {
  const emu = await startAuth0Emulator();
  const broker = await startLinkAuthBroker({ allowedHosts: ["auth0.example"] });
  try {
    const options = {
      domain: emu.url,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      refreshToken: emu.issueRefreshToken(),
    };
    const relayed = new Auth0Provider({
      ...options,
      cache: new MemoryCacheStore(),
      relay: new LinkAuthRelay({ brokerUrl: broker.url }),
    });
    const notAllowed = await assertRejects(() => relayed.getToken("gmail"), McsError);
    assertEquals(notAllowed.code, "linkauth_proxy_host_not_allowed");
    assertEquals(broker.proxyLog.length, 0);

    const denied = new Auth0Provider({
      ...options,
      cache: new MemoryCacheStore(),
      fetch: () =>
        Promise.reject(new PermissionDeniedError("no --allow-net for Auth0", "--allow-net")),
    });
    const noPermission = await assertRejects(() => denied.getToken("gmail"), McsError);
    assertEquals(noPermission.code, "permission_denied");
    assertEquals(emu.countRequests(), 0);
  } finally {
    await Promise.all([emu.close(), broker.close()]);
  }
});
