/**
 * What the Auth0 provider persists in the cache store, and under which keys. Every key is
 * namespaced by tenant host and client id (`auth0/<host>/<client>/…`). Everything obtained for
 * one account (the Google access token, the My Account token, a pending connect flow, the
 * connected-account record, the leases on their steps) is also keyed by the **identity**: a
 * fingerprint of the refresh token's origin and the login hint ({@link identityOf}). A new
 * `MCS_AUTH0_REFRESH_TOKEN` or `MCS_AUTH0_LOGIN_HINT` is a new identity and never sees the
 * previous account's entries. Per-flow state is keyed by scope and connection too, so
 * parallel flows for different scopes never collide.
 *
 * The refresh token itself is stored once per tenant + client, with the fingerprint of its
 * origin (the configured token, or the token a login returned) and of the login hint: a token
 * rotated from the configured one wins over it while the configured one is unchanged.
 *
 * @example
 * ```ts
 * import { identityOf, keysFor } from "./state.ts";
 * const id = await identityOf("5d41402abc4b2a76b9719d91", "ada@example.com");
 * keysFor("tenant.us.auth0.com", "abc").pending(id, "gmail", "google-oauth2");
 * // "auth0/tenant.us.auth0.com/abc/connect/gmail/google-oauth2/<id>"
 * ```
 * @module
 */

import { decodeBase64Lenient } from "../../encoding/base64.ts";
import { encodeHex } from "../../encoding/hex.ts";

/** A cached access token (typed: a refresh token can never be read back as one). */
export interface StoredAccessToken {
  kind: "access_token";
  value: string;
  /** Epoch ms when the issuer says it expires. */
  expiresAt: number;
  scopes?: string[];
}

/** The persisted refresh token. */
export interface StoredRefreshToken {
  kind: "refresh_token";
  value: string;
  /**
   * Fingerprint of the token this one descends from by rotation: the configured
   * `MCS_AUTH0_REFRESH_TOKEN`, or the token a login returned (then its own fingerprint).
   * Absent in entries written before rotation was tracked (the value's own fingerprint).
   */
  origin?: string;
  /** Fingerprint of the login hint in force when it was obtained (absent: none). */
  hint?: string;
  /**
   * `configured`: a rotated descendant of `MCS_AUTH0_REFRESH_TOKEN`, used only while that
   * setting holds its origin. `login` (or absent): obtained by a login, used when no usable
   * token is configured.
   */
  source?: "configured" | "login";
}

/** A Connected Accounts flow waiting for the user's consent. */
export interface PendingConnect {
  authSession: string;
  codeVerifier: string;
  state: string;
  redirectUri: string;
  scope: string;
  connection: string;
  /** The consent URL shown to the user. */
  url: string;
  /** Epoch ms after which the ticket is dead. */
  expiresAt: number;
}

/**
 * What mcs learnt when the account was connected. `/complete` always says `access_type:
 * "offline"`, so whether Auth0 really holds a provider refresh token (the connection's Offline
 * Access, checklist #11) only shows once the vault hands out a second, refreshed token.
 */
export interface ConnectedRecord {
  id?: string;
  connectedAt: number;
  /** Fingerprint of the first provider token the vault returned after the connect. */
  firstToken?: string;
  /** Set once the vault returned a different token: a provider refresh token is stored. */
  refreshed?: boolean;
}

function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** Cache keys for one tenant + client; `id` is the identity ({@link identityOf}). */
export function keysFor(host: string, clientId: string) {
  const root = `auth0/${safe(host)}/${safe(clientId)}`;
  const per = (kind: string) => (id: string, scope: string, connection: string) =>
    `${root}/${kind}/${safe(scope)}/${safe(connection)}/${safe(id)}`;
  return {
    root,
    refreshToken: `${root}/rt`,
    /** SHA-256 fingerprints of refresh tokens Auth0 rejected (never reuse them). */
    deadRefreshTokens: `${root}/rt-dead`,
    /** Set once a refresh response carried a new refresh token (the tenant rotates). */
    rotationObserved: `${root}/rotation-observed`,
    myAccountToken: (id: string) => `${root}/my-account-token/${safe(id)}`,
    accessToken: per("at"),
    pending: per("connect"),
    connected: per("connected"),
    /** Cross-process lease on the connect step (outside `connect/`, which lists pending flows). */
    connectLease: per("lease/connect"),
    /** Cross-process lease on the Token Vault exchange (one exchange for parallel processes). */
    vaultLease: per("lease/vault"),
  };
}

/** The cache keys of one tenant + client. */
export type Auth0Keys = ReturnType<typeof keysFor>;

/**
 * The identity entries are bound to: a fingerprint of the refresh token's origin fingerprint
 * and the login hint. Two configurations share cached tokens only when both are equal.
 */
export async function identityOf(origin: string, loginHint: string | undefined): Promise<string> {
  return await fingerprint(`${origin}\n${loginHint ?? ""}`);
}

/**
 * Fingerprints computed in this process, by secret: one token lookup asks for the same few
 * (configured token, stored token, login hint) several times. Bounded, as a long-running server
 * sees a new token per rotation.
 */
const fingerprints = new Map<string, Promise<string>>();
const MAX_FINGERPRINTS = 64;

/** Short SHA-256 fingerprint of a secret (to remember dead tokens without storing them). */
export function fingerprint(secret: string): Promise<string> {
  let fp = fingerprints.get(secret);
  if (!fp) {
    if (fingerprints.size >= MAX_FINGERPRINTS) fingerprints.clear();
    fp = crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)).then((d) =>
      encodeHex(new Uint8Array(d).slice(0, 12))
    );
    fingerprints.set(secret, fp);
    fp.catch(() => fingerprints.delete(secret));
  }
  return fp;
}

/** `exp` of a JWT in epoch ms, if the value is a JWT with a numeric `exp`. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(new TextDecoder().decode(decodeBase64Lenient(parts[1])));
    return typeof payload?.exp === "number" ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
