/**
 * The registry of Google access tokens shared by the emulators: the Auth0 tenant emulator mints
 * tokens (Token Vault exchange) and the Gmail emulator validates them. Both run in one process
 * (`mcs dev`, the tests), so an in-memory registry is enough.
 *
 * @example
 * ```ts
 * import { GoogleTokenRegistry } from "./google_tokens.ts";
 * const reg = new GoogleTokenRegistry();
 * const { token } = reg.issue({ sub: "google-oauth2|1", email: "ada@example.com", scopes: ["https://mail.google.com/"], ttlS: 3600 });
 * reg.validate(token); // { ok: true, grant: {...} }
 * ```
 * @module
 */

/** What a minted token grants. */
export interface GoogleGrant {
  /** The Google account subject (e.g. "google-oauth2|1234"). */
  sub: string;
  /** The mailbox address. */
  email: string;
  /** Granted Google OAuth scopes. */
  scopes: string[];
}

/** Result of {@link GoogleTokenRegistry.validate}. */
export type TokenCheck =
  | { ok: true; grant: GoogleGrant; expiresAt: number }
  | { ok: false; reason: "unknown" | "expired" | "revoked" };

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return "ya29.emu-" + bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** In-memory Google access-token registry. */
export class GoogleTokenRegistry {
  #tokens = new Map<string, { grant: GoogleGrant; expiresAt: number; revoked: boolean }>();
  /** Clock, injectable for tests (epoch ms). */
  now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Mint a token valid for `ttlS` seconds. */
  issue(input: GoogleGrant & { ttlS: number }): { token: string; expiresIn: number } {
    const token = randomToken();
    const { ttlS, ...grant } = input;
    this.#tokens.set(token, { grant, expiresAt: this.now() + ttlS * 1000, revoked: false });
    return { token, expiresIn: ttlS };
  }

  /** Check a bearer value. */
  validate(token: string): TokenCheck {
    const t = this.#tokens.get(token);
    if (!t) return { ok: false, reason: "unknown" };
    if (t.revoked) return { ok: false, reason: "revoked" };
    if (this.now() >= t.expiresAt) return { ok: false, reason: "expired" };
    return { ok: true, grant: t.grant, expiresAt: t.expiresAt };
  }

  /** Revoke every token of a subject (e.g. when a connected account is deleted). */
  revokeSubject(sub: string): void {
    for (const t of this.#tokens.values()) if (t.grant.sub === sub) t.revoked = true;
  }

  /** Revoke one token. */
  revoke(token: string): void {
    const t = this.#tokens.get(token);
    if (t) t.revoked = true;
  }
}
