/**
 * In-memory state of the Auth0 tenant emulator: the configured client, the tenant switches that
 * reproduce each checklist misconfiguration, users, codes, refresh tokens, Connected Accounts
 * sessions and accounts.
 *
 * @example
 * ```ts
 * import { defaultTenantConfig, TenantState } from "./state.ts";
 * const state = new TenantState({ ...defaultTenantConfig(), tokenVaultGrant: false }, Date.now);
 * state.users[0].email; // "ada@example.com"
 * ```
 * @module
 */

import { encodeBase64Url } from "../../encoding/base64.ts";

/** The Token Vault grant URN. */
export const TOKEN_VAULT_GRANT =
  "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";
/** `subject_token_type` of the refresh-token variant. */
export const RT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:refresh_token";
/** `subject_token_type` of the access-token variant. */
export const AT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
/** `requested_token_type` / `issued_token_type`. */
export const FEDERATED_TOKEN_TYPE =
  "http://auth0.com/oauth/token-type/federated-connection-access-token";
/** The three Connected Accounts scopes of the My Account API. */
export const MY_ACCOUNT_SCOPES = [
  "create:me:connected_accounts",
  "read:me:connected_accounts",
  "delete:me:connected_accounts",
] as const;

/**
 * Tenant switches. Each `false` (or non-default) value reproduces one item of the Token Vault
 * checklist (auth0.md section 4) with the error the real tenant gives. Mutable at runtime.
 */
export interface TenantConfig {
  /** #2: the Token Vault grant is enabled on the client. Off → 403 `unauthorized_client`. */
  tokenVaultGrant: boolean;
  /** #2: the Refresh Token grant is enabled. Off → no refresh tokens, refresh grant refused. */
  refreshTokenGrant: boolean;
  /** #3: refresh token rotation. On → refresh grant rotates; Token Vault exchange refused. */
  refreshTokenRotation: boolean;
  /**
   * Rotation Overlap Period (`leeway`), seconds; 0 = off (the default). Within it only the
   * immediately previous refresh token may be reused (auth0.md 3.3).
   */
  rotationLeewayS: number;
  /**
   * Absolute lifetime of rotating refresh tokens (`token_lifetime`), seconds; default 30 days.
   * It does not extend when tokens rotate (auth0.md 3.3). Non-rotating tokens never expire here
   * (the docs' MRRT example uses `non-expiring`).
   */
  refreshTokenLifetimeS: number;
  /**
   * #4: the custom API's "Allow Offline Access". Off → no refresh token at a code exchange for
   * a login with an `audience` (logins without one still get a refresh token).
   */
  apiOfflineAccess: boolean;
  /** #5: the My Account API is activated. Off → MRRT 403 `access_denied` (service not enabled). */
  myAccountApi: boolean;
  /** #6: the client grant (User Access) to the My Account API. Off → MRRT 403 `access_denied`. */
  myAccountClientGrant: boolean;
  /** #8: the MRRT policy's scopes for `/me/`; `[]` means the policy is missing (scopes dropped). */
  mrrtPolicyScopes: string[];
  /** #9: connections whose purpose includes "Connected Accounts for Token Vault". */
  connectedAccountsConnections: string[];
  /** #11: the connection's "Offline Access" permission. Off → no Google refresh token stored. */
  connectionOfflineAccess: boolean;
  /** #15: tenant MFA policy. `always` → Token Vault exchange 403 `mfa_required`. */
  mfaPolicy: "never" | "always";
  /** #16: My Account "Default Policy: require 2FA" → MRRT 403 `unmet_authentication_requirements`. */
  myAccountRequire2fa: boolean;
  /** Lifetime of minted Google access tokens, seconds (the docs' example is 1377). */
  googleTokenTtlS: number;
  /** Lifetime of Auth0 access tokens (custom audience and `/me/`), seconds. */
  accessTokenTtlS: number;
  /** Lifetime of a Connected Accounts ticket / auth_session, seconds (docs: 300). */
  connectTicketTtlS: number;
  /** Lifetime of an authorization code / connect_code, seconds. */
  codeTtlS: number;
  /** Added latency per request, ms (0 = none). */
  latencyMs: number;
  /**
   * Token bucket of the Authentication API (`/oauth/token`): `burst` requests, refilled at
   * `perSecond`. Default: the Enterprise global limit, 100 burst / 100 per s (auth0.md 6).
   */
  rateLimit: RateLimit;
  /**
   * Token bucket of the My Account API. Not in the reference: connected-accounts limits are not
   * published; the default mirrors {@link TenantConfig.rateLimit}.
   */
  myAccountRateLimit: RateLimit;
}

