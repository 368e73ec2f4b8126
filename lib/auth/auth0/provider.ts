/**
 * `Auth0Provider`: Google access tokens from Auth0 Token Vault, with the whole "double flow"
 * (login for a refresh token, then Connected Accounts consent) persisted in the cache store so
 * every step may run in a fresh process.
 *
 * Flow per `getToken(scope)`:
 * 1. cached access token (memory, then store) until its expiry minus a skew;
 * 2. refresh token from the explicit setting, the store, or the {@link AuthPort} (may raise a
 *    login {@link AuthChallenge});
 * 3. Token Vault exchange; on `federated_connection_refresh_token_not_found`: a pending connect
 *    flow is polled (same `url` and `state`) and completed, or a new one is started (MRRT →
 *    `/connect` with PKCE → connect challenge through the port's passthrough mode), then the
 *    exchange is retried;
 * 4. on `invalid_grant` the refresh token is dropped everywhere (store, memory, the port's copy)
 *    and a new login is started; every other failure maps to an actionable error naming the
 *    tenant setting (see `checklist.ts`).
 *
 * @example
 * ```ts
 * import { Auth0Provider } from "./provider.ts";
 * import type { CacheStore } from "../../cache/types.ts";
 * declare const cache: CacheStore;
 * const p = new Auth0Provider({ domain: "tenant.us.auth0.com", clientId: "id", clientSecret: "s", refreshToken: "v1.…", cache });
 * const token = await p.getToken("gmail"); // "ya29.…"
 * ```
 * @module
 */
import * as oauth from "oauth4webapi";
import type { CacheStore } from "../../cache/types.ts";
import { McsError } from "../../errors.ts";
import type { FetchLike } from "../../net/types.ts";
import {
  AuthChallenge,
  type AuthPort,
  type AuthResult,
  type CredentialProvider,
  type HttpRelay,
} from "../types.ts";
import { SingleFlight } from "../single_flight.ts";
import { withLease } from "../lease.ts";
import { auth0Error, Auth0Failure, classify } from "./checklist.ts";
import {
  type ConnectedRecord,
  fingerprint,
  jwtExpiry,
  keysFor,
  type PendingConnect,
  type StoredAccessToken,
  type StoredRefreshToken,
} from "./state.ts";
import { resolveTenant, type Tenant } from "./tenant.ts";
import { Auth0Transport, type TokenResponse } from "./transport.ts";

/** Token Vault grant type. */
export const TOKEN_VAULT_GRANT =
  "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";
/** Subject token type of the refresh-token exchange. */
export const REFRESH_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:refresh_token";
/** Requested token type of the exchange. */
export const FEDERATED_TOKEN_TYPE =
  "http://auth0.com/oauth/token-type/federated-connection-access-token";
/** Scopes requested for the My Account API token. */
export const MY_ACCOUNT_SCOPES = [
  "create:me:connected_accounts",
  "read:me:connected_accounts",
  "delete:me:connected_accounts",
];
/** Gmail scopes requested when connecting Google for the `gmail` scope. */
export const GMAIL_CONNECT_SCOPES = [
  "openid",
  "profile",
  "email",
  "https://www.googleapis.com/auth/gmail.readonly",
  "https://www.googleapis.com/auth/gmail.send",
  "https://www.googleapis.com/auth/gmail.modify",
];
/** The original's scope → connection defaults. */
export const DEFAULT_CONNECTIONS: Readonly<Record<string, string>> = {
  gmail: "google-oauth2",
  google: "google-oauth2",
  "google-calendar": "google-oauth2",
  "google-drive": "google-oauth2",
  slack: "slack",
  github: "github",
  microsoft: "windowslive",
};
/** Default connect scopes per mcs scope. */
export const DEFAULT_CONNECTION_SCOPES: Readonly<Record<string, readonly string[]>> = {
  gmail: GMAIL_CONNECT_SCOPES,
};

