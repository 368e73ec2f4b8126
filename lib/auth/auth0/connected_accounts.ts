/**
 * The Connected Accounts step of the Auth0 double flow: get a My Account API token (the MRRT
 * exchange, whose rotated refresh token is persisted before anything uses it), start the flow
 * (`/connect` with PKCE), hand the consent URL to the {@link AuthPort}, and complete it once
 * (`/complete`). Every step may run in a fresh process: the pending flow and the result live
 * in the cache store, keyed by identity, scope and connection (see `state.ts`).
 *
 * The whole step runs under a cross-process lease per identity+scope+connection ({@link
 * withLease}; the store lock itself is never held across a request, see there why): an agent
 * that starts several `mcs` calls at once must cause one `/connect` and show one consent code,
 * and the one-time callback must be completed by exactly one process. Waiters re-read
 * everything inside the lease, so they resume the flow the first process stored (same URL,
 * state and broker code) or find the account connected. A port that blocks for the user (the
 * loopback connector under `mcs auth login`) holds the lease meanwhile; a parallel call then
 * waits at most {@link CONNECT_LEASE_MS} and takes over (resuming the same flow).
 *
 * @example
 * ```ts
 * import { ConnectedAccounts } from "./connected_accounts.ts";
 * declare const flow: ConnectedAccounts;
 * declare const rt: import("./refresh_token.ts").HeldRefreshToken;
 * declare const notFound: import("./checklist.ts").Auth0Failure;
 * await flow.ensureConnected("gmail", "google-oauth2", rt, notFound, Date.now());
 * // "completed" | "elsewhere", or an AuthChallenge with the consent URL
 * ```
 * @module
 */
import type * as OAuth from "oauth4webapi";
import type { CacheStore } from "../../cache/types.ts";
import { McsError } from "../../errors.ts";
import { AuthChallenge, type AuthPort, type AuthResult } from "../types.ts";
import { withLease } from "../lease.ts";
import { auth0Error, Auth0Failure, classify, flowError } from "./checklist.ts";
import type { HeldRefreshToken, RefreshTokens } from "./refresh_token.ts";
import type { Auth0Keys, ConnectedRecord, PendingConnect, StoredAccessToken } from "./state.ts";
import type { Tenant } from "./tenant.ts";
import type { Auth0Transport, TokenResponse } from "./transport.ts";

/** Scopes requested for the My Account API token. */
export const MY_ACCOUNT_SCOPES = [
  "create:me:connected_accounts",
  "read:me:connected_accounts",
  "delete:me:connected_accounts",
];

/**
 * Lease on one identity+scope+connection's connect step: longer than its worst case without a
 * user in the loop (My Account token, `/connect`, and the port's broker session, or a poll and
 * `/complete`, each bounded by a 15 s request timeout).
 */
export const CONNECT_LEASE_MS = 90_000;

/** What the flow needs from the provider. */
export interface ConnectedAccountsContext {
  tenant: Tenant;
  transport: Auth0Transport;
  keys: Auth0Keys;
  cache: CacheStore;
  refreshTokens: RefreshTokens;
  auth?: AuthPort;
  loginHint?: string;
  /** Redirect URI when the port has no `callbackUrl`. */
  redirectUri?: string;
  connectionScopes: Readonly<Record<string, readonly string[]>>;
  now: () => number;
  skewMs: number;
  /** Turn a My Account API token response into the stored form. */
  toAccessToken: (res: TokenResponse) => StoredAccessToken;
}

/** The Connected Accounts flow (see the module doc). */
export class ConnectedAccounts {
  constructor(readonly ctx: ConnectedAccountsContext) {}

