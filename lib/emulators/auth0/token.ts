/**
 * `POST /oauth/token` of the Auth0 tenant emulator: `authorization_code` (PKCE verified),
 * `refresh_token` (with Multi-Resource Refresh Token to `https://{domain}/me/` and optional
 * rotation with reuse detection) and the Token Vault grant, with the status codes and bodies of
 * auth0.md sections 1.5, 3.1–3.3 and the checklist in section 4.
 *
 * @example
 * ```ts
 * // Served by startAuth0Emulator(); see ./server.ts.
 * ```
 * @module
 */
import { authenticateClient, type Ctx, json, oauthError, readParams, s256 } from "./context.ts";
import {
  AT_TOKEN_TYPE,
  type ConnectedAccount,
  FEDERATED_TOKEN_TYPE,
  type RefreshRecord,
  RT_TOKEN_TYPE,
  type TenantState,
  TOKEN_VAULT_GRANT,
} from "./state.ts";

const OIDC_SCOPES = new Set(["openid", "profile", "email", "offline_access"]);

/** Handle `POST /oauth/token`. Returns the response and the grant type for the request log. */
export async function handleToken(ctx: Ctx, req: Request): Promise<[Response, string?]> {
  const params = await readParams(req);
  if (!params) {
    return [oauthError(400, "invalid_request", "Unsupported or malformed request body.")];
  }
  const grant = params.grant_type;
  const auth = authenticateClient(ctx, req, params);
  if (!auth.ok) return [auth.response, grant];
  switch (grant) {
    case "authorization_code":
      return [await authorizationCode(ctx, req, params), grant];
    case "refresh_token":
      return [await refreshToken(ctx, params), grant];
    case TOKEN_VAULT_GRANT:
      return [tokenVault(ctx, params), grant];
    case undefined:
      return [oauthError(400, "invalid_request", "Missing required parameter: grant_type")];
    default:
      return [
        oauthError(403, "unauthorized_client", `Grant type '${grant}' not allowed for the client.`),
        grant,
      ];
  }
}

async function issueTokens(
  ctx: Ctx,
  userId: string,
  scopes: string[],
  audience: string | undefined,
): Promise<Record<string, unknown>> {
  const ttl = ctx.state.config.accessTokenTtlS;
  const user = ctx.state.user(userId)!;
  const body: Record<string, unknown> = {
    access_token: await ctx.signer.sign({
      sub: userId,
      aud: audience ? [audience, `${ctx.issuer}userinfo`] : `${ctx.issuer}userinfo`,
      azp: ctx.client.clientId,
      scope: scopes.join(" "),
    }, ttl),
    token_type: "Bearer",
    expires_in: ttl,
    scope: scopes.join(" "),
  };
  if (scopes.includes("openid")) {
    body.id_token = await ctx.signer.sign({
      sub: userId,
      aud: ctx.client.clientId,
      email: user.email,
      name: user.name,
    }, 36_000);
  }
  return body;
}

async function authorizationCode(
  ctx: Ctx,
  req: Request,
  p: Record<string, string>,
): Promise<Response> {
  const { state } = ctx;
  if (!p.code) return oauthError(400, "invalid_request", "Missing required parameter: code");
  const code = state.codes.get(p.code);
  state.codes.delete(p.code ?? "");
  if (!code || code.expiresAt <= state.now() || code.clientId !== ctx.client.clientId) {
    return oauthError(403, "invalid_grant", "Invalid authorization code");
  }
  if (p.redirect_uri !== code.redirectUri) {
    return oauthError(
      403,
      "invalid_grant",
      "The redirect_uri MUST match the registered callback URL for this application.",
    );
  }
  if (code.codeChallenge) {
    if (!p.code_verifier || (await s256(p.code_verifier)) !== code.codeChallenge) {
      return oauthError(403, "invalid_grant", "Failed to verify code verifier");
    }
  }
  const body = await issueTokens(ctx, code.userId, code.scopes, code.audience);
  const cfg = state.config;
  // A refresh token needs offline_access, the Refresh Token grant and, for a custom audience,
  // the API's Allow Offline Access; never for a browser-originated code exchange (auth0.md 3.1).
  if (
    code.scopes.includes("offline_access") && cfg.refreshTokenGrant &&
    (!code.audience || cfg.apiOfflineAccess) && !req.headers.has("origin")
  ) {
    body.refresh_token = state.issueRefreshToken({
      clientId: code.clientId,
      userId: code.userId,
      scopes: code.scopes,
      audience: code.audience,
    });
  }
  return json(200, body);
}

