/**
 * The full `auth0-linkauth` chain end to end over HTTPS: login via the LinkAuth broker → Token
 * Vault says not_found → MRRT → `/connect` → consent via the broker's passthrough → `/complete`
 * → Google token → Gmail search; then the cached token with zero Auth0 calls. Every agent step is
 * its own process sharing only the cache directory; the person's browser steps are plain HTTP
 * requests. A second variant relays every Auth0 call through the broker's `/v1/proxy` while the
 * agent process may not reach Auth0 at all.
 * @module
 */
import { assert, assertEquals, assertNotEquals, assertStringIncludes } from "../support/assert.ts";
import { type ChainWorld, chainWorld } from "./_world.ts";

const CONNECT = "/me/v1/connected-accounts/connect";
const COMPLETE = "/me/v1/connected-accounts/complete";
const TOKEN_VAULT =
  "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";

/** Steps 1 and 2: the login challenge, the person signs in, the connect challenge. */
async function loginThenConnectChallenge(w: ChainWorld) {
  const login = await w.agent();
  assertEquals(login.challenge?.step, "login", JSON.stringify(login));
  const code = login.challenge!.code!;
  assertEquals(login.challenge!.url, `${w.broker.url}/connect/${code}`);
  assertStringIncludes(login.challenge!.message, code);
  const session = w.broker.session(code)!;
  assertEquals([session.templateType, session.oauthProvider], ["oauth", "auth0"]);
  assert(session.oauthScopes?.includes("offline_access"));
  assertEquals(session.oauthExtraParams?.connection, "google-oauth2");
  assertEquals(w.auth0.countRequests(), 0);

  await w.personSignsIn(code);
  assertEquals(w.broker.session(code)?.status, "ready");
  w.advance(6_000); // past the poll interval

  const connect = await w.agent();
  assertEquals(connect.challenge?.step, "connect", JSON.stringify(connect));
  const connectCode = connect.challenge!.code!;
  assertNotEquals(connectCode, code);
  assertEquals(connect.challenge!.url, `${w.broker.url}/connect/${connectCode}`);
  const passthrough = w.broker.session(connectCode)!;
  assert(passthrough.customAuthorizeUrl?.startsWith(`${w.auth0.url}/connect?ticket=`));
  assertEquals(passthrough.customCallbackParams, ["connect_code"]);
  assert(passthrough.customState, "the provider's state correlates the callback");
  assertEquals(w.broker.session(code)?.status, "consumed");
  assertEquals(w.auth0.countRequests({ grantType: TOKEN_VAULT }), 1);
  assertEquals(w.auth0.countRequests({ grantType: "refresh_token" }), 1); // MRRT
  assertEquals(w.auth0.countRequests({ path: CONNECT }), 1);
  return { loginCode: code, connectCode };
}

/** Steps 3 and 4 after the consent: the token and a search, then the cache only. */
async function tokenThenCached(w: ChainWorld, vaultExchanges: number) {
  const done = await w.agent();
  assert(done.ok, JSON.stringify(done));
  assert(done.messages! > 0, "the Gmail search returns messages");
  assertEquals(w.auth0.countRequests({ path: COMPLETE }), 1);
  assertEquals(w.auth0.countRequests({ grantType: TOKEN_VAULT }), vaultExchanges);
  assertEquals(w.auth0.accounts().map((a) => a.connection), ["google-oauth2"]);
  assert(w.gmail.calls.some((c) => c.status === 200), "Gmail accepted the vaulted token");

  w.auth0.resetRequests();
  const cached = await w.agent();
  assert(cached.ok, JSON.stringify(cached));
  assertEquals(cached.tokenFingerprint, done.tokenFingerprint);
  assertEquals(w.auth0.countRequests(), 0);
}

Deno.test("auth0-linkauth: login, connect consent through the broker, token, cache", async () => {
  await using w = await chainWorld();
  const { connectCode } = await loginThenConnectChallenge(w);

  // Running again before the consent polls the same passthrough session: same code, no new
  // /connect at Auth0 and no new broker session.
  w.advance(6_000);
  const again = await w.agent();
  assertEquals(again.challenge?.step, "connect", JSON.stringify(again));
  assertEquals(again.challenge?.code, connectCode);
  assertEquals(w.auth0.countRequests({ path: CONNECT }), 1);
  assertEquals(w.broker.sessions().filter((s) => s.status === "pending").length, 1);

  await w.personConnects(connectCode);
  assertEquals(w.broker.session(connectCode)?.status, "ready");
  w.advance(6_000);
  // Exchanges: not_found at steps 2, 2' and 3, then the token after /complete.
  await tokenThenCached(w, 4);
  assertEquals(w.broker.proxyLog.length, 0, "no relay unless opted in");
});

Deno.test("auth0-linkauth via the broker: every Auth0 call goes through /v1/proxy", async () => {
  await using w = await chainWorld({ viaBroker: true });
  const auth0 = new URL(w.auth0.url);

  // The control: without the relay, the same restricted agent cannot reach Auth0 at all.
  await w.agentAsks("login");
  const denied = await w.agent({ viaBroker: false, allowNet: [new URL(w.broker.url).host] });
  assertEquals(denied.error?.code, "permission_denied", JSON.stringify(denied));
  assertEquals(w.auth0.countRequests({ grantType: TOKEN_VAULT }), 0);

  // With the relay the chain completes. The refresh token was kept by the denied run.
  await w.agentAsks("connect");
  const done = await w.agentReads();

  // Everything the agent asked Auth0 (Token Vault, MRRT, /connect, /complete) came through
  // the broker's proxy; the only other Auth0 calls are the broker's own code exchange and the
  // person's browser.
  const relayed = w.broker.proxyLog;
  assert(relayed.every((r) => new URL(r.url).origin === auth0.origin), JSON.stringify(relayed));
  const paths = relayed.map((r) => new URL(r.url).pathname);
  assertEquals(paths.filter((p) => p === "/oauth/token").length, 4); // 3 exchanges + MRRT
  assertEquals(paths.filter((p) => p === CONNECT).length, 1);
  assertEquals(paths.filter((p) => p === COMPLETE).length, 1);
  const agentCalls = w.auth0.requests.filter((r) =>
    r.path === CONNECT || r.path === COMPLETE ||
    (r.path === "/oauth/token" && r.grantType !== "authorization_code")
  );
  assertEquals(agentCalls.length, relayed.length);

  // The cached token: no Auth0 call, nothing relayed.
  w.auth0.resetRequests();
  const before = relayed.length;
  const cached = await w.agent();
  assertEquals(cached.tokenFingerprint, done.tokenFingerprint);
  assertEquals(w.auth0.countRequests(), 0);
  assertEquals(w.broker.proxyLog.length, before);
});
