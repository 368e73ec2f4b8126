/**
 * `Auth0Provider`: Google access tokens from Auth0 Token Vault, with the whole "double flow"
 * (login for a refresh token, then Connected Accounts consent) persisted in the cache store so
 * every step may run in a fresh process.
 *
 * Flow per `getToken(scope)`:
 * 1. refresh token ({@link RefreshTokens}): a stored rotated descendant of the configured one,
 *    the configured one, one stored from a login, or a login through the {@link AuthPort} (may
 *    raise a login {@link AuthChallenge}); it fixes the identity every cached entry is bound to;
 * 2. cached access token of that identity (memory, then store) until its expiry minus a small
 *    skew;
 * 3. Token Vault exchange, one per identity+scope across processes (a lease; the others wait
 *    and read its result); on `federated_connection_refresh_token_not_found`: the Connected
 *    Accounts step (`connected_accounts.ts`), then the exchange is retried;
 * 4. on `invalid_grant` the refresh token is dropped everywhere (store, memory, the port's copy)
 *    and a new login is started; a refusal with no known reason is checked for Refresh Token
 *    Rotation (one refresh: a new `refresh_token` in its response, kept); every other failure
 *    maps to an actionable error naming the tenant setting (see `checklist.ts`).
 *
 * Any response carrying a new refresh token is persisted before anything uses it
 * (`refresh_token.ts`).
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
import type { CacheStore } from "../../cache/types.ts";
import { McsError } from "../../errors.ts";
import type { FetchLike } from "../../net/types.ts";
import type { AuthPort, AuthResult, CredentialProvider, HttpRelay } from "../types.ts";
import { SingleFlight } from "../single_flight.ts";
import { withLease } from "../lease.ts";
import { auth0Error, Auth0Failure, classify, flowError, mayBeRotation } from "./checklist.ts";
import { ConnectedAccounts, MY_ACCOUNT_SCOPES } from "./connected_accounts.ts";
import { type HeldRefreshToken, RefreshTokens } from "./refresh_token.ts";
import { fingerprint, jwtExpiry, keysFor, type StoredAccessToken } from "./state.ts";
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
export { MY_ACCOUNT_SCOPES };
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
  /**
   * Selects one of several accounts on the same connection: sent as `login_hint` to the Token
   * Vault exchange (where the SDKs call it the provider's user id, e.g. the Google account id),
   * the connect consent and the login. Part of the identity every cached token is bound to.
   */
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
  /**
   * Seconds before its real expiry at which a cached token is no longer used (default 10).
   * Token Vault hands out the same Google token until it expires, so a token in its last
   * minute is still cached and used, up to this margin.
   */
  skewS?: number;
  /** Token endpoint client authentication (default `client_secret_post`). */
  clientAuth?: "client_secret_post" | "client_secret_basic";
}

const MAX_ROUNDS = 4;

/**
 * Lease on one identity+scope+connection's Token Vault exchange ({@link withLease}): parallel
 * processes with an empty cache make one exchange, the others wait and read its result. Longer
 * than the exchange's worst case (a 15 s request timeout plus the retry policy's waits).
 */
const VAULT_LEASE_MS = 45_000;