/** A refresh token that may be presented now, or the error response (auth0.md 3.2–3.3). */
function usableRefreshToken(
  ctx: Ctx,
  token: string,
): { rec: RefreshRecord } | { response: Response } {
  const { state } = ctx;
  const cfg = state.config;
  const now = state.now();
  const invalid = () => ({
    response: oauthError(403, "invalid_grant", "Unknown or invalid refresh token."),
  });
  const rec = state.refreshTokens.get(token);
  if (!rec || rec.revoked || rec.clientId !== ctx.client.clientId) return invalid();
  // Rotating lifetime (`token_lifetime`) is absolute: successors inherit it.
  if (rec.expiresAt !== undefined && rec.expiresAt <= now) return invalid();
  if (rec.rotated) {
    // Within the Rotation Overlap Period only the immediately previous token may be reused.
    const next = rec.successor ? state.refreshTokens.get(rec.successor) : undefined;
    const overlap = cfg.rotationLeewayS > 0 &&
      now - (rec.rotatedAt ?? 0) <= cfg.rotationLeewayS * 1000 && next !== undefined &&
      !next.rotated && !next.revoked;
    if (!overlap) {
      // Reuse detection: revoke the whole family and the grant (tenant log `ferrt`).
      state.revokeFamily(rec.family);
      return invalid();
    }
  }
  if (rec.rotating && !cfg.refreshTokenRotation) {
    // Rotation was turned off: exchanging a rotating token revokes the rotating family
    // (auth0.md 3.3). Not in the reference: whether that exchange itself fails; here it does.
    state.revokeFamily(rec.family);
    return invalid();
  }
  return { rec };
}

async function refreshToken(ctx: Ctx, p: Record<string, string>): Promise<Response> {
  const { state } = ctx;
  const cfg = state.config;
  if (!cfg.refreshTokenGrant) {
    return oauthError(
      403,
      "unauthorized_client",
      "Grant type 'refresh_token' not allowed for the client.",
    );
  }
  if (!p.refresh_token) {
    return oauthError(400, "invalid_request", "Missing required parameter: refresh_token");
  }
  const usable = usableRefreshToken(ctx, p.refresh_token);
  if ("response" in usable) return usable.response;
  const { rec } = usable;
  const audience = p.audience || rec.audience;
  const requested = p.scope ? p.scope.split(" ").filter(Boolean) : rec.scopes;
  let granted: string[];
  if (audience === ctx.meAudience && audience !== rec.audience) {
    if (!cfg.myAccountApi) {
      // Not in the reference: the status of this error (the message is the field-observed one).
      return oauthError(
        403,
        "access_denied",
        `Service not enabled within domain: ${ctx.meAudience}`,
      );
    }
    if (!cfg.myAccountClientGrant) {
      return oauthError(
        403,
        "access_denied",
        `Client "${ctx.client.clientId}" is not authorized to access resource server "${ctx.meAudience}"`,
      );
    }
    // The Default Policy (Early Access) refuses /me/ refreshes once the login is older than
    // 15 minutes for users without an enrollable second factor (auth0.md 1.5, checklist #16).
    // Not in the reference: the status and description.
    if (cfg.myAccountRequire2fa && state.now() - rec.authTime > 15 * 60_000) {
      return oauthError(
        403,
        "unmet_authentication_requirements",
        "The user must complete multi-factor authentication to access this resource.",
      );
    }
    // MRRT: scopes outside the policy are silently dropped (auth0.md 2.1). Not in the
    // reference: OIDC scopes are kept only when the login granted them.
    granted = requested.filter((s) =>
      OIDC_SCOPES.has(s) ? rec.scopes.includes(s) : cfg.mrrtPolicyScopes.includes(s)
    );
  } else if (audience !== rec.audience) {
    // Not in the reference: an audience outside the MRRT policies; this is the standard
    // unknown-audience answer.
    return oauthError(403, "access_denied", `Service not enabled within domain: ${audience}`);
  } else {
    // A narrower `scope` is honoured. Not in the reference: what a wider one does; here the
    // extra scopes are dropped.
    granted = requested.filter((s) => rec.scopes.includes(s));
  }
  const body = await issueTokens(ctx, rec.userId, granted, audience);
  if (cfg.refreshTokenRotation) {
    if (!rec.rotating) {
      // Rotation was turned on: the first exchange of a non-rotating token deletes all
      // non-rotating tokens of this client, resource server and user (auth0.md 3.3).
      for (const r of state.refreshTokens.values()) {
        if (
          !r.rotating && r.clientId === rec.clientId && r.userId === rec.userId &&
          r.audience === rec.audience
        ) r.revoked = true;
      }
    }
    body.refresh_token = rotate(state, rec);
  }
  return json(200, body);
}