/** Options of {@link Auth0Provider}. */
export interface Auth0ProviderOptions {
  /** Tenant host (`tenant.us.auth0.com`) or full URL (`https://login.example.com`). */
  domain: string;
  clientId: string;
  clientSecret: string;
  /** API audience requested at login (passed to the port as an authorize parameter). */
  audience?: string;
  /** A pre-stored Auth0 refresh token (the `auth0` path); wins over the store unless rejected. */
  refreshToken?: string;
  /** Scope → connection overrides, merged over {@link DEFAULT_CONNECTIONS}. */
  connections?: Record<string, string>;
  /** Scope → provider scopes requested at connect time, merged over the defaults. */
  connectionScopes?: Record<string, readonly string[]>;
  /** Selects one of several accounts on the same connection (exchange + connect + login). */
  loginHint?: string;
  /** Interactive connector (login and connect consent). */
  auth?: AuthPort;
  /** Where all state lives. */
  cache: CacheStore;
  /** Network function (default `globalThis.fetch`). */
  fetch?: FetchLike;
  /** Route every Auth0 call through a broker relay (opt-in; the broker sees the secrets). */
  relay?: HttpRelay;
  /** Redirect URI for the connect flow when the port has no `callbackUrl`. */
  redirectUri?: string;
  /** Clock, epoch ms. */
  now?: () => number;
  /** Seconds before expiry at which a cached token is no longer used (default 60). */
  skewS?: number;
  /** Token endpoint client authentication (default `client_secret_post`). */
  clientAuth?: "client_secret_post" | "client_secret_basic";
}

const MAX_ROUNDS = 4;

/**
 * Lease on one scope+connection's connect step (see {@link withLease}): longer than its worst
 * case without a user in the loop (My Account token, `/connect`, and the port's broker session,
 * or a poll and `/complete`, each bounded by a 15 s request timeout).
 */
const CONNECT_LEASE_MS = 90_000;

/** The provider. */
export class Auth0Provider implements CredentialProvider {
  readonly tenant: Tenant;
  readonly #o: Auth0ProviderOptions;
  readonly #t: Auth0Transport;
  readonly #k: ReturnType<typeof keysFor>;
  readonly #now: () => number;
  readonly #skewMs: number;
  readonly #connections: Record<string, string>;
  readonly #connectionScopes: Record<string, readonly string[]>;
  readonly #memory = new Map<string, StoredAccessToken>();
  readonly #flights = new SingleFlight<string>();
  #refresh?: StoredRefreshToken;

