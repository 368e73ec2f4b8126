/**
 * The auth ports: what every credential provider and interactive connector satisfies.
 *
 * Providers depend on these interfaces only, never on a concrete connector, so the agent-facing
 * code is identical whichever auth path (`auth0`, `auth0-oauth`, `auth0-linkauth`, `linkauth`,
 * `static`) is configured.
 *
 * @example
 * ```ts
 * import type { CredentialProvider } from "./types.ts";
 * async function gmailToken(p: CredentialProvider) {
 *   return await p.getToken("gmail"); // may throw AuthChallenge
 * }
 * ```
 * @module
 */

import { McsError } from "../errors.ts";

/** An access token for a resource server. Refresh tokens are a different type, on purpose. */
export interface AccessToken {
  readonly kind: "access_token";
  /** The bearer value. Never logged. */
  readonly value: string;
  /** Epoch milliseconds after which the token must not be used; undefined if unknown. */
  readonly expiresAt?: number;
  /** Scopes the issuer reported as granted, if any. */
  readonly scopes?: readonly string[];
}

/** A long-lived refresh token (Auth0). Never sent to a resource server. */
export interface RefreshToken {
  readonly kind: "refresh_token";
  readonly value: string;
}

/** Anything a connector may hand back. */
export type Credential = AccessToken | RefreshToken;

/** The port every credential provider satisfies structurally. */
export interface CredentialProvider {
  /**
   * Resolve an access token for `scope` (for example `"gmail"`).
   * @throws {AuthChallenge} when the user must act first (open a URL, enter a code).
   */
  getToken(scope: string): Promise<string>;
  /** Forget any cached access token for `scope` (called after a 401 from the resource server). */
  invalidate(scope: string): Promise<void>;
  /**
   * Optional: a stable, non-secret id of the account tokens for `scope` act as (e.g. a
   * fingerprint of the refresh token's origin and the login hint). Per-account cache entries
   * outside the provider (the Gmail label map) are keyed by it, so a new account never reads
   * another's. May raise an {@link AuthChallenge} like {@link getToken}.
   */
  identity?(scope: string): Promise<string>;
}

/** Which step of the flow needs the user. */
export type AuthStep = "login" | "connect";

/** Fields of an {@link AuthChallenge}. */
export interface AuthChallengeInit {
  /** One sentence telling the user what to do. */
  message: string;
  /** The URL the user opens. */
  url?: string;
  /** The code the user enters or confirms, if any. */
  code?: string;
  /** The scope the token was requested for (e.g. "gmail"). */
  scope?: string;
  /** Login (first credential) or connect (Connected Accounts consent). */
  step: AuthStep;
  /** Epoch ms after which this URL/code is dead and a new challenge will be issued. */
  expiresAt?: number;
  /** Seconds the caller should wait before checking again. */
  retryAfterS?: number;
}

/**
 * The one error that means "the user must do something first". Running the same command again
 * after the user acted continues the flow (all state is in the cache store).
 */
export class AuthChallenge extends McsError {
  readonly url?: string;
  readonly userCode?: string;
  readonly scope?: string;
  readonly step: AuthStep;
  readonly expiresAt?: number;
  readonly retryAfterS?: number;

  constructor(init: AuthChallengeInit) {
    super("auth_required", init.message, "runtime", { retryable: true });
    this.name = "AuthChallenge";
    this.url = init.url;
    this.userCode = init.code;
    this.scope = init.scope;
    this.step = init.step;
    this.expiresAt = init.expiresAt;
    this.retryAfterS = init.retryAfterS;
  }
}

/** A request to an {@link AuthPort}. */
export interface AuthRequest {
  /** The scope being authorised, e.g. "gmail" or "gmail:connect". */
  scope: string;
  /**
   * Passthrough mode: send the user's browser to this URL (e.g. the Connected Accounts consent
   * URL) and capture `callbackParams` from the redirect back to {@link AuthPort.callbackUrl}.
   */
  url?: string;
  /** Names of the callback query parameters to capture in passthrough mode. */
  callbackParams?: readonly string[];
  /** Opaque correlation value (the OAuth `state`) for passthrough mode. */
  state?: string;
  /** Step reported in the challenge (default: "login", or "connect" in passthrough mode). */
  step?: AuthStep;
  /** Extra authorize parameters for login (e.g. `login_hint`, `connection`). */
  authorizeParams?: Record<string, string>;
}

/** What an {@link AuthPort} returns once the user has acted. */
export type AuthResult =
  /** Login mode: the credential obtained (an Auth0 refresh token, or an access token). */
  | { kind: "credential"; credential: Credential; expiresIn?: number }
  /** Passthrough mode: the captured callback parameters. */
  | { kind: "callback"; params: Record<string, string> };

/**
 * How the first credential is obtained interactively (loopback OAuth, LinkAuth broker, ...).
 * Non-blocking by default: if the user has not acted yet, `authenticate` throws
 * {@link AuthChallenge}; calling it again later (possibly from another process) picks the
 * result up.
 */
export interface AuthPort {
  authenticate(request: AuthRequest): Promise<AuthResult>;
  /** Forget any credential the connector itself cached for `scope` (e.g. a dead refresh token). */
  invalidate(scope: string): Promise<void>;
  /** The redirect URI the connector captures passthrough callbacks on, if it has one. */
  readonly callbackUrl?: string;
}

/** Optional capability: relay an HTTP request through a broker (LinkAuth `/v1/proxy`). */
export interface HttpRelay {
  relay(request: Request): Promise<Response>;
}
