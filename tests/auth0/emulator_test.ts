/** Wire-level behaviour of the Auth0 tenant emulator (bodies, auth methods, validation, TLS). @module */
import * as oauth from "oauth4webapi";
import { Auth0Provider } from "../../lib/auth/auth0/mod.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { startAuth0Emulator, TOKEN_VAULT_GRANT } from "../../lib/emulators/auth0/server.ts";
import { createTestCA } from "../../lib/emulators/tls.ts";
import { assert, assertEquals } from "../support/assert.ts";

const TV = {
  grant_type: TOKEN_VAULT_GRANT,
  subject_token_type: "urn:ietf:params:oauth:token-type:refresh_token",
  requested_token_type: "http://auth0.com/oauth/token-type/federated-connection-access-token",
  connection: "google-oauth2",
};

Deno.test("emulator: Token Vault exchange with a JSON body and client_secret_basic", async () => {
  await using emu = await startEmu();
  const rt = emu.issueRefreshToken();
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${emu.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const miss = await post({
    ...TV,
    subject_token: rt,
    client_id: emu.clientId,
    client_secret: emu.clientSecret,
  });
  assertEquals(miss.status, 401);
  assertEquals(await miss.json(), {
    error: "federated_connection_refresh_token_not_found",
    error_description: "Federated connection Refresh Token not found.",
  });
  emu.connectAccount();
  const basic = "Basic " +
    btoa(`${encodeURIComponent(emu.clientId)}:${encodeURIComponent(emu.clientSecret)}`);
  const ok = await post({ ...TV, subject_token: rt }, { authorization: basic });
  assertEquals(ok.status, 200);
  const body = await ok.json();
  assertEquals(body.issued_token_type, TV.requested_token_type);
  assertEquals(body.token_type, "Bearer");
  assert(body.expires_in > 0 && body.expires_in <= 1377 && typeof body.scope === "string");
  assert(emu.googleTokens.validate(body.access_token).ok);
  const bad = await post({
    ...TV,
    subject_token: rt,
    client_id: emu.clientId,
    client_secret: "nope",
  });
  assertEquals(bad.status, 401);
  assertEquals((await bad.json()).error, "invalid_client");
});

Deno.test("emulator: /authorize validates client and callback; PKCE is verified", async () => {
  await using emu = await startEmu();
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const q = (extra: Record<string, string>) =>
    new URLSearchParams({
      response_type: "code",
      client_id: emu.clientId,
      redirect_uri: "http://127.0.0.1:5000/cb",
      scope: "openid offline_access",
      state: "s1",
      code_challenge: challenge,
      code_challenge_method: "S256",
      ...extra,
    });
  const page = await fetch(`${emu.url}/authorize?${q({})}`);
  assertEquals(page.status, 200);
  assert((await page.text()).includes('id="approve"'));
  const badCb = await fetch(
    `${emu.url}/authorize?${q({ redirect_uri: "https://evil.example/cb" })}`,
  );
  assertEquals(badCb.status, 400);
  await badCb.body?.cancel();
  const badClient = await fetch(`${emu.url}/authorize?${q({ client_id: "x" })}`);
  assertEquals(badClient.status, 400);
  await badClient.body?.cancel();
  const { params } = await emu.approve(`${emu.url}/authorize?${q({})}`);
  assertEquals(params.state, "s1");
  const exchange = (verifier: string, code: string) =>
    fetch(`${emu.url}/oauth/token`, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        code_verifier: verifier,
        redirect_uri: "http://127.0.0.1:5000/cb",
        client_id: emu.clientId,
        client_secret: emu.clientSecret,
      }),
    });
  const wrong = await exchange("x".repeat(43), params.code);
  assertEquals(wrong.status, 403);
  assertEquals((await wrong.json()).error, "invalid_grant");
  const again = await emu.approve(`${emu.url}/authorize?${q({})}`);
  const good = await exchange(verifier, again.params.code);
  const tokens = await good.json();
  assertEquals(good.status, 200, JSON.stringify(tokens));
  assert(tokens.refresh_token && tokens.id_token);
});

Deno.test("emulator: addCallbackUrl allows a callback at runtime; the options array is copied", async () => {
  const initial = ["https://app.example/cb"];
  await using emu = await startEmu({ allowedCallbackUrls: initial, allowLoopbackCallbacks: false });
  const authorize = (redirectUri: string) =>
    fetch(
      `${emu.url}/authorize?${new URLSearchParams({
        response_type: "code",
        client_id: emu.clientId,
        redirect_uri: redirectUri,
        state: "s1",
      })}`,
    );
  const status = async (redirectUri: string) => {
    const res = await authorize(redirectUri);
    await res.body?.cancel();
    return res.status;
  };
  initial.push("https://late.example/cb"); // not a live setting: the emulator keeps its copy
  assertEquals(await status("https://late.example/cb"), 400);
  assertEquals(await status("https://app.example/cb"), 200);
  emu.addCallbackUrl("https://late.example/cb");
  assertEquals(await status("https://late.example/cb"), 200);
  assertEquals(await status("http://127.0.0.1:5000/cb"), 400);
});

Deno.test("emulator: My Account API errors are problem+json", async () => {
  await using emu = await startEmu();
  const res = await fetch(`${emu.url}/me/v1/connected-accounts/connect`, {
    method: "POST",
    headers: { authorization: "Bearer nope", "content-type": "application/json" },
    body: "{}",
  });
  assertEquals(res.status, 401);
  assertEquals(res.headers.get("content-type"), "application/problem+json");
  const p = await res.json();
  assertEquals([p.status, typeof p.title, typeof p.detail, typeof p.type], [
    401,
    "string",
    "string",
    "string",
  ]);
});

Deno.test("emulator over HTTPS: the provider reaches it with the throwaway CA", async () => {
  const ca = await createTestCA();
  const tls = await ca.issue(["127.0.0.1"]);
  await using emu = await startEmu({ tls });
  assert(emu.url.startsWith("https://"));
  const client = Deno.createHttpClient({ caCerts: [ca.caPem] });
  try {
    const rt = emu.issueRefreshToken();
    emu.connectAccount();
    const p = new Auth0Provider({
      domain: emu.url,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      refreshToken: rt,
      cache: new MemoryCacheStore(),
      fetch: (input, init) => fetch(input, { ...init, client }),
    });
    assert(emu.googleTokens.validate(await p.getToken("gmail")).ok);
  } finally {
    client.close();
  }
});

async function startEmu(opts: Parameters<typeof startAuth0Emulator>[0] = {}) {
  const emu = await startAuth0Emulator(opts);
  return Object.assign(emu, { [Symbol.asyncDispose]: () => emu.close() });
}
