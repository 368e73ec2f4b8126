/**
 * Auth0 Token Vault credential provider: public surface.
 *
 * @example
 * ```ts
 * import { Auth0Provider, AUTH0_CHECKLIST, diagnose } from "./mod.ts";
 * ```
 * @module
 */
export {
  Auth0Provider,
  type Auth0ProviderOptions,
  DEFAULT_CONNECTION_SCOPES,
  DEFAULT_CONNECTIONS,
  FEDERATED_TOKEN_TYPE,
  GMAIL_CONNECT_SCOPES,
  MY_ACCOUNT_SCOPES,
  REFRESH_TOKEN_TYPE,
  TOKEN_VAULT_GRANT,
} from "./provider.ts";
export {
  AUTH0_CHECKLIST,
  type Auth0Endpoint,
  auth0Error,
  type Auth0ErrorCode,
  Auth0Failure,
  type ChecklistEntry,
  classify,
  flowError,
  mayBeRotation,
} from "./checklist.ts";
export {
  diagnose,
  type DiagnoseReport,
  type DiagnoseStep,
  type DiagnoseWarning,
  type DiagnoseWarningCode,
} from "./diagnose.ts";
export { resolveTenant, type Tenant } from "./tenant.ts";
export { identityOf, keysFor } from "./state.ts";
export { type CurrentRefreshToken, type HeldRefreshToken, RefreshTokens } from "./refresh_token.ts";
export { ConnectedAccounts } from "./connected_accounts.ts";