/**
 * Answers the reference does not give, as switchable variants (lib/emulators/GUESSES.md lists
 * them). Not tenant settings: the client must work, or fail with an actionable code, under
 * every variant. The first value of each is the default.
 */
export interface GuessVariants {
  /**
   * Token Vault while Refresh Token Rotation is on. The docs say only "Token Vault does not
   * support refresh token rotation". `invalid_request`: 400 naming rotation (default);
   * `access_denied`: 403 with an unrelated description; `allowed`: the exchange works (only
   * the refresh grant rotates); `rotates`: the exchange works and returns a new refresh token.
   */
  tokenVaultUnderRotation: "invalid_request" | "access_denied" | "allowed" | "rotates";
  /**
   * The body of a `/connect` refused for a connection not enabled for Connected Accounts or a
   * redirect URI not in Allowed Callback URLs (the docs: "problem+json 400/403" [infer]).
   * `validation_errors`: 400 with `validation_errors[].field` (default); `detail_only`: 400
   * without `validation_errors`; `forbidden`: 403 without `validation_errors`.
   */
  connectRefusal: "validation_errors" | "detail_only" | "forbidden";
  /**
   * What the Token Vault exchange matches `login_hint` against. The SDKs call it the
   * provider-side user id. `id_or_email`: the Google account id or the email (default);
   * `id_only`: the Google account id only.
   */
  loginHint: "id_or_email" | "id_only";
}

/** The default guesses. */
export function defaultGuesses(): GuessVariants {
  return {
    tokenVaultUnderRotation: "invalid_request",
    connectRefusal: "validation_errors",
    loginHint: "id_or_email",
  };
}

/** A token bucket: `burst` requests, refilled at `perSecond`. */
export interface RateLimit {
  burst: number;
  perSecond: number;
}

/** Defaults: a correctly configured tenant. */
export function defaultTenantConfig(): TenantConfig {
  return {
    tokenVaultGrant: true,
    refreshTokenGrant: true,
    refreshTokenRotation: false,
    rotationLeewayS: 0,
    refreshTokenLifetimeS: 2_592_000,
    apiOfflineAccess: true,
    myAccountApi: true,
    myAccountClientGrant: true,
    mrrtPolicyScopes: [...MY_ACCOUNT_SCOPES],
    connectedAccountsConnections: ["google-oauth2"],
    connectionOfflineAccess: true,
    mfaPolicy: "never",
    myAccountRequire2fa: false,
    googleTokenTtlS: 1377,
    accessTokenTtlS: 86_400,
    connectTicketTtlS: 300,
    codeTtlS: 120,
    latencyMs: 0,
    rateLimit: { burst: 100, perSecond: 100 },
    myAccountRateLimit: { burst: 100, perSecond: 100 },
  };
}

/** A tenant user. */
export interface EmulatedUser {
  /** Auth0 user id, e.g. `google-oauth2|100000000000000000001`. */
  userId: string;
  email: string;
  name: string;
  /** The Google account subject the Gmail emulator's mailbox belongs to. */
  googleSub: string;
}

/** The seeded user. The Gmail emulator's default mailbox owner is the same address. */
export const ADA: EmulatedUser = {
  userId: "google-oauth2|100000000000000000001",
  email: "ada@example.com",
  name: "Ada Lovelace",
  googleSub: "google-oauth2|100000000000000000001",
};

/** An authorization code in flight. */
export interface AuthCode {
  clientId: string;
  redirectUri: string;
  userId: string;
  scopes: string[];
  audience?: string;
  codeChallenge?: string;
  expiresAt: number;
}

