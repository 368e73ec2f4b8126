/**
 * Every way Auth0 can refuse the Token Vault path, mapped to a stable mcs error code, the tenant
 * checklist item (auth0.md section 4) that fixes it, and the fix in one sentence. The provider
 * classifies failures by structured `error` code + HTTP status + endpoint (a description is only
 * used to tell apart two causes that share one code), and `mcs doctor` walks the same table.
 *
 * @example
 * ```ts
 * import { AUTH0_CHECKLIST } from "./checklist.ts";
 * AUTH0_CHECKLIST.token_vault_grant_not_enabled.fix; // "Applications → … → Grant Types: enable Token Vault"
 * ```
 * @module
 */
import { ConfigError, McsError, summarizeUpstream } from "../../errors.ts";

/** Stable error codes raised by the Auth0 provider. */
export type Auth0ErrorCode =
  | "invalid_client"
  | "token_vault_grant_not_enabled"
  | "refresh_token_grant_not_enabled"
  | "refresh_token_rotation_enabled"
  | "offline_access_disabled"
  | "my_account_api_not_activated"
  | "my_account_client_grant_missing"
  | "mrrt_policy_missing"
  | "connection_not_enabled_for_connected_accounts"
  | "callback_url_not_allowed"
  | "connection_offline_access_disabled"
  | "mfa_required"
  | "my_account_mfa_required"
  | "refresh_token_invalid"
  | "refresh_token_missing"
  | "connected_account_missing"
  | "connection_scopes_missing"
  | "scope_not_mapped"
  | "token_vault_access_denied"
  | "my_account_request_rejected"
  | "auth0_request_rejected"
  | "auth0_bad_response"
  | "rate_limited"
  | "auth0_unavailable";

/** One row of the table. */
export interface ChecklistEntry {
  code: Auth0ErrorCode;
  /** Checklist item number(s) in auth0.md section 4; empty when not a tenant setting. */
  items: number[];
  /** The tenant/app setting involved, in Dashboard words. */
  setting: string;
  /** What to do. */
  fix: string;
  /** Config errors (exit 3) need a settings change; runtime errors may pass on retry. */
  category: "config" | "runtime";
  retryable: boolean;
}

function entry(
  code: Auth0ErrorCode,
  items: number[],
  setting: string,
  fix: string,
  category: "config" | "runtime" = "config",
  retryable = false,
): ChecklistEntry {
  return { code, items, setting, fix, category, retryable };
}

