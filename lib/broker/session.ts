/**
 * A broker session (the row of LinkAuth's `sessions` table, reference sections 2.3, 3 and 10.3)
 * and the identifiers around it: user codes, session ids, and the `pt_`/`ct_`/`wt_`/`cs_` tokens.
 * Shared by the production broker (`lib/broker`) and the in-memory emulator
 * (`lib/emulators/linkauth`); neither imports client code.
 *
 * Guarantees: a code is `codeLength` characters of `A–Z0–9` from the CSPRNG without modulo bias,
 * hyphenated at `length//2`; the session id is the lowercase SHA-256 hex of the normalised code
 * (`ABCD-1234` → `1635c852…a262`); tokens are a prefix plus `token_urlsafe(32)`.
 *
 * @example
 * ```ts
 * import { normalise, randomCode, sessionIdOf } from "./session.ts";
 * const code = randomCode(8); // e.g. "QZWR-99J3"
 * await sessionIdOf(code) === await sessionIdOf(normalise(code).toLowerCase()); // true
 * ```
 * @module
 */
import { encodeUrl } from "./envelope.ts";
import type { FieldSpec } from "./templates.ts";

/**
 * Session status. LinkAuth stores the first four; `failed` is this broker's terminal state for
 * a denied sign-in or consent (polls report it as `expired`, which clients treat as terminal).
 */
export type SessionStatus = "pending" | "confirmed" | "ready" | "consumed" | "failed";

/** One session. */
export interface Session {
  sessionId: string;
  code: string;
  publicKey: string;
  /** The API key that created it (the emulator keeps it; the broker keeps its hash). */
  apiKey?: string;
  displayName: string;
  templateType: "form" | "oauth";
  fields: FieldSpec[];
  oauthProvider?: string;
  oauthScopes?: string[];
  oauthExtraParams?: Record<string, string>;
  customAuthorizeUrl?: string;
  customCallbackParams?: string[];
  customState?: string;
  callbackUrl?: string;
  callbackSecret?: string;
  webhookToken?: string;
  status: SessionStatus;
  pollToken: string;
  connectToken?: string;
  /** Set once the OAuth (or passthrough) redirect was issued: closes `/complete`. */
  oauthStarted: boolean;
  oauthState?: string;
  codeVerifier?: string;
  /**
   * SHA-256 hex of the browser-binding cookie set with the OAuth (or passthrough) redirect: the
   * callback is accepted only from the browser that holds it (production broker only).
   */
  browserBinding?: string;
  ciphertext?: string;
  algorithm?: string;
  /** Why a `failed` session failed (an OAuth `error` such as `access_denied`). */
  failure?: string;
  createdAt: number;
  expiresAt: number;
  consumedAt?: number;
  lastPoll?: number;
  pollCount: number;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** Upper-case, hyphens removed: how every `{code}` route normalises. */
export const normalise = (code: string): string => code.replace(/-/g, "").toUpperCase();

/** Lowercase hex. */
export const hex = (bytes: ArrayBuffer | Uint8Array): string =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

/** Lowercase SHA-256 hex of UTF-8 text. */
export const sha256hex = async (text: string): Promise<string> =>
  hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));

/** The session id of a code (any case or hyphenation). */
export const sessionIdOf = (code: string): Promise<string> => sha256hex(normalise(code));

/** `prefix` + `token_urlsafe(32)` (43 characters). */
export const token = (prefix: string): string =>
  prefix + encodeUrl(crypto.getRandomValues(new Uint8Array(32)));

/** A fresh random user code of `length` characters, hyphenated at `length//2`. */
export function randomCode(length: number): string {
  const chars: string[] = [];
  while (chars.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(16))) {
      if (b < 252 && chars.length < length) chars.push(ALPHABET[b % 36]); // no modulo bias
    }
  }
  const half = Math.floor(length / 2);
  return `${chars.slice(0, half).join("")}-${chars.slice(half).join("")}`;
}

/** Whether a `{code}` path segment can be a code at all (before any look-up). */
export const plausibleCode = (code: string): boolean => /^[A-Za-z0-9-]{1,32}$/.test(code);