/** A refresh token record. */
export interface RefreshRecord {
  clientId: string;
  userId: string;
  scopes: string[];
  audience?: string;
  /** Rotation family id: reuse of a rotated token revokes the whole family. */
  family: string;
  revoked: boolean;
  /** Issued while rotation was on (a rotating token). */
  rotating: boolean;
  /** Set when the token was rotated (used once under rotation), with the time and successor. */
  rotated: boolean;
  rotatedAt?: number;
  successor?: string;
  /** Epoch ms of the login behind the token (inherited by rotated successors). */
  authTime: number;
  /** Absolute expiry in epoch ms (rotating tokens; inherited, never extended). */
  expiresAt?: number;
}

/** A Connected Accounts session started by `/connect`. */
export interface ConnectSession {
  authSession: string;
  ticket: string;
  userId: string;
  clientId: string;
  connection: string;
  redirectUri: string;
  state?: string;
  codeChallenge?: string;
  scopes: string[];
  expiresAt: number;
  /** Set once the user approved the consent page. */
  connectCode?: string;
  connectCodeExpiresAt?: number;
  completed: boolean;
}

/** A connected account (an entry of the profile's `connected_accounts`). */
export interface ConnectedAccount {
  id: string;
  userId: string;
  connection: string;
  scopes: string[];
  createdAt: number;
  /** Whether a Google refresh token is stored (connection Offline Access). */
  offline: boolean;
  /** The stored Google access token and its expiry. */
  googleAccessToken?: string;
  googleExpiresAt?: number;
}

/** A logged request (for tests that count Auth0 calls). */
export interface LoggedRequest {
  method: string;
  path: string;
  /** `grant_type` of a `/oauth/token` request. */
  grantType?: string;
  status: number;
  at: number;
}

/** Random URL-safe identifier. */
export function randomId(bytes = 24): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return encodeBase64Url(b);
}

/** Random alphanumeric identifier (for ids such as `cac_…`). */
export function randomAlnum(length = 20): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const b = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(b, (x) => alphabet[x % alphabet.length]).join("");
}

/** All mutable emulator state. */
export class TenantState {
  config: TenantConfig;
  /** The reference's gaps, as switchable variants. */
  guesses: GuessVariants = defaultGuesses();
  now: () => number;
  users: EmulatedUser[] = [ADA];
  codes = new Map<string, AuthCode>();
  refreshTokens = new Map<string, RefreshRecord>();
  /** Keyed by auth_session. */
  connectSessions = new Map<string, ConnectSession>();
  accounts: ConnectedAccount[] = [];
  requests: LoggedRequest[] = [];

  constructor(config: TenantConfig, now: () => number) {
    this.config = config;
    this.now = now;
  }

  user(userId: string): EmulatedUser | undefined {
    return this.users.find((u) => u.userId === userId);
  }

  /**
   * Mint and record a refresh token: rotating (with an absolute expiry) when rotation is on.
   * A rotated successor passes its parent's `family`, `authTime` and `expiresAt`.
   */
  issueRefreshToken(
    rec: Omit<RefreshRecord, "revoked" | "rotated" | "family" | "rotating" | "authTime"> & {
      family?: string;
      authTime?: number;
    },
  ): string {
    const token = "v1.emu-rt." + randomId(32);
    const rotating = this.config.refreshTokenRotation;
    const now = this.now();
    this.refreshTokens.set(token, {
      ...rec,
      family: rec.family ?? randomId(8),
      authTime: rec.authTime ?? now,
      revoked: false,
      rotated: false,
      rotating,
      expiresAt: rec.expiresAt ??
        (rotating ? now + this.config.refreshTokenLifetimeS * 1000 : undefined),
    });
    return token;
  }

  /** Revoke every refresh token of a family. */
  revokeFamily(family: string): void {
    for (const r of this.refreshTokens.values()) if (r.family === family) r.revoked = true;
  }

  /** Find a session by its ticket. */
  sessionByTicket(ticket: string): ConnectSession | undefined {
    for (const s of this.connectSessions.values()) if (s.ticket === ticket) return s;
    return undefined;
  }
}