  constructor(options: Auth0ProviderOptions) {
    this.#o = options;
    this.tenant = resolveTenant(options.domain);
    this.#t = new Auth0Transport({
      tenant: this.tenant,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      fetch: options.fetch,
      relay: options.relay,
      clientAuth: options.clientAuth,
    });
    this.#k = keysFor(this.tenant.host, options.clientId);
    this.#now = options.now ?? Date.now;
    this.#skewMs = (options.skewS ?? 60) * 1000;
    this.#connections = { ...DEFAULT_CONNECTIONS, ...options.connections };
    this.#connectionScopes = { ...DEFAULT_CONNECTION_SCOPES, ...options.connectionScopes };
  }

  /** The Auth0 connection used for `scope`. */
  connectionFor(scope: string): string {
    const mapped = this.#connections[scope];
    if (mapped) return mapped;
    if (scope.includes("-") || scope === scope.toLowerCase()) return scope;
    throw auth0Error("scope_not_mapped", {
      detail: `No Auth0 connection is mapped for scope '${scope}' (known: ${
        Object.keys(this.#connections).join(", ")
      }).`,
    });
  }

  /**
   * An access token for `scope`. Concurrent calls for the same scope share one flow (one
   * exchange, one login or connect challenge).
   * @throws {AuthChallenge} when the user must sign in or connect the account first.
   */
  getToken(scope: string): Promise<string> {
    return this.#flights.run(scope, () => this.#getToken(scope));
  }

  async #getToken(scope: string): Promise<string> {
    const connection = this.connectionFor(scope);
    const cached = await this.#cachedAccessToken(scope, connection);
    if (cached) return cached.value;
    let connectDone = false;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const rt = await this.#refreshToken(scope);
      const asked = this.#now();
      try {
        return await this.#exchange(scope, connection, rt);
      } catch (err) {
        if (!(err instanceof Auth0Failure)) throw err;
        const kind = classify(err, { rotationObserved: await this.#rotationObserved() });
        if (kind === "needs_connect") {
          if (connectDone) {
            throw auth0Error("connection_not_enabled_for_connected_accounts", {
              failure: err,
              detail: "The account was connected but Token Vault still has no token for it.",
            });
          }
          try {
            // "elsewhere": a parallel process connected it after this exchange was sent.
            connectDone = await this.#ensureConnected(scope, connection, rt, err, asked) ===
              "completed";
          } catch (inner) {
            if (inner instanceof Auth0Failure && inner.error === "invalid_grant") {
              await this.#dropRefreshToken(scope, rt);
              continue;
            }
            throw inner;
          }
          continue;
        }
        if (kind === "invalid_refresh_token") {
          await this.#dropRefreshToken(scope, rt);
          continue;
        }
        throw this.#error(kind, err);
      }
    }
    throw new McsError(
      "auth0_flow_loop",
      "The Auth0 flow did not settle; run the command again.",
      "runtime",
      {
        retryable: true,
      },
    );
  }

  async invalidate(scope: string): Promise<void> {
    const connection = this.connectionFor(scope);
    const key = this.#k.accessToken(scope, connection);
    this.#memory.delete(key);
    await this.#o.cache.delete(key);
  }

  // ---------------------------------------------------------------- access tokens

  async #cachedAccessToken(
    scope: string,
    connection: string,
  ): Promise<StoredAccessToken | undefined> {
    const key = this.#k.accessToken(scope, connection);
    const now = this.#now();
    const fresh = (t: StoredAccessToken | undefined) =>
      t && t.kind === "access_token" && typeof t.value === "string" &&
      now < t.expiresAt - this.#skewMs;
    const mem = this.#memory.get(key);
    if (fresh(mem)) return mem;
    const stored = await this.#o.cache.get<StoredAccessToken>(key);
    if (fresh(stored)) {
      this.#memory.set(key, stored!);
      return stored;
    }
    return undefined;
  }

  #toAccessToken(res: TokenResponse): StoredAccessToken {
    const now = this.#now();
    let expiresAt = now + (typeof res.expires_in === "number" ? res.expires_in : 3600) * 1000;
    const exp = jwtExpiry(res.access_token);
    if (exp !== undefined) expiresAt = Math.min(expiresAt, exp);
    return {
      kind: "access_token",
      value: res.access_token,
      expiresAt,
      scopes: res.scope ? res.scope.split(" ").filter(Boolean) : undefined,
    };
  }

  async #exchange(scope: string, connection: string, rt: StoredRefreshToken): Promise<string> {
    const params: Record<string, string> = {
      subject_token: rt.value,
      subject_token_type: REFRESH_TOKEN_TYPE,
      requested_token_type: FEDERATED_TOKEN_TYPE,
      connection,
    };
    if (this.#o.loginHint) params.login_hint = this.#o.loginHint;
    const res = await this.#t.token("token_vault", TOKEN_VAULT_GRANT, params);
    const token = this.#toAccessToken(res);
    await this.#noteVaultToken(scope, connection, token.value);
    const key = this.#k.accessToken(scope, connection);
    this.#memory.set(key, token);
    if (token.expiresAt - this.#skewMs > this.#now()) {
      await this.#o.cache.set(key, token, { expiresAt: token.expiresAt });
    }
    return token.value;
  }

  /** Track, for an account mcs connected, whether the vault ever refreshed its token. */
  async #noteVaultToken(scope: string, connection: string, value: string): Promise<void> {
    const key = this.#k.connected(scope, connection);
    const record = await this.#o.cache.get<ConnectedRecord>(key);
    if (!record || record.refreshed) return;
    const fp = await fingerprint(value);
    if (record.firstToken === fp) return;
    await this.#o.cache.set(
      key,
      record.firstToken ? { ...record, refreshed: true } : { ...record, firstToken: fp },
    );
  }

  // ---------------------------------------------------------------- refresh token

  async #isDead(value: string): Promise<boolean> {
    const dead = await this.#o.cache.get<string[]>(this.#k.deadRefreshTokens) ?? [];
    return dead.includes(await fingerprint(value));
  }

  async #refreshToken(scope: string): Promise<StoredRefreshToken> {
    if (this.#refresh) return this.#refresh;
    const explicit = this.#o.refreshToken;
    if (explicit && !(await this.#isDead(explicit))) {
      return this.#refresh = { kind: "refresh_token", value: explicit };
    }
    const stored = await this.#o.cache.get<StoredRefreshToken>(this.#k.refreshToken);
    if (
      stored?.kind === "refresh_token" && typeof stored.value === "string" &&
      !(await this.#isDead(stored.value))
    ) {
      return this.#refresh = stored;
    }
    const auth = this.#o.auth;
    if (!auth) {
      throw auth0Error(explicit ? "refresh_token_invalid" : "refresh_token_missing");
    }
    const authorizeParams: Record<string, string> = {
      connection: this.connectionFor(scope),
      scope: "openid profile email offline_access",
    };
    if (this.#o.audience) authorizeParams.audience = this.#o.audience;
    if (this.#o.loginHint) authorizeParams.login_hint = this.#o.loginHint;
    const result: AuthResult = await auth.authenticate({ scope, step: "login", authorizeParams });
    if (result.kind !== "credential") {
      throw new McsError(
        "auth_port_bad_result",
        "The auth connector returned callback parameters where a credential was expected.",
      );
    }
    if (result.credential.kind !== "refresh_token") {
      // The login produced no refresh token: offline access is not enabled.
      await auth.invalidate(scope);
      throw auth0Error("offline_access_disabled");
    }
    if (await this.#isDead(result.credential.value)) {
      await auth.invalidate(scope);
      throw auth0Error("refresh_token_invalid", {
        detail: "The auth connector returned a refresh token Auth0 already rejected.",
      });
    }
    await this.#saveRefreshToken(result.credential.value);
    return this.#refresh!;
  }

  async #saveRefreshToken(value: string): Promise<void> {
    this.#refresh = { kind: "refresh_token", value };
    await this.#o.cache.set(this.#k.refreshToken, this.#refresh);
  }

  async #dropRefreshToken(scope: string, rt: StoredRefreshToken): Promise<void> {
    const fp = await fingerprint(rt.value);
    await this.#o.cache.update<string[]>(this.#k.deadRefreshTokens, (cur) => ({
      value: [...(cur ?? []).filter((x) => x !== fp), fp].slice(-20),
    }));
    this.#refresh = undefined;
    const stored = await this.#o.cache.get<StoredRefreshToken>(this.#k.refreshToken);
    if (!stored || stored.value === rt.value) await this.#o.cache.delete(this.#k.refreshToken);
    await this.#o.cache.delete(this.#k.myAccountToken);
    if (this.#o.auth) await this.#o.auth.invalidate(scope);
  }

  async #rotationObserved(): Promise<boolean> {
    return (await this.#o.cache.get<boolean>(this.#k.rotationObserved)) === true;
  }

  // ---------------------------------------------------------------- connected accounts

  /**
   * Connect the account for scope+connection: resume the pending flow or start one, and
   * complete it once the user consented. Resolves `"completed"` when this call completed it,
   * `"elsewhere"` when a parallel process did after `asked` (the exchange is then retried).
   *
   * The whole step runs under a cross-process lease per scope+connection ({@link withLease};
   * the store lock itself is never held across a request, see there why): an agent that starts
   * several `mcs` calls at once must cause one `/connect` and show one consent code, and the
   * one-time callback must be completed by exactly one process. Waiters re-read everything
   * inside the lease, so they resume the flow the first process stored (same URL, state and
   * broker code) or find the account connected. A port that blocks for the user (the loopback
   * connector under `mcs auth login`) holds the lease meanwhile; a parallel call then waits at
   * most {@link CONNECT_LEASE_MS} and takes over (resuming the same flow).
   */
  async #ensureConnected(
    scope: string,
    connection: string,
    rt: StoredRefreshToken,
    notFound: Auth0Failure,
    asked: number,
  ): Promise<"completed" | "elsewhere"> {
    if (!this.#o.auth) {
      if (!(await this.#checkRecord(scope, connection, notFound, asked))) return "elsewhere";
      throw auth0Error("connected_account_missing", { failure: notFound });
    }
    return await withLease(
      this.#o.cache,
      this.#k.connectLease(scope, connection),
      () => this.#connectStep(scope, connection, rt, notFound, asked),
      { ttlMs: CONNECT_LEASE_MS },
    );
  }

  /** False when a parallel process connected the account after `asked`; throws if Token Vault lost it. */
  async #checkRecord(
    scope: string,
    connection: string,
    notFound: Auth0Failure,
    asked: number,
  ): Promise<boolean> {
    const cache = this.#o.cache;
    const recordKey = this.#k.connected(scope, connection);
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
    rt: StoredRefreshToken,
    notFound: Auth0Failure,
    asked: number,
  ): Promise<"completed" | "elsewhere"> {
    if (!(await this.#checkRecord(scope, connection, notFound, asked))) return "elsewhere";
    const cache = this.#o.cache;
    const auth = this.#o.auth!;
    const pendingKey = this.#k.pending(scope, connection);
    const pending = await cache.get<PendingConnect>(pendingKey);
    if (pending && pending.expiresAt > this.#now()) {
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
    rt: StoredRefreshToken,
  ): Promise<boolean> {
    const pendingKey = this.#k.pending(pending.scope, pending.connection);
    if (result.kind !== "callback") {
      throw new McsError(
        "auth_port_bad_result",
        "The auth connector returned a credential where connect callback parameters were expected.",
      );
    }
    const code = result.params.connect_code;
    if (!code) {
      await this.#o.cache.delete(pendingKey);
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
      await this.#o.cache.delete(pendingKey);
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
        await this.#o.cache.delete(pendingKey);
        return false;
      }
      throw this.#convert(err);
    }
    await this.#o.cache.delete(pendingKey);
    const record: ConnectedRecord = {
      id: typeof res?.id === "string" ? res.id : undefined,
      connectedAt: this.#now(),
    };
    await this.#o.cache.set(this.#k.connected(pending.scope, pending.connection), record);
    return true;
  }

  async #startConnect(
    scope: string,
    connection: string,
    rt: StoredRefreshToken,
  ): Promise<PendingConnect> {
    const scopes = this.#connectionScopes[scope];
    if (!scopes?.length) {
      throw auth0Error("connection_scopes_missing", {
        detail:
          `No provider scopes are configured for scope '${scope}' (connection ${connection}).`,
      });
    }
    const redirectUri = this.#o.auth?.callbackUrl ?? this.#o.redirectUri;
    if (!redirectUri) {
      throw new McsError(
        "connect_redirect_uri_missing",
        "The auth connector has no callback URL for the Connected Accounts flow; configure auth0-oauth or auth0-linkauth.",
        "config",
      );
    }
    const state = oauth.generateRandomState();
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const authorizationParams: Record<string, string> = { prompt: "consent" };
    if (this.#o.loginHint) authorizationParams.login_hint = this.#o.loginHint;
    const res = await this.#myAccount("connect", "POST", "/connected-accounts/connect", rt, {
      connection,
      redirect_uri: redirectUri,
      state,
      scopes: [...scopes],
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      authorization_params: authorizationParams,
    }).catch((err) => {
      throw this.#convert(err);
    }) as Record<string, unknown>;
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
      expiresAt: this.#now() + expiresIn * 1000,
    };
    await this.#o.cache.set(this.#k.pending(scope, connection), pending, {
      expiresAt: pending.expiresAt,
    });
    return pending;
  }

  /** A My Account API call; retries once with a fresh token when the cached one is rejected. */
  async #myAccount(
    endpoint: "connect" | "complete",
    method: "POST",
    path: string,
    rt: StoredRefreshToken,
    body: unknown,
  ): Promise<unknown> {
    for (let attempt = 0;; attempt++) {
      const token = await this.#myAccountToken(rt, attempt > 0);
      try {
        return await this.#t.myAccount(endpoint, method, path, token, body);
      } catch (err) {
        if (
          attempt === 0 && err instanceof Auth0Failure &&
          classify(err) === "my_account_token_rejected"
        ) {
          await this.#o.cache.delete(this.#k.myAccountToken);
          continue;
        }
        throw err;
      }
    }
  }

  /** The My Account API token, from the store or a Multi-Resource Refresh Token exchange. */
  async #myAccountToken(rt: StoredRefreshToken, forceNew: boolean): Promise<string> {
    if (!forceNew) {
      const stored = await this.#o.cache.get<StoredAccessToken>(this.#k.myAccountToken);
      if (stored?.kind === "access_token" && this.#now() < stored.expiresAt - this.#skewMs) {
        return stored.value;
      }
    }
    let res: TokenResponse;
    try {
      res = await this.#t.token("mrrt", "refresh_token", {
        refresh_token: rt.value,
        audience: this.tenant.meAudience,
        scope: MY_ACCOUNT_SCOPES.join(" "),
      });
    } catch (err) {
      if (err instanceof Auth0Failure) {
        const kind = classify(err, { rotationObserved: await this.#rotationObserved() });
        // A dead refresh token surfaces raw: getToken drops it and restarts the login.
        if (kind === "invalid_refresh_token") throw err;
        throw this.#error(kind, err);
      }
      throw err;
    }
    if (res.refresh_token && res.refresh_token !== rt.value) {
      // Rotation is on: keep the new token (the old one is now spent) and remember the fact.
      await this.#saveRefreshToken(res.refresh_token);
      rt = this.#refresh!;
      await this.#o.cache.set(this.#k.rotationObserved, true);
    }
    const granted = (res.scope ?? "").split(" ");
    if (!granted.includes("create:me:connected_accounts")) {
      throw auth0Error("mrrt_policy_missing", {
        detail: "The My Account API token was issued without create:me:connected_accounts.",
      });
    }
    const token = this.#toAccessToken(res);
    await this.#o.cache.set(this.#k.myAccountToken, token, { expiresAt: token.expiresAt });
    return token.value;
  }

  /** Map a failure to its error, except a dead refresh token (handled by getToken). */
  #convert(err: unknown): unknown {
    if (!(err instanceof Auth0Failure) || err.error === "invalid_grant") return err;
    return this.#error(classify(err), err);
  }

  #error(kind: ReturnType<typeof classify>, failure: Auth0Failure): McsError {
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
}