/**
 * `POST /oauth/revoke` (auth0.md 7 lists the endpoint only). Not in the reference: the answers
 * follow RFC 7009 (200 with an empty body, also for an unknown token; 400/401 as at the token
 * endpoint), and revoking a refresh token revokes its rotation family.
 */
export async function handleRevoke(ctx: Ctx, req: Request): Promise<Response> {
  const params = await readParams(req);
  if (!params) return oauthError(400, "invalid_request", "Unsupported or malformed request body.");
  const auth = authenticateClient(ctx, req, params);
  if (!auth.ok) return auth.response;
  if (!params.token) return oauthError(400, "invalid_request", "Missing required parameter: token");
  const rec = ctx.state.refreshTokens.get(params.token);
  if (rec && rec.clientId === auth.clientId) ctx.state.revokeFamily(rec.family);
  return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
}

function tokenVault(ctx: Ctx, p: Record<string, string>): Response {
  const { state } = ctx;
  const cfg = state.config;
  if (!cfg.tokenVaultGrant) {
    return oauthError(
      403,
      "unauthorized_client",
      `Grant type '${TOKEN_VAULT_GRANT}' not allowed for the client.`,
    );
  }
  // Not in the reference: the wording (and 400 status) of missing-parameter errors.
  for (
    const name of ["subject_token", "subject_token_type", "requested_token_type", "connection"]
  ) {
    if (!p[name]) return oauthError(400, "invalid_request", `Missing required parameter: ${name}`);
  }
  if (p.subject_token_type === AT_TOKEN_TYPE) {
    // The emulated client is a Regular Web App, never a Custom API Client: the docs give
    // "401/403 when the access token's aud does not match the calling client's linked API".
    return oauthError(
      403,
      "unauthorized_client",
      "The client is not a Custom API Client linked to the token's audience.",
    );
  }
  // Not in the reference: the answer to the Privileged Worker (`…:jwt`, Early Access) and other
  // subject/requested token types; the emulator supports the refresh-token variant only.
  if (p.subject_token_type !== RT_TOKEN_TYPE) {
    return oauthError(400, "invalid_request", "Unsupported subject_token_type.");
  }
  if (p.requested_token_type !== FEDERATED_TOKEN_TYPE) {
    return oauthError(400, "invalid_request", "Unsupported requested_token_type.");
  }
  // An invalid subject token: the docs list 401, the field reports 400/403 `invalid_grant`
  // "Unknown or invalid refresh token." (auth0.md 1.5); the emulator answers 403 as the
  // refresh grant does.
  const usable = usableRefreshToken(ctx, p.subject_token);
  if ("response" in usable) return usable.response;
  const { rec } = usable;
  const underRotation = cfg.refreshTokenRotation
    ? state.guesses.tokenVaultUnderRotation
    : undefined;
  // [guess] the docs say only "Token Vault does not support refresh token rotation"; the answer
  // is a switchable variant (GUESSES.md).
  if (underRotation === "invalid_request") {
    return oauthError(
      400,
      "invalid_request",
      "Token Vault does not support refresh token rotation. Disable Refresh Token Rotation for the application.",
    );
  }
  if (underRotation === "access_denied") {
    return oauthError(403, "access_denied", "The request was denied.");
  }
  // The docs say an Always MFA policy makes Token Vault retrieval fail; not in the reference: the
  // exact error (401/403 `mfa_required` with an `mfa_token` is the generic form).
  if (cfg.mfaPolicy === "always") {
    return oauthError(403, "mfa_required", "Multifactor authentication required", {
      mfa_token: "emu-mfa-" + crypto.randomUUID(),
    });
  }
  const user = state.user(rec.userId)!;
  // `login_hint` is the provider-side user id in the SDKs; [guess] whether the email works too
  // is a switchable variant (GUESSES.md).
  const hintMatches = (hint: string) =>
    hint === user.googleSub || hint === googleAccountId(user.googleSub) ||
    (state.guesses.loginHint === "id_or_email" && hint === user.email);
  const account = state.accounts.find((a) =>
    a.userId === rec.userId && a.connection === p.connection &&
    (!p.login_hint || hintMatches(p.login_hint))
  );
  const notFound = () =>
    oauthError(
      401,
      "federated_connection_refresh_token_not_found",
      "Federated connection Refresh Token not found.",
    );
  if (!account) return notFound();
  const now = state.now();
  if (!account.googleAccessToken || (account.googleExpiresAt ?? 0) <= now) {
    if (!account.offline) {
      // No provider refresh token stored (checklist #11): the tokenset is gone once the access
      // token expired, and the exchange answers 401 not-found.
      state.accounts = state.accounts.filter((a) => a !== account);
      return notFound();
    }
    mintGoogle(ctx, account);
  }
  // `scope` is documented as present when it differs from what was granted; the emulator always
  // sends it (auth0-ai compares it with the scopes a tool needs).
  const body: Record<string, unknown> = {
    access_token: account.googleAccessToken,
    expires_in: Math.max(0, Math.floor(((account.googleExpiresAt ?? now) - now) / 1000)),
    scope: account.scopes.join(" "),
    issued_token_type: FEDERATED_TOKEN_TYPE,
    token_type: "Bearer",
  };
  if (underRotation === "rotates") {
    // The variant where the exchange rotates its subject token like the refresh grant.
    body.refresh_token = rotate(state, rec);
  }
  return json(200, body);
}