  /**
   * Connect the account for scope+connection: resume the pending flow or start one, and
   * complete it once the user consented. Resolves `"completed"` when this call completed it,
   * `"elsewhere"` when a parallel process did after `asked` (the exchange is then retried).
   */
  async ensureConnected(
    scope: string,
    connection: string,
    rt: HeldRefreshToken,
    notFound: Auth0Failure,
    asked: number,
  ): Promise<"completed" | "elsewhere"> {
    if (!this.ctx.auth) {
      if (!(await this.#checkRecord(scope, connection, rt, notFound, asked))) return "elsewhere";
      throw auth0Error("connected_account_missing", { failure: notFound });
    }
    return await withLease(
      this.ctx.cache,
      this.ctx.keys.connectLease(rt.identity, scope, connection),
      () => this.#connectStep(scope, connection, rt, notFound, asked),
      { ttlMs: CONNECT_LEASE_MS },
    );
  }

  /** Track, for an account mcs connected, whether the vault ever refreshed its token. */
  async noteVaultToken(
    rt: HeldRefreshToken,
    scope: string,
    connection: string,
    fingerprintOfToken: string,
  ): Promise<void> {
    const key = this.ctx.keys.connected(rt.identity, scope, connection);
    const record = await this.ctx.cache.get<ConnectedRecord>(key);
    if (!record || record.refreshed) return;
    if (record.firstToken === fingerprintOfToken) return;
    await this.ctx.cache.set(
      key,
      record.firstToken
        ? { ...record, refreshed: true }
        : { ...record, firstToken: fingerprintOfToken },
    );
  }

  /** False when a parallel process connected the account after `asked`; throws if Token Vault lost it. */
  async #checkRecord(
    scope: string,
    connection: string,
    rt: HeldRefreshToken,
    notFound: Auth0Failure,
    asked: number,
  ): Promise<boolean> {
    const cache = this.ctx.cache;
    const recordKey = this.ctx.keys.connected(rt.identity, scope, connection);
    const record = await cache.get<ConnectedRecord>(recordKey);
    if (record && record.connectedAt >= asked) return false;
    if (record && !record.refreshed) {
      // mcs connected this account, yet the vault lost it before ever refreshing the provider
      // token: no provider refresh token was stored (the connection lacks Offline Access). The
      // record goes, so the run after the fix reconnects.
      await cache.delete(recordKey);
      throw auth0Error("connection_offline_access_disabled", {
        failure: notFound,
        detail:
          "Token Vault lost the connected account before its first token refresh (unless the account was disconnected meanwhile).",
      });
    }
    return true;
  }

  /** The connect step proper, under the lease. */
  async #connectStep(
    scope: string,
    connection: string,
    rt: HeldRefreshToken,
    notFound: Auth0Failure,
    asked: number,
  ): Promise<"completed" | "elsewhere"> {
    if (!(await this.#checkRecord(scope, connection, rt, notFound, asked))) return "elsewhere";
    const cache = this.ctx.cache;
    const auth = this.ctx.auth!;
    const pendingKey = this.ctx.keys.pending(rt.identity, scope, connection);
    const pending = await cache.get<PendingConnect>(pendingKey);
    if (pending && pending.expiresAt > this.ctx.now()) {
      // Resume: the same URL and state, so a connector keyed either way finds its session (and
      // never mistakes the poll for a login).
      const result = await auth.authenticate({
        scope: `${scope}:connect`,
        url: pending.url,
        callbackParams: ["connect_code"],
        state: pending.state,
        step: "connect",
      });
      if (await this.#completeWith(pending, result, rt)) return "completed";
    } else if (pending) {
      await cache.delete(pendingKey);
    }
    const fresh = await this.#startConnect(scope, connection, rt);
    const result = await auth.authenticate({
      scope: `${scope}:connect`,
      url: fresh.url,
      callbackParams: ["connect_code"],
      state: fresh.state,
      step: "connect",
    });
    if (!(await this.#completeWith(fresh, result, rt))) {
      throw new AuthChallenge({
        message:
          `Connect your ${connection} account: open the URL and approve access, then run the command again.`,
        url: fresh.url,
        scope,
        step: "connect",
        expiresAt: fresh.expiresAt,
      });
    }
    return "completed";
  }

  /** Complete a flow from a port result; false when the flow is dead and must restart. */
  async #completeWith(
    pending: PendingConnect,
    result: AuthResult,
    rt: HeldRefreshToken,
  ): Promise<boolean> {
    const cache = this.ctx.cache;
    const pendingKey = this.ctx.keys.pending(rt.identity, pending.scope, pending.connection);
    if (result.kind !== "callback") {
      throw new McsError(
        "auth_port_bad_result",
        "The auth connector returned a credential where connect callback parameters were expected.",
      );
    }
    const code = result.params.connect_code;
    if (!code) {
      await cache.delete(pendingKey);
      if (result.params.error === "access_denied") {
        throw new McsError(
          "connect_denied",
          "The connection was denied in the consent screen; run the command again to retry.",
          "runtime",
          { retryable: true },
        );
      }
      return false;
    }
    if (result.params.state !== undefined && result.params.state !== pending.state) {
      await cache.delete(pendingKey);
      throw new McsError(
        "connect_state_mismatch",
        "The connect callback's state does not match the pending flow; run the command again.",
        "runtime",
        { retryable: true },
      );
    }
    const body = {
      auth_session: pending.authSession,
      connect_code: code,
      redirect_uri: pending.redirectUri,
      code_verifier: pending.codeVerifier,
    };
    let res: Record<string, unknown>;
    try {
      res = await this.#myAccount(
        "complete",
        "POST",
        "/connected-accounts/complete",
        rt,
        body,
      ) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof Auth0Failure && classify(err) === "connect_flow_dead") {
        await cache.delete(pendingKey);
        return false;
      }
      throw convert(err);
    }
    await cache.delete(pendingKey);
    const record: ConnectedRecord = {
      id: typeof res?.id === "string" ? res.id : undefined,
      connectedAt: this.ctx.now(),
    };
    await cache.set(
      this.ctx.keys.connected(rt.identity, pending.scope, pending.connection),
      record,
    );
    return true;
  }

  async #startConnect(
    scope: string,
    connection: string,
    rt: HeldRefreshToken,
  ): Promise<PendingConnect> {
    const scopes = this.ctx.connectionScopes[scope];
    if (!scopes?.length) {
      throw auth0Error("connection_scopes_missing", {
        detail:
          `No provider scopes are configured for scope '${scope}' (connection ${connection}).`,
      });
    }
    const redirectUri = this.ctx.auth?.callbackUrl ?? this.ctx.redirectUri;
    if (!redirectUri) {
      throw new McsError(
        "connect_redirect_uri_missing",
        "The auth connector has no callback URL for the Connected Accounts flow; configure auth0-oauth or auth0-linkauth.",
        "config",
      );
    }
    const oauth: typeof OAuth = await import("oauth4webapi"); // a side file: see transport.ts
    const state = oauth.generateRandomState();
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const authorizationParams: Record<string, string> = { prompt: "consent" };
    if (this.ctx.loginHint) authorizationParams.login_hint = this.ctx.loginHint;
    let res: Record<string, unknown>;
    try {
      res = await this.#myAccount("connect", "POST", "/connected-accounts/connect", rt, {
        connection,
        redirect_uri: redirectUri,
        state,
        scopes: [...scopes],
        code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: "S256",
        authorization_params: authorizationParams,
      }) as Record<string, unknown>;
    } catch (err) {
      throw await this.#explainConnectFailure(err, connection, redirectUri, rt);
    }
    const params = res?.connect_params as Record<string, unknown> | undefined;
    if (
      typeof res?.connect_uri !== "string" || typeof params?.ticket !== "string" ||
      typeof res?.auth_session !== "string"
    ) {
      throw auth0Error("auth0_bad_response", {
        detail:
          "The My Account API /connect response lacks connect_uri, connect_params.ticket or auth_session.",
      });
    }
    const expiresIn = typeof res.expires_in === "number" && res.expires_in > 0
      ? res.expires_in
      : 300;
    const url = new URL(res.connect_uri);
    url.searchParams.set("ticket", params.ticket);
    const pending: PendingConnect = {
      authSession: res.auth_session,
      codeVerifier,
      state,
      redirectUri,
      scope,
      connection,
      url: url.href,
      expiresAt: this.ctx.now() + expiresIn * 1000,
    };
    await this.ctx.cache.set(this.ctx.keys.pending(rt.identity, scope, connection), pending, {
      expiresAt: pending.expiresAt,
    });
    return pending;
  }

  /**
   * Name the setting behind a refused `/connect`. The shape of the refusal is not documented
   * (problem+json 400 or 403, `validation_errors` optional), so the cause is established
   * structurally: the My Account API lists the connections enabled for Connected Accounts; if
   * ours is missing, that is the fault. Otherwise a `validation_errors` entry naming the
   * redirect URI (field or pointer) makes it the callback URL; anything else stays a generic
   * refusal whose message names both settings to check.
   */
  async #explainConnectFailure(
    err: unknown,
    connection: string,
    redirectUri: string,
    rt: HeldRefreshToken,
  ): Promise<unknown> {
    if (!(err instanceof Auth0Failure) || err.error === "invalid_grant") return err;
    const kind = classify(err);
    if (kind !== "mrrt_policy_missing" && kind !== "my_account_request_rejected") {
      return flowError(kind, err);
    }
    if (err.status === 400 || err.status === 403 || err.status === 404) {
      const enabled = await this.#enabledConnections(rt).catch(() => undefined);
      if (enabled && !enabled.includes(connection)) {
        return auth0Error("connection_not_enabled_for_connected_accounts", {
          failure: err,
          detail: `The connection '${connection}' is not among those the My Account API lists ` +
            `for Connected Accounts (${enabled.join(", ") || "none"}).`,
        });
      }
      if (err.fields.some((f) => /(^|[/.])redirect_uri$/.test(f))) {
        return auth0Error("callback_url_not_allowed", {
          failure: err,
          detail: `Callback URL: ${redirectUri}.`,
        });
      }
      return auth0Error("my_account_request_rejected", {
        failure: err,
        detail: `The My Account API refused to start the connect flow. Check that ` +
          `${redirectUri} is in the application's Allowed Callback URLs, that the connection ` +
          `'${connection}' is enabled for Connected Accounts, and that the application's ` +
          `Multi-Resource Refresh Token policy grants create:me:connected_accounts.`,
      });
    }
    return flowError(kind, err);
  }

  /** Names of the connections the My Account API offers for Connected Accounts. */
  async #enabledConnections(rt: HeldRefreshToken): Promise<string[] | undefined> {
    const token = await this.#myAccountToken(rt, false);
    const list = await this.ctx.transport.myAccount(
      "accounts",
      "GET",
      "/connected-accounts/connections",
      token,
    ) as { connections?: unknown };
    if (!Array.isArray(list?.connections)) return undefined;
    return list.connections.map((c) => (c as { name?: unknown })?.name).filter((
      n,
    ): n is string => typeof n === "string");
  }

  /** A My Account API call; retries once with a fresh token when the cached one is rejected. */
  async #myAccount(
    endpoint: "connect" | "complete",
    method: "POST",
    path: string,
    rt: HeldRefreshToken,
    body: unknown,
  ): Promise<unknown> {
    for (let attempt = 0;; attempt++) {
      const token = await this.#myAccountToken(rt, attempt > 0);
      try {
        return await this.ctx.transport.myAccount(endpoint, method, path, token, body);
      } catch (err) {
        if (
          attempt === 0 && err instanceof Auth0Failure &&
          classify(err) === "my_account_token_rejected"
        ) {
          await this.ctx.cache.delete(this.ctx.keys.myAccountToken(rt.identity));
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * The My Account API token, from the store or a Multi-Resource Refresh Token exchange. A
   * rotated refresh token in the exchange's response is persisted before the token is used.
   */
  async #myAccountToken(rt: HeldRefreshToken, forceNew: boolean): Promise<string> {
    const key = this.ctx.keys.myAccountToken(rt.identity);
    if (!forceNew) {
      const stored = await this.ctx.cache.get<StoredAccessToken>(key);
      if (stored?.kind === "access_token" && this.ctx.now() < stored.expiresAt - this.ctx.skewMs) {
        return stored.value;
      }
    }
    // The latest token of this identity: a parallel process may have rotated it meanwhile.
    const current = (await this.ctx.refreshTokens.current()).token;
    const use = current && current.identity === rt.identity ? current : rt;
    let res: TokenResponse;
    try {
      res = await this.ctx.transport.token("mrrt", "refresh_token", {
        refresh_token: use.value,
        audience: this.ctx.tenant.meAudience,
        scope: MY_ACCOUNT_SCOPES.join(" "),
      });
    } catch (err) {
      if (err instanceof Auth0Failure) {
        const kind = classify(err, {
          rotationObserved: await this.ctx.refreshTokens.rotationObserved(),
        });
        // A dead refresh token surfaces raw: getToken drops it and restarts the login.
        if (kind === "invalid_refresh_token") throw err;
        throw flowError(kind, err);
      }
      throw err;
    }
    // Rotation: the presented token is now spent; its successor is stored before anything else.
    await this.ctx.refreshTokens.adopt(use, res, { refreshGrant: true });
    const granted = (res.scope ?? "").split(" ");
    if (!granted.includes("create:me:connected_accounts")) {
      throw auth0Error("mrrt_policy_missing", {
        detail: "The My Account API token was issued without create:me:connected_accounts.",
      });
    }
    const token = this.ctx.toAccessToken(res);
    await this.ctx.cache.set(key, token, { expiresAt: token.expiresAt });
    return token.value;
  }
}

/** Map a failure to its error, except a dead refresh token (handled by getToken). */
function convert(err: unknown): unknown {
  if (!(err instanceof Auth0Failure) || err.error === "invalid_grant") return err;
  return flowError(classify(err), err);
}
