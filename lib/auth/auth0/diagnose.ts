/**
 * `diagnose()`: a non-interactive probe for `mcs doctor`. It walks the Token Vault path with the
 * configured (or cached) refresh token and reports the first missing tenant setting, with its
 * checklist entry. It never starts a login or a connect flow and never returns a token.
 *
 * @example
 * ```ts
 * import { diagnose } from "./diagnose.ts";
 * import type { CacheStore } from "../../cache/types.ts";
 * declare const cache: CacheStore;
 * const report = await diagnose({ domain: "tenant.us.auth0.com", clientId: "id", clientSecret: "s", cache });
 * if (!report.ok) console.log(report.failure?.code, report.failure?.fix);
 * ```
 * @module
 */
import { McsError } from "../../errors.ts";
import {
  AUTH0_CHECKLIST,
  type Auth0ErrorCode,
  Auth0Failure,
  type ChecklistEntry,
  classify,
} from "./checklist.ts";
import {
  type Auth0ProviderOptions,
  DEFAULT_CONNECTIONS,
  FEDERATED_TOKEN_TYPE,
  MY_ACCOUNT_SCOPES,
  REFRESH_TOKEN_TYPE,
  TOKEN_VAULT_GRANT,
} from "./provider.ts";
import { keysFor, type StoredRefreshToken } from "./state.ts";
import { resolveTenant } from "./tenant.ts";
import { Auth0Transport } from "./transport.ts";

/** One probe step. */
export interface DiagnoseStep {
  name: "tenant" | "refresh_token" | "token_vault_exchange" | "my_account_token" | "my_account_api";
  ok: boolean;
  /** Error code when the step failed (or a note such as `needs_connect`). */
  code?: string;
  message?: string;
}

/** The report. */
export interface DiagnoseReport {
  /** True when the exchange works or only the user's consent is missing. */
  ok: boolean;
  steps: DiagnoseStep[];
  /** The first missing setting, if any. */
  failure?: ChecklistEntry & { message: string };
  /** Whether the user still has to connect the account (not a tenant problem). */
  needsConnect?: boolean;
}

/** Probe the tenant for `scope` (default `gmail`). */
export async function diagnose(
  options: Omit<Auth0ProviderOptions, "auth"> & { scope?: string },
): Promise<DiagnoseReport> {
  const steps: DiagnoseStep[] = [];
  const fail = (
    step: DiagnoseStep["name"],
    code: Auth0ErrorCode,
    message: string,
  ): DiagnoseReport => {
    steps.push({ name: step, ok: false, code, message });
    return { ok: false, steps, failure: { ...AUTH0_CHECKLIST[code], message } };
  };
  const fromError = (step: DiagnoseStep["name"], err: unknown): DiagnoseReport => {
    if (err instanceof Auth0Failure) {
      const kind = classify(err);
      const code: Auth0ErrorCode = kind === "invalid_refresh_token"
        ? "refresh_token_invalid"
        : kind === "needs_connect" || kind === "my_account_token_rejected" ||
            kind === "connect_flow_dead"
        ? "my_account_request_rejected"
        : kind;
      return fail(step, code, AUTH0_CHECKLIST[code].fix);
    }
    if (err instanceof McsError) return fail(step, err.code as Auth0ErrorCode, err.message);
    throw err;
  };
  let tenant;
  try {
    tenant = resolveTenant(options.domain);
    steps.push({ name: "tenant", ok: true });
  } catch (err) {
    return fromError("tenant", err);
  }
  const keys = keysFor(tenant.host, options.clientId);
  const stored = await options.cache.get<StoredRefreshToken>(keys.refreshToken);
  const rt = options.refreshToken ?? (stored?.kind === "refresh_token" ? stored.value : undefined);
  if (!rt) {
    return fail(
      "refresh_token",
      "refresh_token_missing",
      "No refresh token is configured or cached; log in first (any mcs command starts the login).",
    );
  }
  steps.push({ name: "refresh_token", ok: true });
  const t = new Auth0Transport({
    tenant,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    fetch: options.fetch,
    relay: options.relay,
    clientAuth: options.clientAuth,
  });
  const scope = options.scope ?? "gmail";
  const connection = options.connections?.[scope] ?? DEFAULT_CONNECTIONS[scope] ?? scope;
  try {
    await t.token("token_vault", TOKEN_VAULT_GRANT, {
      subject_token: rt,
      subject_token_type: REFRESH_TOKEN_TYPE,
      requested_token_type: FEDERATED_TOKEN_TYPE,
      connection,
      ...(options.loginHint ? { login_hint: options.loginHint } : {}),
    });
    steps.push({ name: "token_vault_exchange", ok: true });
    return { ok: true, steps };
  } catch (err) {
    if (!(err instanceof Auth0Failure) || classify(err) !== "needs_connect") {
      return fromError("token_vault_exchange", err);
    }
    steps.push({
      name: "token_vault_exchange",
      ok: true,
      code: "needs_connect",
      message: "No connected account yet.",
    });
  }
  // The account is not connected yet: check that the connect flow could run.
  let token: string;
  try {
    const res = await t.token("mrrt", "refresh_token", {
      refresh_token: rt,
      audience: tenant.meAudience,
      scope: MY_ACCOUNT_SCOPES.join(" "),
    });
    if (!(res.scope ?? "").split(" ").includes("create:me:connected_accounts")) {
      return fail(
        "my_account_token",
        "mrrt_policy_missing",
        AUTH0_CHECKLIST.mrrt_policy_missing.fix,
      );
    }
    token = res.access_token;
    steps.push({ name: "my_account_token", ok: true });
  } catch (err) {
    return fromError("my_account_token", err);
  }
  try {
    const list = await t.myAccount("accounts", "GET", "/connected-accounts/connections", token) as {
      connections?: { name?: string }[];
    };
    if (!list?.connections?.some((c) => c.name === connection)) {
      return fail(
        "my_account_api",
        "connection_not_enabled_for_connected_accounts",
        AUTH0_CHECKLIST.connection_not_enabled_for_connected_accounts.fix,
      );
    }
    steps.push({ name: "my_account_api", ok: true });
  } catch (err) {
    return fromError("my_account_api", err);
  }
  return { ok: true, steps, needsConnect: true };
}