/**
 * Issue `rec`'s successor in its family. A reuse within the overlap period gets a token too,
 * but `rec` stays the predecessor of its first successor: once that one rotates, `rec` is no
 * longer reusable.
 */
function rotate(state: TenantState, rec: RefreshRecord): string {
  const next = state.issueRefreshToken({
    clientId: rec.clientId,
    userId: rec.userId,
    scopes: rec.scopes,
    audience: rec.audience,
    family: rec.family,
    authTime: rec.authTime,
    expiresAt: rec.rotating ? rec.expiresAt : undefined,
  });
  if (!rec.rotated) {
    rec.rotated = true;
    rec.rotatedAt = state.now();
    rec.successor = next;
  }
  return next;
}

/** The Google account id in an Auth0 user id such as `google-oauth2|1000…`. */
function googleAccountId(sub: string): string {
  return sub.includes("|") ? sub.slice(sub.indexOf("|") + 1) : sub;
}

/** Mint a Google access token for a connected account through the shared registry. */
export function mintGoogle(ctx: Ctx, account: ConnectedAccount): void {
  const user = ctx.state.user(account.userId)!;
  const ttlS = ctx.state.config.googleTokenTtlS;
  const { token } = ctx.googleTokens.issue({
    sub: user.googleSub,
    email: user.email,
    scopes: [...account.scopes],
    ttlS,
  });
  account.googleAccessToken = token;
  account.googleExpiresAt = ctx.state.now() + ttlS * 1000;
}
