/**
 * `diagnose()`: a non-interactive probe for `mcs doctor`. It walks the Token Vault path with the
 * configured (or cached) refresh token and reports the first missing tenant setting, with its
 * checklist entry, plus warnings for the settings a probe cannot verify up front (the API's and
 * the connection's Offline Access, and My Account settings that only matter when reconnecting).
 * It never starts a login or a connect flow and never returns a token. It writes the cache in
 * one case only: a refresh response that carries a new refresh token (a rotating tenant) is
 * persisted before anything else uses it (`refresh_token.ts`), so running it twice never
 * presents a spent token (which would make Auth0 revoke the whole token family). Rotation is
 * detected from that response alone: a Token Vault refusal Auth0 does not explain is followed
 * by the refresh probe, and a rotated token there names Refresh Token Rotation as the cause.
 *
 * @example
 * ```ts
 * import { diagnose } from "./diagnose.ts";
 * import type { CacheStore } from "../../cache/types.ts";
 * declare const cache: CacheStore;
 * const report = await diagnose({ domain: "tenant.us.auth0.com", clientId: "id", clientSecret: "s", cache });
 * if (!report.ok) console.log(report.failure?.code, report.failure?.fix);
 * for (const w of report.warnings) console.log(w.code, w.message);
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
  mayBeRotation,
} from "./checklist.ts";
import {
  type Auth0ProviderOptions,
  DEFAULT_CONNECTIONS,
  FEDERATED_TOKEN_TYPE,
  MY_ACCOUNT_SCOPES,
  REFRESH_TOKEN_TYPE,
  TOKEN_VAULT_GRANT,
} from "./provider.ts";
import { RefreshTokens } from "./refresh_token.ts";
import { type ConnectedRecord, fingerprint, keysFor } from "./state.ts";
import { resolveTenant } from "./tenant.ts";
import { Auth0Transport } from "./transport.ts";

/** One probe step. */
export interface DiagnoseStep {
  name: "tenant" | "refresh_token" | "token_vault_exchange" | "my_account_token" | "my_account_api";
  /** True when the step passed (`status` "ok"). */
  ok: boolean;
  /**
   * `skipped`: the step could not run (the reason is in `message`). `warning`: it failed, but
   * that only matters later (a My Account check while the account is connected: a reconnect).
   */
  status: "ok" | "failed" | "skipped" | "warning";
  /** Error code when the step failed or was skipped (or a note such as `needs_connect`). */
  code?: string;
  message?: string;
}

/** Why a setting could not be verified (or will fail later although it works now). */
export type DiagnoseWarningCode =
  | "connection_offline_access_unverified"
  | "api_offline_access_unverified"
  | Auth0ErrorCode;

/** A warning: not a failure now, but not a clean bill of health either. */
export interface DiagnoseWarning {
  code: DiagnoseWarningCode;
  /** Checklist item number(s) in auth0.md section 4. */
  items: number[];
  /** The tenant setting involved, in Dashboard words. */
  setting: string;
  message: string;
}

/** The report. */
export interface DiagnoseReport {
  /** True when the exchange works or only the user's consent is missing. */
  ok: boolean;
  steps: DiagnoseStep[];
  /**
   * The first missing setting, if any. With no refresh token this is `refresh_token_missing`
   * and the `refresh_token` step is `skipped`: the rest of the probe needs a login first.
   */
  failure?: ChecklistEntry & { message: string };
  /** Whether the user still has to connect the account (not a tenant problem). */
  needsConnect?: boolean;
  /** Settings that could not be verified, or that only break a later reconnect. */
  warnings: DiagnoseWarning[];
}

