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
  RT_TOKEN_TYPE,
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
  // Auth0 never issues refresh tokens to a browser-originated code exchange (auth0.md 3.1).
  if (
    code.scopes.includes("offline_access") && cfg.refreshTokenGrant && cfg.apiOfflineAccess &&
    !req.headers.has("origin")
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
  const rec = state.refreshTokens.get(p.refresh_token);
  if (!rec || rec.revoked || rec.clientId !== ctx.client.clientId) {
    return oauthError(403, "invalid_grant", "Unknown or invalid refresh token.");
  }
  if (rec.rotated) {
    // Reuse detection: revoke the whole family (log event `ferrt`).
    state.revokeFamily(rec.family);
    return oauthError(403, "invalid_grant", "Unknown or invalid refresh token.");
  }
  const audience = p.audience || rec.audience;
  let requested = p.scope ? p.scope.split(" ").filter(Boolean) : rec.scopes;
  let granted: string[];
  if (audience === ctx.meAudience && audience !== rec.audience) {
    if (!cfg.myAccountApi) {
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
    if (cfg.myAccountRequire2fa) {
      return oauthError(
        403,
        "unmet_authentication_requirements",
        "The user must complete multi-factor authentication to access this resource.",
      );
    }
    // MRRT: scopes outside the policy are silently dropped (auth0.md 2.1).
    granted = requested.filter((s) => OIDC_SCOPES.has(s) || cfg.mrrtPolicyScopes.includes(s));
  } else if (audience !== rec.audience) {
    return oauthError(403, "access_denied", `Service not enabled within domain: ${audience}`);
  } else {
    requested = requested.filter((s) => rec.scopes.includes(s) || !OIDC_SCOPES.has(s));
    granted = requested;
  }
  const body = await issueTokens(ctx, rec.userId, granted, audience);
  if (cfg.refreshTokenRotation) {
    rec.rotated = true;
    body.refresh_token = state.issueRefreshToken({
      clientId: rec.clientId,
      userId: rec.userId,
      scopes: rec.scopes,
      audience: rec.audience,
      family: rec.family,
    });
  }
  return json(200, body);
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
  for (
    const name of ["subject_token", "subject_token_type", "requested_token_type", "connection"]
  ) {
    if (!p[name]) return oauthError(400, "invalid_request", `Missing required parameter: ${name}`);
  }
  if (p.subject_token_type === AT_TOKEN_TYPE) {
    return oauthError(
      403,
      "unauthorized_client",
      "The client is not a Custom API Client linked to the token's audience.",
    );
  }
  if (p.subject_token_type !== RT_TOKEN_TYPE) {
    return oauthError(400, "invalid_request", "Unsupported subject_token_type.");
  }
  if (p.requested_token_type !== FEDERATED_TOKEN_TYPE) {
    return oauthError(400, "invalid_request", "Unsupported requested_token_type.");
  }
  const rec = state.refreshTokens.get(p.subject_token);
  if (!rec || rec.revoked || rec.rotated || rec.clientId !== ctx.client.clientId) {
    if (rec?.rotated) state.revokeFamily(rec.family);
    return oauthError(403, "invalid_grant", "Unknown or invalid refresh token.");
  }
  if (cfg.refreshTokenRotation) {
    // [infer] the docs say only "Token Vault does not support refresh token rotation".
    return oauthError(
      400,
      "invalid_request",
      "Token Vault does not support refresh token rotation. Disable Refresh Token Rotation for the application.",
    );
  }
  if (cfg.mfaPolicy === "always") {
    return oauthError(403, "mfa_required", "Multifactor authentication required", {
      mfa_token: "emu-mfa-" + crypto.randomUUID(),
    });
  }
  const user = state.user(rec.userId)!;
  const account = state.accounts.find((a) =>
    a.userId === rec.userId && a.connection === p.connection &&
    (!p.login_hint || p.login_hint === user.email || p.login_hint === user.googleSub)
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
      // No provider refresh token stored: the tokenset is gone once the access token expired.
      state.accounts = state.accounts.filter((a) => a !== account);
      return notFound();
    }
    mintGoogle(ctx, account);
  }
  return json(200, {
    access_token: account.googleAccessToken,
    expires_in: Math.max(0, Math.floor(((account.googleExpiresAt ?? now) - now) / 1000)),
    scope: account.scopes.join(" "),
    issued_token_type: FEDERATED_TOKEN_TYPE,
    token_type: "Bearer",
  });
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