/** The mapping table: code → checklist item → fix. */
export const AUTH0_CHECKLIST: Readonly<Record<Auth0ErrorCode, ChecklistEntry>> = {
  invalid_client: entry(
    "invalid_client",
    [1],
    "Application credentials and type",
    "Check MCS_AUTH0_CLIENT_ID / MCS_AUTH0_CLIENT_SECRET and make the application a confidential, first-party Regular Web App (Token Endpoint Authentication Method must not be None).",
  ),
  token_vault_grant_not_enabled: entry(
    "token_vault_grant_not_enabled",
    [2],
    "Grant Types: Token Vault",
    "In Applications → your app → Advanced Settings → Grant Types, enable Token Vault (and Authorization Code, Refresh Token).",
  ),
  refresh_token_grant_not_enabled: entry(
    "refresh_token_grant_not_enabled",
    [2],
    "Grant Types: Refresh Token",
    "In Applications → your app → Advanced Settings → Grant Types, enable Refresh Token.",
  ),
  refresh_token_rotation_enabled: entry(
    "refresh_token_rotation_enabled",
    [3],
    "Refresh Token Rotation",
    "Token Vault does not support refresh token rotation: disable Refresh Token Rotation in Applications → your app → Settings, then log in again.",
  ),
  offline_access_disabled: entry(
    "offline_access_disabled",
    [4, 2],
    "Offline access (refresh tokens)",
    "No refresh token was issued: request the offline_access scope, enable Allow Offline Access on the API (for a custom audience) and the Refresh Token grant, then log in again.",
  ),
  my_account_api_not_activated: entry(
    "my_account_api_not_activated",
    [5],
    "My Account API",
    "Activate the My Account API: Applications → APIs → MyAccount API banner → Activate.",
  ),
  my_account_client_grant_missing: entry(
    "my_account_client_grant_missing",
    [6],
    "My Account API application access",
    "Authorize the app for the My Account API: Applications → APIs → Auth0 My Account API → Application Access → your app → User Access: Authorized with create/read/delete:me:connected_accounts.",
  ),
  mrrt_policy_missing: entry(
    "mrrt_policy_missing",
    [8, 6],
    "Multi-Resource Refresh Token policy",
    "Add the My Account API to the app's Multi-Resource Refresh Token policy with create:me:connected_accounts (Applications → your app → Multi-Resource Refresh Token), check the client grant's permissions, then log in again.",
  ),
  connection_not_enabled_for_connected_accounts: entry(
    "connection_not_enabled_for_connected_accounts",
    [9, 10],
    "Connection purpose: Connected Accounts",
    "Enable 'Connected Accounts for Token Vault' on the connection (Authentication → Social → google-oauth2 → Purpose) and enable the connection for your application.",
  ),
  callback_url_not_allowed: entry(
    "callback_url_not_allowed",
    [],
    "Allowed Callback URLs",
    "Add the connector's callback URL to the application's Allowed Callback URLs.",
  ),
  connection_offline_access_disabled: entry(
    "connection_offline_access_disabled",
    [11],
    "Connection permission: Offline Access",
    "Google issued no refresh token: enable Offline Access in the connection's Permissions, then run the command again to reconnect.",
  ),
  mfa_required: entry(
    "mfa_required",
    [15],
    "Tenant MFA policy",
    "Set Security → Multi-factor Auth → policy to Never and trigger MFA from an Action that checks event.transaction.protocol; Token Vault fails under an Always policy.",
  ),
  my_account_mfa_required: entry(
    "my_account_mfa_required",
    [16],
    "My Account API Default Policy",
    "The My Account API requires a second factor: log in again (with MFA) or relax the My Account API Default Policy.",
  ),
  refresh_token_invalid: entry(
    "refresh_token_invalid",
    [18],
    "Refresh token",
    "The Auth0 refresh token was rejected (revoked, expired or for another client): log in again, or replace MCS_AUTH0_REFRESH_TOKEN.",
  ),
  refresh_token_missing: entry(
    "refresh_token_missing",
    [],
    "Refresh token",
    "Set MCS_AUTH0_REFRESH_TOKEN or choose an interactive auth path (auth0-oauth, auth0-linkauth).",
  ),
  connected_account_missing: entry(
    "connected_account_missing",
    [9],
    "Connected account",
    "The user has no connected Google account in Token Vault and no interactive auth path is configured to run the consent: use auth0-oauth or auth0-linkauth once.",
  ),
  connection_scopes_missing: entry(
    "connection_scopes_missing",
    [12],
    "Connection scopes",
    "Configure the provider scopes to request when connecting this scope (connectionScopes).",
  ),
  scope_not_mapped: entry(
    "scope_not_mapped",
    [],
    "Scope to connection map",
    "Map the scope to an Auth0 connection (MCS_AUTH0_CONNECTION or the connections option).",
  ),
  token_vault_access_denied: entry(
    "token_vault_access_denied",
    [1, 15],
    "Token Vault access",
    "Auth0 denied the Token Vault exchange (a policy or Action): check Monitoring → Logs for the feta event.",
  ),
  my_account_request_rejected: entry(
    "my_account_request_rejected",
    [5, 6, 9],
    "My Account API",
    "The My Account API rejected the request; check Monitoring → Logs for the failure reason.",
    "runtime",
  ),
  auth0_request_rejected: entry(
    "auth0_request_rejected",
    [],
    "Auth0 request",
    "Auth0 rejected the request; check Monitoring → Logs in the Auth0 Dashboard.",
    "runtime",
  ),
  auth0_bad_response: entry(
    "auth0_bad_response",
    [],
    "Auth0 response",
    "Auth0 (or the relay) returned a response mcs could not understand; retry, and check the relay or proxy.",
    "runtime",
    true,
  ),
  rate_limited: entry(
    "rate_limited",
    [],
    "Rate limits",
    "Auth0 rate limit reached: wait and retry.",
    "runtime",
    true,
  ),
  auth0_unavailable: entry(
    "auth0_unavailable",
    [],
    "Auth0 availability",
    "Auth0 did not answer normally: retry later.",
    "runtime",
    true,
  ),
};

/** Which Auth0 call failed. */
export type Auth0Endpoint = "token_vault" | "mrrt" | "connect" | "complete" | "accounts";

/** A normalised Auth0 failure (OAuth-style or problem+json). Never carries secrets. */
export class Auth0Failure extends Error {
  constructor(
    readonly endpoint: Auth0Endpoint,
    readonly status: number,
    readonly error: string | undefined,
    readonly description: string | undefined,
    readonly fields: readonly string[] = [],
    readonly retryAfterS?: number,
  ) {
    super(`${endpoint}: HTTP ${status} ${error ?? ""}`.trim());
    this.name = "Auth0Failure";
  }
}

/** Outcomes that are part of the flow rather than errors. */
export type FlowSignal =
  | "needs_connect"
  | "invalid_refresh_token"
  | "my_account_token_rejected"
  | "connect_flow_dead";

