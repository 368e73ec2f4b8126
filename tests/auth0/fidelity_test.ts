/**
 * Fidelity of the Auth0 tenant emulator against /work/shared/reference/auth0.md: each documented
 * endpoint, parameter, success field, error status and body (sections 1–4, 6, 7), table-driven,
 * plus the provider's classification of every documented or field-observed error body.
 * @module
 */
import {
  Auth0Failure,
  Auth0Provider,
  classify,
  FEDERATED_TOKEN_TYPE,
  REFRESH_TOKEN_TYPE,
  TOKEN_VAULT_GRANT,
} from "../../lib/auth/auth0/mod.ts";
import type { AuthPort } from "../../lib/auth/types.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import {
  type Auth0Emulator,
  startAuth0Emulator,
  type TenantConfig,
} from "../../lib/emulators/auth0/server.ts";
import { McsError } from "../../lib/errors.ts";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";

const ME_SCOPES = "create:me:connected_accounts read:me:connected_accounts " +
  "delete:me:connected_accounts";
const CHALLENGE = "vWZKGR67OK9qU1BPNvd2Emnm94c2l0tYcPm8MsNpcQQ"; // base64url(SHA-256(VERIFIER))
const VERIFIER = "dBjftJeZ4CVP-mB92K1uQoHj1_7WS3D3kcjXm4nIfHE";

/** A predicate or an exact value for one body field. */
type Expect = ((v: unknown) => boolean) | string | number | boolean | null | undefined;
const isString = (v: unknown) => typeof v === "string" && v.length > 0;
const isPositive = (v: unknown) => typeof v === "number" && v > 0;
const absent = (v: unknown) => v === undefined;

function assertFields(body: Record<string, unknown>, expected: Record<string, Expect>, ctx = "") {
  for (const [k, want] of Object.entries(expected)) {
    if (typeof want === "function") {
      assert(want(body[k]), `${ctx}: field ${k} = ${JSON.stringify(body[k])}`);
    } else assertEquals(body[k], want, `${ctx}: field ${k}`);
  }
}