/** The provider. */
export class Auth0Provider implements CredentialProvider {
  readonly tenant: Tenant;
  readonly #o: Auth0ProviderOptions;
  readonly #t: Auth0Transport;
  readonly #k: ReturnType<typeof keysFor>;
  readonly #now: () => number;
  readonly #skewMs: number;
  readonly #connections: Record<string, string>;
  readonly #memory = new Map<string, StoredAccessToken>();
  readonly #flights = new SingleFlight<string>();
  readonly #rts: RefreshTokens;
  readonly #connect: ConnectedAccounts;

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
    this.#skewMs = (options.skewS ?? 10) * 1000;
    this.#connections = { ...DEFAULT_CONNECTIONS, ...options.connections };
    this.#rts = new RefreshTokens(options.cache, this.#k, {
      configured: options.refreshToken,
      loginHint: options.loginHint,
    });
    this.#connect = new ConnectedAccounts({
      tenant: this.tenant,
      transport: this.#t,
      keys: this.#k,
      cache: options.cache,
      refreshTokens: this.#rts,
      auth: options.auth,
      loginHint: options.loginHint,
      redirectUri: options.redirectUri,
      connectionScopes: { ...DEFAULT_CONNECTION_SCOPES, ...options.connectionScopes },
      now: this.#now,
      skewMs: this.#skewMs,
      toAccessToken: (res) => this.#toAccessToken(res),
    });
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

  /**
   * The identity tokens for `scope` are obtained as: a fingerprint of the refresh token's
   * origin and the login hint. Callers key their own per-account cache entries (the Gmail
   * label map) with it. May start a login like {@link getToken}.
   */
  identity(scope: string): Promise<string> {
    // Its own flight: parallel label lookups start at most one login between them.
    return this.#flights.run(`identity\0${scope}`, async () => {
      return (await this.#refreshToken(scope)).identity;
    });
  }

  async #getToken(scope: string): Promise<string> {
    const connection = this.connectionFor(scope);
    let connectDone = false;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const rt = await this.#refreshToken(scope);
      const cached = await this.#cachedAccessToken(rt, scope, connection);
      if (cached) return cached.value;
      const asked = this.#now();
      try {
        return await this.#exchangeOnce(scope, connection, rt);
      } catch (err) {
        if (!(err instanceof Auth0Failure)) throw err;
        const kind = classify(err, { rotationObserved: await this.#rts.rotationObserved() });
        if (kind === "needs_connect") {
          if (connectDone) {
            throw auth0Error("connection_not_enabled_for_connected_accounts", {
              failure: err,
              detail: "The account was connected but Token Vault still has no token for it.",
            });
          }
          try {
            // "elsewhere": a parallel process connected it after this exchange was sent.
            connectDone = await this.#connect.ensureConnected(scope, connection, rt, err, asked) ===
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
        if (
          mayBeRotation(kind, err) &&
          (await this.#rts.rotationObserved() || await this.#rotates(rt))
        ) {
          throw auth0Error("refresh_token_rotation_enabled", { failure: err });
        }
        throw flowError(kind, err);
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
    const { token } = await this.#rts.current();
    if (!token) return;
    const key = this.#k.accessToken(token.identity, scope, connection);
    this.#memory.delete(key);
    await this.#o.cache.delete(key);
  }

  // ---------------------------------------------------------------- access tokens

  async #cachedAccessToken(
    rt: HeldRefreshToken,
    scope: string,
    connection: string,
  ): Promise<StoredAccessToken | undefined> {
    const key = this.#k.accessToken(rt.identity, scope, connection);
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

  /**
   * The exchange under the identity's lease: a process that waited finds the token the holder
   * stored and makes no exchange of its own.
   */
  async #exchangeOnce(scope: string, connection: string, rt: HeldRefreshToken): Promise<string> {
    return await withLease(
      this.#o.cache,
      this.#k.vaultLease(rt.identity, scope, connection),
      async () => {
        const cached = await this.#cachedAccessToken(rt, scope, connection);
        if (cached) return cached.value;
        return await this.#exchange(scope, connection, rt);
      },
      { ttlMs: VAULT_LEASE_MS, what: "Another mcs process" },
    );
  }

  async #exchange(scope: string, connection: string, rt: HeldRefreshToken): Promise<string> {
    const params: Record<string, string> = {
      subject_token: rt.value,
      subject_token_type: REFRESH_TOKEN_TYPE,
      requested_token_type: FEDERATED_TOKEN_TYPE,
      connection,
    };
    if (this.#o.loginHint) params.login_hint = this.#o.loginHint;
    const res = await this.#t.token("token_vault", TOKEN_VAULT_GRANT, params);
    // Should the exchange ever rotate the subject token, keep the successor first.
    await this.#rts.adopt(rt, res);
    const token = this.#toAccessToken(res);
    await this.#connect.noteVaultToken(rt, scope, connection, await fingerprint(token.value));
    const key = this.#k.accessToken(rt.identity, scope, connection);
    this.#memory.set(key, token);
    // Cached until its real expiry: parallel and later calls use it up to the skew margin.
    if (token.expiresAt > this.#now()) {
      await this.#o.cache.set(key, token, { expiresAt: token.expiresAt });
    }
    return token.value;
  }

  // ---------------------------------------------------------------- refresh token

  async #refreshToken(scope: string): Promise<HeldRefreshToken> {
    const { token, foreign } = await this.#rts.current();
    if (token) return token;
    const auth = this.#o.auth;
    if (!auth) {
      throw auth0Error(this.#o.refreshToken ? "refresh_token_invalid" : "refresh_token_missing");
    }
    if (foreign) {
      // The stored token was obtained under another login hint: never hand it (or the port's
      // copy of that login) to this identity.
      await this.#rts.forget();
      await auth.invalidate(scope);
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
    if (await this.#rts.isDead(result.credential.value)) {
      await auth.invalidate(scope);
      throw auth0Error("refresh_token_invalid", {
        detail: "The auth connector returned a refresh token Auth0 already rejected.",
      });
    }
    return await this.#rts.saveLogin(result.credential.value);
  }

  /**
   * Whether the tenant rotates refresh tokens, learnt from a refresh response (a new
   * `refresh_token` in it), which is persisted first. Asked only when Token Vault refused the
   * exchange without a reason mcs knows: rotation is one such reason, and its error wording is
   * not documented.
   */
  async #rotates(rt: HeldRefreshToken): Promise<boolean> {
    try {
      const res = await this.#t.token("mrrt", "refresh_token", { refresh_token: rt.value });
      return (await this.#rts.adopt(rt, res, { refreshGrant: true })).value !== rt.value;
    } catch {
      return false;
    }
  }

  async #dropRefreshToken(scope: string, rt: HeldRefreshToken): Promise<void> {
    await this.#rts.drop(rt);
    await this.#o.cache.delete(this.#k.myAccountToken(rt.identity));
    if (this.#o.auth) await this.#o.auth.invalidate(scope);
  }
}