/** Probe the tenant for `scope` (default `gmail`). */
export async function diagnose(
  options: Omit<Auth0ProviderOptions, "auth"> & { scope?: string },
): Promise<DiagnoseReport> {
  const steps: DiagnoseStep[] = [];
  const warnings: DiagnoseWarning[] = [];
  const warn = (code: DiagnoseWarningCode, items: number[], setting: string, message: string) =>
    warnings.push({ code, items, setting, message });
  const entryFor = (err: unknown): (ChecklistEntry & { message: string }) | undefined => {
    if (err instanceof Auth0Failure) {
      const kind = classify(err);
      const code: Auth0ErrorCode = kind === "invalid_refresh_token"
        ? "refresh_token_invalid"
        : kind === "needs_connect" || kind === "my_account_token_rejected" ||
            kind === "connect_flow_dead"
        ? "my_account_request_rejected"
        : kind;
      return { ...AUTH0_CHECKLIST[code], message: AUTH0_CHECKLIST[code].fix };
    }
    if (err instanceof McsError) {
      const known = (AUTH0_CHECKLIST as Record<string, ChecklistEntry | undefined>)[err.code];
      // A transport failure (timeout, TLS, proxy) has no checklist row: report it as Auth0 being
      // unavailable, with the transport's own message.
      return known ? { ...known, message: err.message } : {
        ...AUTH0_CHECKLIST.auth0_unavailable,
        category: err.category === "config" ? "config" : "runtime",
        message: `${err.code}: ${err.message}`,
      };
    }
    return undefined;
  };
  const fail = (
    step: DiagnoseStep["name"],
    failure: ChecklistEntry & { message: string },
    code: string = failure.code,
  ): DiagnoseReport => {
    steps.push({ name: step, ok: false, status: "failed", code, message: failure.message });
    return { ok: false, steps, failure, warnings };
  };
  const failCode = (step: DiagnoseStep["name"], code: Auth0ErrorCode, message?: string) =>
    fail(step, { ...AUTH0_CHECKLIST[code], message: message ?? AUTH0_CHECKLIST[code].fix });
  const fromError = (step: DiagnoseStep["name"], err: unknown): DiagnoseReport => {
    const failure = entryFor(err);
    if (!failure) throw err;
    return fail(step, failure, err instanceof McsError ? err.code : failure.code);
  };
  let tenant;
  try {
    tenant = resolveTenant(options.domain);
    steps.push({ name: "tenant", ok: true, status: "ok" });
  } catch (err) {
    return fromError("tenant", err);
  }
  const keys = keysFor(tenant.host, options.clientId);
  const rts = new RefreshTokens(options.cache, keys, {
    configured: options.refreshToken,
    loginHint: options.loginHint,
  });
  let held = (await rts.current()).token;
  const rt = held?.value;
  const fromLogin = held !== undefined &&
    (!options.refreshToken || held.origin !== await fingerprint(options.refreshToken));
  if (options.audience && !fromLogin) {
    // A token mcs obtained itself came from a login with this audience; any other cannot tell.
    warn(
      "api_offline_access_unverified",
      [4],
      "API Allow Offline Access",
      `Allow Offline Access on the API "${options.audience}" cannot be verified until a login ` +
        `with that audience (Auth0 issues no refresh token at that login when it is off); ` +
        `check APIs → ${options.audience} → Settings → Access Settings → Allow Offline Access ` +
        `in the dashboard.`,
    );
  }
  if (!rt) {
    const message =
      "No refresh token is configured or cached; log in first (any mcs command starts the login).";
    steps.push({
      name: "refresh_token",
      ok: false,
      status: "skipped",
      code: "refresh_token_missing",
      message: `${message} The Token Vault probe needs it.`,
    });
    return {
      ok: false,
      steps,
      failure: { ...AUTH0_CHECKLIST.refresh_token_missing, message },
      warnings,
    };
  }
  steps.push({ name: "refresh_token", ok: true, status: "ok" });
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
  const record = await options.cache.get<ConnectedRecord>(
    keys.connected(held!.identity, scope, connection),
  );
  /** The refresh-grant probe (MRRT to the My Account API); a rotated token is kept first. */
  let rotated = false;
  const refresh = async () => {
    const res = await t.token("mrrt", "refresh_token", {
      refresh_token: held!.value,
      audience: tenant.meAudience,
      scope: MY_ACCOUNT_SCOPES.join(" "),
    });
    const next = await rts.adopt(held!, res, { refreshGrant: true });
    rotated ||= next.value !== held!.value;
    held = next;
    return res;
  };
  const offlineSetting = "Connection permission: Offline Access";
  const offlineWhere =
    `check Authentication → Social → ${connection} → Permissions → Offline Access in the dashboard`;
  let connected: boolean;
  try {
    const res = await t.token("token_vault", TOKEN_VAULT_GRANT, {
      subject_token: held!.value,
      subject_token_type: REFRESH_TOKEN_TYPE,
      requested_token_type: FEDERATED_TOKEN_TYPE,
      connection,
      ...(options.loginHint ? { login_hint: options.loginHint } : {}),
    });
    held = await rts.adopt(held!, res);
    steps.push({ name: "token_vault_exchange", ok: true, status: "ok" });
    connected = true;
    // #11 shows only once the vault hands out a refreshed provider token (state.ts).
    const refreshed = record?.refreshed === true ||
      (record?.firstToken !== undefined &&
        record.firstToken !== await fingerprint(res.access_token));
    if (!refreshed) {
      warn(
        "connection_offline_access_unverified",
        [11],
        offlineSetting,
        `The connection's Offline Access cannot be verified until the first Google token ` +
          `expires (Token Vault then needs Google's refresh token; until then it works either ` +
          `way); ${offlineWhere}.`,
      );
    }
  } catch (err) {
    const kind = err instanceof Auth0Failure
      ? classify(err, { rotationObserved: await rts.rotationObserved() })
      : undefined;
    if (kind !== "needs_connect") {
      if (kind === "refresh_token_rotation_enabled") {
        return failCode("token_vault_exchange", "refresh_token_rotation_enabled");
      }
      if (err instanceof Auth0Failure && kind && mayBeRotation(kind, err)) {
        // A refusal Auth0 does not explain: Refresh Token Rotation (unsupported by Token Vault)
        // shows in the refresh probe's response, whatever the refusal's wording.
        if (!(await rts.rotationObserved())) await refresh().catch(() => undefined);
        if (await rts.rotationObserved()) {
          return failCode("token_vault_exchange", "refresh_token_rotation_enabled");
        }
      }
      return fromError("token_vault_exchange", err);
    }
    if (record && !record.refreshed) {
      // mcs connected this account and the vault lost it before ever refreshing the provider
      // token: the connection stores no Google refresh token (the provider's rule).
      return failCode(
        "token_vault_exchange",
        "connection_offline_access_disabled",
        "Token Vault lost the connected account before its first token refresh (unless it " +
          `was disconnected meanwhile). ${AUTH0_CHECKLIST.connection_offline_access_disabled.fix}`,
      );
    }
    steps.push({
      name: "token_vault_exchange",
      ok: true,
      status: "ok",
      code: "needs_connect",
      message: "No connected account yet.",
    });
    connected = false;
    warn(
      "connection_offline_access_unverified",
      [11],
      offlineSetting,
      `The connection's Offline Access cannot be verified until the account is connected and ` +
        `its first Google token expires (about an hour later); ${offlineWhere}.`,
    );
  }
  // The connect flow's prerequisites. Not connected: they must work now. Connected: they only
  // matter for a reconnect (a revoked consent, a lost tokenset), so a failure is a warning.
  const myAccount = (step: DiagnoseStep["name"], f: ChecklistEntry & { message: string }) => {
    if (!connected) return fail(step, f);
    steps.push({ name: step, ok: false, status: "warning", code: f.code, message: f.message });
    warn(
      f.code,
      f.items,
      f.setting,
      `Token Vault works now, but reconnecting the account would fail: ${f.message}`,
    );
    return { ok: true, steps, warnings };
  };
  let token: string;
  try {
    const res = await refresh();
    if (rotated) {
      warn(
        "refresh_token_rotation_enabled",
        AUTH0_CHECKLIST.refresh_token_rotation_enabled.items,
        AUTH0_CHECKLIST.refresh_token_rotation_enabled.setting,
        `Auth0 rotated the refresh token (mcs kept the new one). ` +
          AUTH0_CHECKLIST.refresh_token_rotation_enabled.fix,
      );
    }
    if (!(res.scope ?? "").split(" ").includes("create:me:connected_accounts")) {
      return myAccount("my_account_token", {
        ...AUTH0_CHECKLIST.mrrt_policy_missing,
        message: AUTH0_CHECKLIST.mrrt_policy_missing.fix,
      });
    }
    token = res.access_token;
    steps.push({ name: "my_account_token", ok: true, status: "ok" });
  } catch (err) {
    const f = entryFor(err);
    if (!f) throw err;
    return myAccount("my_account_token", f);
  }
  try {
    const list = await t.myAccount("accounts", "GET", "/connected-accounts/connections", token) as {
      connections?: { name?: string }[];
    };
    if (!list?.connections?.some((c) => c.name === connection)) {
      return myAccount("my_account_api", {
        ...AUTH0_CHECKLIST.connection_not_enabled_for_connected_accounts,
        message: AUTH0_CHECKLIST.connection_not_enabled_for_connected_accounts.fix,
      });
    }
    steps.push({ name: "my_account_api", ok: true, status: "ok" });
  } catch (err) {
    const f = entryFor(err);
    if (!f) throw err;
    return myAccount("my_account_api", f);
  }
  return { ok: true, steps, warnings, ...(connected ? {} : { needsConnect: true }) };
}