/** An emulator on a settable clock, with request helpers. */
async function world(config: Partial<TenantConfig> = {}) {
  const clock = { t: Date.now() };
  const now = () => clock.t;
  const emu = await startAuth0Emulator({ now, config });
  const form = async (path: string, params: Record<string, string>, headers = {}) => {
    const res = await fetch(`${emu.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(params),
    });
    const text = await res.text();
    return { res, body: text ? JSON.parse(text) : undefined };
  };
  const client = { client_id: emu.clientId, client_secret: emu.clientSecret };
  const token = (params: Record<string, string>, headers = {}) =>
    form("/oauth/token", { ...client, ...params }, headers);
  const vault = (rt: string, extra: Record<string, string> = {}) =>
    token({
      grant_type: TOKEN_VAULT_GRANT,
      subject_token: rt,
      subject_token_type: REFRESH_TOKEN_TYPE,
      requested_token_type: FEDERATED_TOKEN_TYPE,
      connection: "google-oauth2",
      ...extra,
    });
  const refresh = (rt: string, extra: Record<string, string> = {}) =>
    token({ grant_type: "refresh_token", refresh_token: rt, ...extra });
  const meToken = async (scope = ME_SCOPES) => {
    const { body } = await refresh(emu.issueRefreshToken(), { audience: emu.meAudience, scope });
    return body.access_token as string;
  };
  const me = async (
    method: string,
    path: string,
    bearer: string | undefined,
    body?: unknown,
    contentType = "application/json",
  ) => {
    const res = await fetch(`${emu.url}/me/v1/connected-accounts${path}`, {
      method,
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(body !== undefined ? { "content-type": contentType } : {}),
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { res, body: text ? JSON.parse(text) : undefined };
  };
  return {
    emu,
    clock,
    now,
    token,
    vault,
    refresh,
    meToken,
    me,
    [Symbol.asyncDispose]: () => emu.close(),
  };
}
type World = Awaited<ReturnType<typeof world>>;

// ------------------------------------------------------------------ /oauth/token (1.3, 1.5, 2.1, 3.2)

interface TokenCase {
  name: string;
  config?: Partial<TenantConfig>;
  run: (w: World) => Promise<{ res: Response; body: Record<string, unknown> }>;
  status: number;
  body: Record<string, Expect>;
}

const TOKEN_CASES: TokenCase[] = [
  {
    name: "Token Vault success: exactly the documented fields, no id_token/refresh_token",
    run: (w) => (w.emu.connectAccount(), w.vault(w.emu.issueRefreshToken())),
    status: 200,
    body: {
      access_token: isString,
      expires_in: 1377,
      scope: isString,
      issued_token_type: "http://auth0.com/oauth/token-type/federated-connection-access-token",
      token_type: "Bearer",
      id_token: absent,
      refresh_token: absent,
    },
  },
  {
    name: "Token Vault, no connected account → 401 not found",
    run: (w) => w.vault(w.emu.issueRefreshToken()),
    status: 401,
    body: {
      error: "federated_connection_refresh_token_not_found",
      error_description: "Federated connection Refresh Token not found.",
    },
  },
  {
    name: "Token Vault, login_hint of another account → 401 not found",
    run: (
      w,
    ) => (w.emu.connectAccount(),
      w.vault(w.emu.issueRefreshToken(), { login_hint: "someone-else" })),
    status: 401,
    body: { error: "federated_connection_refresh_token_not_found" },
  },
  {
    name: "Token Vault grant off → 403 unauthorized_client with the exact message",
    config: { tokenVaultGrant: false },
    run: (w) => w.vault(w.emu.issueRefreshToken()),
    status: 403,
    body: {
      error: "unauthorized_client",
      error_description:
        "Grant type 'urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token' not allowed for the client.",
    },
  },
  {
    name: "wrong client secret → 401 invalid_client",
    run: (w) => w.vault(w.emu.issueRefreshToken(), { client_secret: "wrong" }),
    status: 401,
    body: { error: "invalid_client", error_description: "Client authentication failed" },
  },
  {
    name: "revoked subject token → invalid_grant",
    run: (w) => {
      const rt = w.emu.issueRefreshToken();
      w.emu.revokeRefreshTokens();
      return w.vault(rt);
    },
    status: 403,
    body: { error: "invalid_grant", error_description: "Unknown or invalid refresh token." },
  },
  {
    name: "tenant MFA policy Always → mfa_required with an mfa_token",
    config: { mfaPolicy: "always" },
    run: (w) => (w.emu.connectAccount(), w.vault(w.emu.issueRefreshToken())),
    status: 403,
    body: { error: "mfa_required", error_description: "Multifactor authentication required" },
  },
  {
    name: "MRRT to /me/: the three scopes, an id_token, no refresh_token (non-rotating)",
    run: (w) =>
      w.refresh(w.emu.issueRefreshToken(), {
        audience: w.emu.meAudience,
        scope: `openid profile offline_access ${ME_SCOPES}`,
      }),
    status: 200,
    body: {
      access_token: isString,
      id_token: isString,
      token_type: "Bearer",
      expires_in: isPositive,
      scope: `openid profile offline_access ${ME_SCOPES}`,
      refresh_token: absent,
    },
  },
  {
    name: "MRRT: scopes outside the policy are silently dropped",
    config: { mrrtPolicyScopes: ["read:me:connected_accounts"] },
    run: (w) =>
      w.refresh(w.emu.issueRefreshToken(), { audience: w.emu.meAudience, scope: ME_SCOPES }),
    status: 200,
    body: { scope: "read:me:connected_accounts" },
  },
  {
    name: "My Account API not activated → access_denied 'Service not enabled'",
    config: { myAccountApi: false },
    run: (w) =>
      w.refresh(w.emu.issueRefreshToken(), { audience: w.emu.meAudience, scope: ME_SCOPES }),
    status: 403,
    body: { error: "access_denied" },
  },
  {
    name: "no client grant to /me/ → access_denied 'Client … is not authorized …'",
    config: { myAccountClientGrant: false },
    run: (w) =>
      w.refresh(w.emu.issueRefreshToken(), { audience: w.emu.meAudience, scope: ME_SCOPES }),
    status: 403,
    body: { error: "access_denied" },
  },
  {
    name: "My Account Default Policy: a login younger than 15 minutes still works",
    config: { myAccountRequire2fa: true },
    run: (w) =>
      w.refresh(w.emu.issueRefreshToken({ authTime: w.now() - 14 * 60_000 }), {
        audience: w.emu.meAudience,
        scope: ME_SCOPES,
      }),
    status: 200,
    body: { scope: ME_SCOPES },
  },
  {
    name: "My Account Default Policy: after 15 minutes → unmet_authentication_requirements",
    config: { myAccountRequire2fa: true },
    run: (w) =>
      w.refresh(w.emu.issueRefreshToken({ authTime: w.now() - 16 * 60_000 }), {
        audience: w.emu.meAudience,
        scope: ME_SCOPES,
      }),
    status: 403,
    body: { error: "unmet_authentication_requirements" },
  },
  {
    name: "Refresh Token grant off → 403 unauthorized_client",
    config: { refreshTokenGrant: false },
    run: (w) => w.refresh(w.emu.issueRefreshToken()),
    status: 403,
    body: {
      error: "unauthorized_client",
      error_description: "Grant type 'refresh_token' not allowed for the client.",
    },
  },
  {
    name: "refresh with a narrower scope is honoured; a wider one is not granted",
    run: (w) => w.refresh(w.emu.issueRefreshToken(), { scope: "openid email read:secrets" }),
    status: 200,
    body: { scope: "openid email" },
  },
];
// The access_denied descriptions name the tenant's URLs: checked in a test of their own below.

for (const c of TOKEN_CASES) {
  Deno.test(`fidelity /oauth/token: ${c.name}`, async () => {
    await using w = await world(c.config);
    const { res, body } = await c.run(w);
    assertEquals(res.status, c.status, JSON.stringify(body));
    assertEquals(res.headers.get("content-type"), "application/json");
    assertFields(body, c.body, c.name);
    if (c.status >= 400) {
      assertEquals(Object.keys(body).filter((k) => k !== "mfa_token").sort(), [
        "error",
        "error_description",
      ]);
    }
  });
}

Deno.test("fidelity /oauth/token: access_denied descriptions name the /me/ audience", async () => {
  await using w = await world({ myAccountApi: false });
  const rt = w.emu.issueRefreshToken();
  const off = await w.refresh(rt, { audience: w.emu.meAudience, scope: ME_SCOPES });
  assertEquals(
    off.body.error_description,
    `Service not enabled within domain: ${w.emu.meAudience}`,
  );
  w.emu.config.myAccountApi = true;
  w.emu.config.myAccountClientGrant = false;
  const grant = await w.refresh(rt, { audience: w.emu.meAudience, scope: ME_SCOPES });
  assertEquals(
    grant.body.error_description,
    `Client "${w.emu.clientId}" is not authorized to access resource server "${w.emu.meAudience}"`,
  );
  const mfa = await (async () => {
    w.emu.config.myAccountClientGrant = true;
    w.emu.config.mfaPolicy = "always";
    w.emu.connectAccount();
    return await w.vault(rt);
  })();
  assert(isString(mfa.body.mfa_token));
});

// ------------------------------------------------------------------ refresh token rotation (3.3)

Deno.test("fidelity rotation: each exchange rotates; reuse revokes the whole family", async () => {
  await using w = await world({ refreshTokenRotation: true });
  const rt0 = w.emu.issueRefreshToken();
  const first = await w.refresh(rt0);
  assertEquals(first.res.status, 200);
  const rt1 = first.body.refresh_token as string;
  assert(isString(rt1) && rt1 !== rt0);
  const reuse = await w.refresh(rt0);
  assertEquals([reuse.res.status, reuse.body.error], [403, "invalid_grant"]);
  const family = await w.refresh(rt1);
  assertEquals([family.res.status, family.body.error], [403, "invalid_grant"]);
});

Deno.test("fidelity rotation: the overlap period allows only the immediately previous token", async () => {
  await using w = await world({ refreshTokenRotation: true, rotationLeewayS: 10 });
  const rt0 = w.emu.issueRefreshToken();
  const rt1 = (await w.refresh(rt0)).body.refresh_token as string;
  w.clock.t += 5_000;
  const overlap = await w.refresh(rt0);
  assertEquals(overlap.res.status, 200, "rt0 is the immediately previous token, within leeway");
  const rt2 = (await w.refresh(rt1)).body.refresh_token as string;
  assert(isString(rt2));
  const older = await w.refresh(rt0);
  assertEquals(older.body.error, "invalid_grant", "rt0 is no longer the immediately previous");
  await using late = await world({ refreshTokenRotation: true, rotationLeewayS: 10 });
  const a = late.emu.issueRefreshToken();
  await late.refresh(a);
  late.clock.t += 11_000;
  assertEquals((await late.refresh(a)).body.error, "invalid_grant", "past the overlap period");
});

Deno.test("fidelity rotation: the absolute lifetime does not extend when tokens rotate", async () => {
  await using w = await world({ refreshTokenRotation: true, refreshTokenLifetimeS: 100 });
  const rt0 = w.emu.issueRefreshToken();
  w.clock.t += 60_000;
  const rt1 = (await w.refresh(rt0)).body.refresh_token as string;
  w.clock.t += 41_000; // 101 s after the first token was issued, 41 s after rt1
  const expired = await w.refresh(rt1);
  assertEquals([expired.res.status, expired.body.error], [403, "invalid_grant"]);
});

Deno.test("fidelity rotation: turning it on deletes the user's other non-rotating tokens", async () => {
  await using w = await world();
  const a = w.emu.issueRefreshToken();
  const b = w.emu.issueRefreshToken();
  w.emu.config.refreshTokenRotation = true;
  const migrated = await w.refresh(a);
  assertEquals(migrated.res.status, 200);
  assert(isString(migrated.body.refresh_token));
  assertEquals((await w.refresh(b)).body.error, "invalid_grant");
  assertEquals((await w.refresh(migrated.body.refresh_token as string)).res.status, 200);
});

Deno.test("fidelity rotation: turning it off revokes the rotating family on exchange", async () => {
  await using w = await world({ refreshTokenRotation: true });
  const rt1 = (await w.refresh(w.emu.issueRefreshToken())).body.refresh_token as string;
  w.emu.config.refreshTokenRotation = false;
  assertEquals((await w.refresh(rt1)).body.error, "invalid_grant");
});

// ------------------------------------------------------------------ /authorize + code (3.1)

async function login(w: World, extra: Record<string, string> = {}, headers = {}) {
  const q = new URLSearchParams({
    response_type: "code",
    client_id: w.emu.clientId,
    redirect_uri: "http://127.0.0.1:5000/cb",
    scope: "openid profile offline_access",
    state: "s",
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
    ...extra,
  });
  const { params } = await w.emu.approve(`${w.emu.url}/authorize?${q}`);
  return await w.token({
    grant_type: "authorization_code",
    code: params.code,
    code_verifier: VERIFIER,
    redirect_uri: "http://127.0.0.1:5000/cb",
  }, headers);
}

Deno.test("fidelity code exchange: when a refresh token is (not) issued", async () => {
  await using w = await world({ apiOfflineAccess: false });
  const plain = await login(w);
  assertEquals(plain.res.status, 200);
  assert(isString(plain.body.refresh_token), "no custom audience: offline access applies");
  const api = await login(w, { audience: "https://api.example.com/" });
  assertEquals(api.body.refresh_token, undefined, "API without Allow Offline Access");
  w.emu.config.apiOfflineAccess = true;
  assert(isString((await login(w, { audience: "https://api.example.com/" })).body.refresh_token));
  const browser = await login(w, {}, { origin: "https://app.example" });
  assertEquals(browser.body.refresh_token, undefined, "browser-originated exchange");
  const noOffline = await login(w, { scope: "openid profile" });
  assertEquals(noOffline.body.refresh_token, undefined, "offline_access not requested");
});

// ------------------------------------------------------------------ /oauth/revoke (7)

Deno.test("fidelity /oauth/revoke: 200 revokes; missing token 400; bad client 401", async () => {
  await using w = await world();
  const rt = w.emu.issueRefreshToken();
  const client = { client_id: w.emu.clientId, client_secret: w.emu.clientSecret };
  const bad = await fetch(`${w.emu.url}/oauth/revoke`, {
    method: "POST",
    body: new URLSearchParams({ client_id: w.emu.clientId, client_secret: "x", token: rt }),
  });
  assertEquals([bad.status, (await bad.json()).error], [401, "invalid_client"]);
  const missing = await fetch(`${w.emu.url}/oauth/revoke`, {
    method: "POST",
    body: new URLSearchParams(client),
  });
  assertEquals([missing.status, (await missing.json()).error], [400, "invalid_request"]);
  const ok = await fetch(`${w.emu.url}/oauth/revoke`, {
    method: "POST",
    body: new URLSearchParams({ ...client, token: rt }),
  });
  assertEquals([ok.status, await ok.text()], [200, ""]);
  assertEquals((await w.refresh(rt)).body.error, "invalid_grant");
});

// ------------------------------------------------------------------ My Account API (2.2–2.5)

const CONNECT = {
  connection: "google-oauth2",
  redirect_uri: "http://127.0.0.1:5000/cb",
  state: "st",
  scopes: ["openid", "profile", "https://mail.google.com/"],
  code_challenge: CHALLENGE,
  code_challenge_method: "S256",
  authorization_params: { prompt: "consent", login_hint: "ada@example.com" },
};

interface MeCase {
  name: string;
  config?: Partial<TenantConfig>;
  method: string;
  path: string;
  /** Token scopes (undefined: no Authorization header). */
  scope?: string;
  body?: unknown;
  contentType?: string;
  status: number;
  fields?: Record<string, Expect>;
  /** Expected `validation_errors[0].field`. */
  field?: string;
}

const ME_CASES: MeCase[] = [
  {
    name: "connect → 201 with auth_session, connect_uri, connect_params.ticket, expires_in",
    method: "POST",
    path: "/connect",
    scope: "create:me:connected_accounts",
    body: CONNECT,
    status: 201,
    fields: {
      auth_session: (v) => isString(v) && (v as string).length <= 64,
      connect_uri: isString,
      connect_params: (v) => isString((v as { ticket?: unknown })?.ticket),
      expires_in: 300,
    },
  },
  { name: "no token → 401", method: "POST", path: "/connect", body: CONNECT, status: 401 },
  {
    name: "connect without create:me:connected_accounts → 403",
    method: "POST",
    path: "/connect",
    scope: "read:me:connected_accounts",
    body: CONNECT,
    status: 403,
  },
  {
    name: "connect with a non-JSON body → 415",
    method: "POST",
    path: "/connect",
    scope: "create:me:connected_accounts",
    body: "connection=google-oauth2",
    contentType: "application/x-www-form-urlencoded",
    status: 415,
  },
  ...([
    ["an unknown property", { ...CONNECT, extra: 1 }, "extra"],
    ["a missing connection", { ...CONNECT, connection: undefined }, "connection"],
    ["a 129-character connection", { ...CONNECT, connection: "c".repeat(129) }, "connection"],
    ["a missing redirect_uri", { ...CONNECT, redirect_uri: undefined }, "redirect_uri"],
    ["an empty state", { ...CONNECT, state: "" }, "state"],
    ["a short code_challenge", { ...CONNECT, code_challenge: "abc" }, "code_challenge"],
    [
      "code_challenge_method plain",
      { ...CONNECT, code_challenge_method: "plain" },
      "code_challenge_method",
    ],
    [
      "code_challenge without its method",
      { ...CONNECT, code_challenge_method: undefined },
      "code_challenge_method",
    ],
    ["an empty scopes array", { ...CONNECT, scopes: [] }, "scopes"],
    ["duplicate scopes", { ...CONNECT, scopes: ["openid", "openid"] }, "scopes"],
    [
      "Google's access_type in authorization_params",
      { ...CONNECT, authorization_params: { access_type: "offline" } },
      "authorization_params/access_type",
    ],
    [
      "an invalid prompt",
      { ...CONNECT, authorization_params: { prompt: "always" } },
      "authorization_params/prompt",
    ],
    [
      "an invalid display",
      { ...CONNECT, authorization_params: { display: "tv" } },
      "authorization_params/display",
    ],
    ["a connection not enabled for Connected Accounts", {
      ...CONNECT,
      connection: "github",
    }, "connection"],
    ["a redirect_uri not in Allowed Callback URLs", {
      ...CONNECT,
      redirect_uri: "https://evil.example/cb",
    }, "redirect_uri"],
  ] as const).map(([what, body, field]): MeCase => ({
    name: `connect with ${what} → 400 validation error`,
    method: "POST",
    path: "/connect",
    scope: "create:me:connected_accounts",
    body: JSON.parse(JSON.stringify(body)),
    status: 400,
    field,
  })),
  {
    name: "list accounts → 200 {accounts: []}",
    method: "GET",
    path: "/accounts",
    scope: "read:me:connected_accounts",
    status: 200,
    fields: { accounts: (v) => Array.isArray(v) && v.length === 0, next: absent },
  },
  {
    name: "list accounts without read scope → 403",
    method: "GET",
    path: "/accounts",
    scope: "create:me:connected_accounts",
    status: 403,
  },
  ...["0", "21", "x"].map((take): MeCase => ({
    name: `list accounts with take=${take} → 400`,
    method: "GET",
    path: `/accounts?take=${take}`,
    scope: "read:me:connected_accounts",
    status: 400,
    field: "take",
  })),
  {
    name: "list connections → 200 {connections: [{name, strategy}]}",
    method: "GET",
    path: "/connections",
    scope: "read:me:connected_accounts",
    status: 200,
    fields: {
      connections: (v) =>
        JSON.stringify(v) === '[{"name":"google-oauth2","strategy":"google-oauth2"}]',
    },
  },
  {
    name: "delete with a malformed id → 400",
    method: "DELETE",
    path: "/accounts/not-an-id",
    scope: "delete:me:connected_accounts",
    status: 400,
    field: "id",
  },
  {
    name: "delete without delete scope → 403",
    method: "DELETE",
    path: "/accounts/cac_abc",
    scope: "read:me:connected_accounts",
    status: 403,
  },
  ...([
    ["a missing auth_session", { connect_code: "c", redirect_uri: "x" }, "auth_session"],
    ["a 47-character connect_code", {
      auth_session: "a",
      connect_code: "c".repeat(47),
      redirect_uri: "x",
    }, "connect_code"],
    ["a short code_verifier", {
      auth_session: "a",
      connect_code: "c",
      redirect_uri: "x",
      code_verifier: "short",
    }, "code_verifier"],
  ] as const).map(([what, body, field]): MeCase => ({
    name: `complete with ${what} → 400 validation error`,
    method: "POST",
    path: "/complete",
    scope: "create:me:connected_accounts",
    body,
    status: 400,
    field,
  })),
];

for (const c of ME_CASES) {
  Deno.test(`fidelity My Account: ${c.name}`, async () => {
    await using w = await world(c.config);
    const bearer = c.scope === undefined ? undefined : await w.meToken(c.scope);
    const { res, body } = await w.me(c.method, c.path, bearer, c.body, c.contentType);
    assertEquals(res.status, c.status, JSON.stringify(body));
    if (c.status >= 400) {
      assertEquals(res.headers.get("content-type"), "application/problem+json");
      assertEquals(body.status, c.status);
      for (const k of ["type", "title", "detail"]) assert(isString(body[k]), `problem ${k}`);
    } else {
      assertEquals(res.headers.get("content-type"), "application/json");
    }
    if (c.field !== undefined) {
      const v = body.validation_errors?.[0];
      assertEquals(v?.field, c.field, JSON.stringify(body));
      assert(isString(v.detail) && isString(v.source));
    }
    if (c.fields) assertFields(body, c.fields, c.name);
  });
}

Deno.test("fidelity My Account: connect → consent → complete → list → delete", async () => {
  await using w = await world({ connectionOfflineAccess: false });
  const bearer = await w.meToken();
  const started = await w.me("POST", "/connect", bearer, CONNECT);
  assertEquals(started.body.connect_uri, `${w.emu.url}/connect`);
  const consent = new URL(started.body.connect_uri);
  consent.searchParams.set("ticket", started.body.connect_params.ticket);
  const { params } = await w.emu.approve(consent.href);
  assertEquals(params.state, "st");
  assert(isString(params.connect_code) && params.connect_code.length <= 46);
  const complete = (extra: Record<string, string> = {}) =>
    w.me("POST", "/complete", bearer, {
      auth_session: started.body.auth_session,
      connect_code: params.connect_code,
      redirect_uri: CONNECT.redirect_uri,
      code_verifier: VERIFIER,
      ...extra,
    });
  const wrongVerifier = await complete({ code_verifier: "x".repeat(43) });
  assertEquals(wrongVerifier.res.status, 400);
  const wrongRedirect = await complete({ redirect_uri: "http://127.0.0.1:5001/cb" });
  assertEquals(wrongRedirect.res.status, 400);
  const done = await complete();
  assertEquals(done.res.status, 201, JSON.stringify(done.body));
  assertFields(done.body, {
    id: (v) => /^cac_[A-Za-z0-9]+$/.test(v as string),
    connection: "google-oauth2",
    // Always "offline", even when the connection stored no provider refresh token.
    access_type: "offline",
    scopes: (v) => JSON.stringify(v) === JSON.stringify(CONNECT.scopes),
    created_at: (v) => !Number.isNaN(Date.parse(v as string)),
  });
  assertEquals((await complete()).res.status, 409, "already completed");
  const list = await w.me("GET", "/accounts?connection=google-oauth2", bearer);
  assertEquals(list.body.accounts.length, 1);
  assertEquals(Object.keys(list.body.accounts[0]).sort(), [
    "access_type",
    "connection",
    "created_at",
    "id",
    "scopes",
  ]);
  assertEquals(list.body.accounts[0].access_type, "offline");
  const other = await w.me("GET", "/accounts?connection=github", bearer);
  assertEquals(other.body.accounts, []);
  const del = await w.me("DELETE", `/accounts/${done.body.id}`, bearer);
  assertEquals([del.res.status, del.body], [204, undefined]);
  assertEquals((await w.me("GET", "/accounts", bearer)).body.accounts, []);
});

Deno.test("fidelity My Account: from/take paginate with an opaque next cursor", async () => {
  await using w = await world({ connectedAccountsConnections: ["google-oauth2", "github", "x"] });
  const bearer = await w.meToken();
  const p1 = await w.me("GET", "/connections?take=2", bearer);
  assertEquals(p1.body.connections.map((c: { name: string }) => c.name), [
    "google-oauth2",
    "github",
  ]);
  assert(isString(p1.body.next));
  const p2 = await w.me("GET", `/connections?take=2&from=${p1.body.next}`, bearer);
  assertEquals(p2.body.connections.map((c: { name: string }) => c.name), ["x"]);
  assertEquals(p2.body.next, undefined);
});

// ------------------------------------------------------------------ rate limits (6)

Deno.test("fidelity rate limits: x-ratelimit-* on /oauth/token; 429 without Retry-After", async () => {
  await using w = await world({ rateLimit: { burst: 2, perSecond: 1 } });
  const rt = w.emu.issueRefreshToken();
  const first = await w.refresh(rt);
  assertEquals(first.res.headers.get("x-ratelimit-limit"), "2");
  assertEquals(first.res.headers.get("x-ratelimit-remaining"), "1");
  const reset = Number(first.res.headers.get("x-ratelimit-reset"));
  assert(reset >= Math.floor(w.now() / 1000), "reset is UNIX seconds");
  await w.refresh(rt);
  const limited = await w.refresh(rt);
  assertEquals(limited.res.status, 429);
  assertEquals(limited.body.error, "too_many_requests");
  assert(isString(limited.body.error_description));
  assertEquals(limited.res.headers.get("retry-after"), null);
  assertEquals(limited.res.headers.get("x-ratelimit-remaining"), "0");
  w.clock.t += 1_000;
  assertEquals((await w.refresh(rt)).res.status, 200, "the bucket refills");
});

Deno.test("fidelity rate limits: My Account 429 is problem+json with a required retry-after", async () => {
  await using w = await world({ myAccountRateLimit: { burst: 1, perSecond: 0.5 } });
  const bearer = await w.meToken();
  assertEquals((await w.me("GET", "/accounts", bearer)).res.status, 200);
  const limited = await w.me("GET", "/accounts", bearer);
  assertEquals(limited.res.status, 429);
  assertEquals(limited.res.headers.get("content-type"), "application/problem+json");
  assertEquals(limited.body.status, 429);
  assertEquals(limited.res.headers.get("retry-after"), "2");
});

Deno.test("fidelity rate limits: the provider reports rate_limited with the wait", async () => {
  await using w = await world({ rateLimit: { burst: 0, perSecond: 0.1 } });
  const p = new Auth0Provider({
    domain: w.emu.url,
    clientId: w.emu.clientId,
    clientSecret: w.emu.clientSecret,
    refreshToken: w.emu.issueRefreshToken(),
    cache: new MemoryCacheStore(),
  });
  const err = await assertRejects(() => p.getToken("gmail"), McsError);
  assertEquals(err.code, "rate_limited");
  assert(err.retryable);
  // From x-ratelimit-reset (no Retry-After on /oauth/token).
  assert(typeof err.details?.retry_after_s === "number");
  // An HTTP-date Retry-After is understood too.
  w.emu.config.rateLimit = { burst: 100, perSecond: 100 };
  w.emu.injectResponse("/oauth/token", {
    status: 429,
    body: { error: "too_many_requests", error_description: "Rate limit exceeded." },
    headers: { "retry-after": new Date(Date.now() + 30_000).toUTCString() },
  });
  const dated = await assertRejects(() => p.getToken("gmail"), McsError);
  const s = dated.details?.retry_after_s as number;
  assert(s >= 1 && s <= 31, `retry_after_s ${s}`);
});

// ------------------------------------------------------------------ provider classification

type Row = [string, Auth0Failure["endpoint"], number, string | undefined, string, string];
/** Real (documented or field-observed) error bodies → what the provider makes of them. */
const CLASSIFY: Row[] = [
  [
    "TV not found",
    "token_vault",
    401,
    "federated_connection_refresh_token_not_found",
    "Federated connection Refresh Token not found.",
    "needs_connect",
  ],
  ["TV tokenset_not_found", "token_vault", 401, "tokenset_not_found", "", "needs_connect"],
  [
    "TV access_denied tokenset",
    "token_vault",
    403,
    "access_denied",
    "tokenset not found",
    "needs_connect",
  ],
  [
    "TV grant off",
    "token_vault",
    403,
    "unauthorized_client",
    "Grant type '…' not allowed for the client.",
    "token_vault_grant_not_enabled",
  ],
  [
    "TV invalid_grant 400",
    "token_vault",
    400,
    "invalid_grant",
    "Unknown or invalid refresh token.",
    "invalid_refresh_token",
  ],
  [
    "TV invalid_grant 401",
    "token_vault",
    401,
    "invalid_grant",
    "Unknown or invalid refresh token.",
    "invalid_refresh_token",
  ],
  [
    "TV invalid_grant 403",
    "token_vault",
    403,
    "invalid_grant",
    "Unknown or invalid refresh token.",
    "invalid_refresh_token",
  ],
  [
    "TV invalid_client",
    "token_vault",
    401,
    "invalid_client",
    "Client authentication failed",
    "invalid_client",
  ],
  [
    "TV mfa 401",
    "token_vault",
    401,
    "mfa_required",
    "Multifactor authentication required",
    "mfa_required",
  ],
  [
    "TV mfa 403",
    "token_vault",
    403,
    "mfa_required",
    "Multifactor authentication required",
    "mfa_required",
  ],
  [
    "TV policy denial",
    "token_vault",
    403,
    "access_denied",
    "Denied by an Action",
    "token_vault_access_denied",
  ],
  [
    "TV 429",
    "token_vault",
    429,
    "too_many_requests",
    "Rate limit exceeded. Please retry after some time.",
    "rate_limited",
  ],
  [
    "global limit 500",
    "token_vault",
    500,
    "access_denied",
    "Global limit has been reached",
    "rate_limited",
  ],
  [
    "global limit 403",
    "mrrt",
    403,
    "access_denied",
    "Global limit has been reached",
    "rate_limited",
  ],
  ["TV 503", "token_vault", 503, undefined, "", "auth0_unavailable"],
  [
    "MRRT not activated",
    "mrrt",
    403,
    "access_denied",
    "Service not enabled within domain: https://t/me/",
    "my_account_api_not_activated",
  ],
  [
    "MRRT client grant (access_denied)",
    "mrrt",
    403,
    "access_denied",
    'Client "x" is not authorized to access resource server "https://t/me/"',
    "my_account_client_grant_missing",
  ],
  [
    "MRRT client grant (invalid_request)",
    "mrrt",
    400,
    "invalid_request",
    'Client "x" is not authorized to access resource server "https://t/me/"',
    "my_account_client_grant_missing",
  ],
  ["MRRT 2FA", "mrrt", 403, "unmet_authentication_requirements", "", "my_account_mfa_required"],
  [
    "MRRT grant off",
    "mrrt",
    403,
    "unauthorized_client",
    "Grant type 'refresh_token' not allowed for the client.",
    "refresh_token_grant_not_enabled",
  ],
  [
    "MRRT invalid_grant",
    "mrrt",
    403,
    "invalid_grant",
    "Unknown or invalid refresh token.",
    "invalid_refresh_token",
  ],
  ["connect 401", "connect", 401, "Unauthorized", "Invalid token.", "my_account_token_rejected"],
  ["connect 403", "connect", 403, "Forbidden", "Insufficient scope", "mrrt_policy_missing"],
  ["connect 415", "connect", 415, "Unsupported Media Type", "", "my_account_request_rejected"],
  ["connect 429", "connect", 429, "Too Many Requests", "", "rate_limited"],
  ["complete 409", "complete", 409, "Conflict", "", "connect_flow_dead"],
  ["complete 400", "complete", 400, "Bad Request", "", "connect_flow_dead"],
];

Deno.test("fidelity classify: each real error body maps to its flow signal or checklist code", () => {
  for (const [name, endpoint, status, error, description, expected] of CLASSIFY) {
    assertEquals(classify(new Auth0Failure(endpoint, status, error, description)), expected, name);
  }
  // `validation_errors[].field` values are a guess (GUESSES.md): classify never keys on them;
  // the connect flow establishes the cause itself (misconfig_test "guess variants").
  const field = (f: string) => new Auth0Failure("connect", 400, "Bad Request", "", [f]);
  assertEquals(classify(field("connection")), "my_account_request_rejected");
  assertEquals(classify(field("redirect_uri")), "my_account_request_rejected");
  // Nor on the wording of a rotation refusal (a guess too): only an observed rotation counts.
  const vault = new Auth0Failure(
    "token_vault",
    400,
    "invalid_request",
    "Token Vault does not support refresh token rotation.",
  );
  assertEquals(classify(vault), "auth0_request_rejected");
  assertEquals(classify(vault, { rotationObserved: true }), "refresh_token_rotation_enabled");
});

// ------------------------------------------------------------------ provider vs checklist #11

Deno.test("provider: a connected account lost after a refresh reconnects (not checklist #11)", async () => {
  await using w = await world();
  const cache = new MemoryCacheStore({ now: w.now });
  const emu: Auth0Emulator = w.emu;
  const port: AuthPort = {
    callbackUrl: "http://127.0.0.1:9/cb",
    async authenticate(req) {
      if (!req.url) throw new Error("unexpected login");
      return { kind: "callback", params: (await emu.approve(req.url)).params };
    },
    invalidate: () => Promise.resolve(),
  };
  const p = new Auth0Provider({
    domain: emu.url,
    clientId: emu.clientId,
    clientSecret: emu.clientSecret,
    refreshToken: emu.issueRefreshToken(),
    cache,
    auth: port,
    now: w.now,
  });
  const first = await p.getToken("gmail");
  w.clock.t += 1_400_000;
  const second = await p.getToken("gmail");
  assert(first !== second && emu.googleTokens.validate(second).ok, "the vault refreshed");
  // The user disconnects the account; the next exchange after expiry starts a new connect.
  for (const a of emu.accounts()) {
    const bearer = await w.meToken();
    await w.me("DELETE", `/accounts/${a.id}`, bearer);
  }
  w.clock.t += 1_400_000;
  assert(emu.googleTokens.validate(await p.getToken("gmail")).ok);
  assertEquals(emu.countRequests({ path: "/me/v1/connected-accounts/connect" }), 2);
});