/** Classify a failure: a flow signal, or an error code from {@link AUTH0_CHECKLIST}. */
export function classify(
  f: Auth0Failure,
  hints: { rotationObserved?: boolean } = {},
): FlowSignal | Auth0ErrorCode {
  const e = f.error;
  const desc = f.description ?? "";
  if (f.status === -1) return "auth0_bad_response";
  if (f.status === 429 || e === "too_many_requests") return "rate_limited";
  // Old field reports: a global-limit hit as `access_denied` "Global limit has been reached"
  // (seen as HTTP 500 through an SDK; matched at any status).
  if (e === "access_denied" && /global limit/i.test(desc)) return "rate_limited";
  if (f.status === 0 || f.status >= 500) return "auth0_unavailable";
  if (e === "invalid_client") return "invalid_client";
  if (e === "mfa_required") return "mfa_required";
  if (e === "invalid_grant") {
    return hints.rotationObserved ? "refresh_token_rotation_enabled" : "invalid_refresh_token";
  }
  switch (f.endpoint) {
    case "token_vault":
      if (e === "federated_connection_refresh_token_not_found" || e === "tokenset_not_found") {
        return "needs_connect";
      }
      if (e === "access_denied" && /tokenset/i.test(desc)) return "needs_connect";
      if (e === "unauthorized_client") return "token_vault_grant_not_enabled";
      // Rotation is known from a refresh response that carried a new refresh token (see
      // refresh_token.ts), never from the wording of this error (undocumented).
      if (e === "invalid_request" && hints.rotationObserved) {
        return "refresh_token_rotation_enabled";
      }
      if (e === "access_denied") return "token_vault_access_denied";
      return "auth0_request_rejected";
    case "mrrt":
      if (e === "unauthorized_client") return "refresh_token_grant_not_enabled";
      if (e === "unmet_authentication_requirements") return "my_account_mfa_required";
      if (e === "access_denied" || e === "invalid_request") {
        if (/not authorized to access resource server/i.test(desc)) {
          return "my_account_client_grant_missing";
        }
        if (e === "access_denied") return "my_account_api_not_activated";
      }
      return "auth0_request_rejected";
    case "connect":
    case "complete":
    case "accounts":
      // Which setting a refused `/connect` points to is established by the connect flow
      // itself (connected_accounts.ts), not from `validation_errors` (their shape is a guess).
      if (f.status === 401) return "my_account_token_rejected";
      if (f.status === 403) return "mrrt_policy_missing";
      if (f.endpoint === "complete" && (f.status === 400 || f.status === 404 || f.status === 409)) {
        return "connect_flow_dead";
      }
      return "my_account_request_rejected";
  }
}

/**
 * The error for a classified failure: flow signals that escaped their flow become the checklist
 * code that explains them; other codes map to their own row.
 */
export function flowError(kind: FlowSignal | Auth0ErrorCode, failure: Auth0Failure): McsError {
  switch (kind) {
    case "needs_connect":
      return auth0Error("connected_account_missing", { failure });
    case "invalid_refresh_token":
      return auth0Error("refresh_token_invalid", { failure });
    case "my_account_token_rejected":
      return auth0Error("my_account_request_rejected", {
        failure,
        detail: "The My Account API rejected mcs's access token.",
      });
    case "connect_flow_dead":
      return auth0Error("my_account_request_rejected", {
        failure,
        detail: "The connect flow is no longer valid; run the command again.",
      });
    default:
      return auth0Error(kind, { failure });
  }
}

/**
 * Whether a Token Vault refusal could be Refresh Token Rotation (which Token Vault does not
 * support, in words the docs do not give): a 4xx mcs has no specific reason for. The caller
 * then learns rotation from a refresh response (a new `refresh_token` in it).
 */
export function mayBeRotation(kind: FlowSignal | Auth0ErrorCode, f: Auth0Failure): boolean {
  return f.endpoint === "token_vault" && f.status >= 400 && f.status < 500 &&
    (kind === "auth0_request_rejected" || kind === "token_vault_access_denied");
}

/** Build the McsError for a checklist code. */
export function auth0Error(
  code: Auth0ErrorCode,
  context: { failure?: Auth0Failure; detail?: string; cause?: unknown } = {},
): McsError {
  const row = AUTH0_CHECKLIST[code];
  const f = context.failure;
  const upstream = f
    ? ` (Auth0 ${f.endpoint} HTTP ${f.status}${
      f.error || f.description
        ? `: ${summarizeUpstream({ error: f.error, error_description: f.description }, 160)}`
        : ""
    })`
    : "";
  const message = `${context.detail ? `${context.detail} ` : ""}${row.fix}${upstream}`;
  const details: Record<string, unknown> = {
    checklist_items: row.items,
    setting: row.setting,
    ...(f ? { endpoint: f.endpoint, http_status: f.status, upstream_error: f.error } : {}),
    ...(f?.retryAfterS !== undefined ? { retry_after_s: f.retryAfterS } : {}),
  };
  const opts = { retryable: row.retryable, cause: context.cause ?? f, details };
  return row.category === "config"
    ? new ConfigError(code, message, opts)
    : new McsError(code, message, "runtime", opts);
}
