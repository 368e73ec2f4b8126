/**
 * What the Auth0 provider persists in the cache store, and under which keys. Every key is
 * namespaced by tenant host and client id (`auth0/<host>/<client>/…`), and per-flow state is
 * keyed by scope and connection, so parallel flows for different scopes never collide.
 *
 * @example
 * ```ts
 * import { keysFor } from "./state.ts";
 * keysFor("tenant.us.auth0.com", "abc").pending("gmail", "google-oauth2");
 * // "auth0/tenant.us.auth0.com/abc/connect/gmail/google-oauth2"
 * ```
 * @module
 */

import { decodeBase64Lenient } from "../../encoding/base64.ts";

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

/** Cache keys for one tenant + client. */
export function keysFor(host: string, clientId: string) {
  const root = `auth0/${safe(host)}/${safe(clientId)}`;
  return {
    root,
    refreshToken: `${root}/rt`,
    /** SHA-256 fingerprints of refresh tokens Auth0 rejected (never reuse them). */
    deadRefreshTokens: `${root}/rt-dead`,
    rotationObserved: `${root}/rotation-observed`,
    myAccountToken: `${root}/my-account-token`,
    accessToken: (scope: string, connection: string) =>
      `${root}/at/${safe(scope)}/${safe(connection)}`,
    pending: (scope: string, connection: string) =>
      `${root}/connect/${safe(scope)}/${safe(connection)}`,
    connected: (scope: string, connection: string) =>
      `${root}/connected/${safe(scope)}/${safe(connection)}`,
    /** Cross-process lease on the connect step (outside `connect/`, which lists pending flows). */
    connectLease: (scope: string, connection: string) =>
      `${root}/lease/connect/${safe(scope)}/${safe(connection)}`,
  };
}

/** Short SHA-256 fingerprint of a secret (to remember dead tokens without storing them). */
export async function fingerprint(secret: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return Array.from(new Uint8Array(d).slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
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
