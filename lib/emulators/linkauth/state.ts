/**
 * The broker emulator's state: the session store (codes, ids, expiry and the cleanup of
 * consumed sessions, reference sections 2.3, 3 and 10.3) and the connect-route rate limits
 * (section 10.4, plus the across-codes limit that closes hole 3).
 *
 * Guarantees: a session past `expires_at`, or consumed longer than the cleanup interval ago,
 * is invisible to every look-up (and dropped); a code looks up the same session in any case or
 * hyphenation; the session id is the lowercase SHA-256 hex of the normalised code.
 *
 * @example
 * ```ts
 * import { SessionStore } from "./state.ts";
 * const store = new SessionStore({ now: Date.now, cleanupMs: 60_000, codeLength: 8 });
 * store.newCode(); // e.g. "QZWR-99J3"
 * ```
 * @module
 */
import {
  normalise,
  randomCode,
  type Session,
  type SessionStatus,
  sha256hex,
} from "../../broker/session.ts";

export { hex, normalise, type Session, sha256hex, token } from "../../broker/session.ts";

/** Session status as the broker stores it. */
export type BrokerSessionStatus = SessionStatus;

/** The session store. */
export class SessionStore {
  readonly #byId = new Map<string, Session>();
  readonly #now: () => number;
  readonly #cleanupMs: number;
  readonly #codeLength: number;

  constructor(o: { now: () => number; cleanupMs: number; codeLength: number }) {
    this.#now = o.now;
    this.#cleanupMs = o.cleanupMs;
    this.#codeLength = o.codeLength;
  }

  /** `s` if still visible; drops it once expired or cleaned up. */
  visible(s: Session | undefined): Session | undefined {
    if (!s) return undefined;
    const t = this.#now();
    if (s.expiresAt <= t || (s.consumedAt !== undefined && s.consumedAt + this.#cleanupMs <= t)) {
      this.#byId.delete(s.sessionId);
      return undefined;
    }
    return s;
  }

  /** A visible session by id. */
  get(id: string): Session | undefined {
    return this.visible(this.#byId.get(id));
  }

  /** A visible session by code (any case or hyphenation). */
  async byCode(code: string): Promise<Session | undefined> {
    return this.get(await sha256hex(normalise(code)));
  }

  /** A visible session by code or 64-hex id. */
  async find(codeOrId: string): Promise<Session | undefined> {
    return /^[0-9a-f]{64}$/.test(codeOrId) ? this.get(codeOrId) : await this.byCode(codeOrId);
  }

  /** {@link find} without hashing (test hooks that must stay synchronous). */
  findSync(codeOrId: string): Session | undefined {
    if (/^[0-9a-f]{64}$/.test(codeOrId)) return this.get(codeOrId);
    const n = normalise(codeOrId);
    return this.live().find((s) => normalise(s.code) === n);
  }

  /** Every visible session. */
  live(): Session[] {
    return [...this.#byId.values()].map((s) => this.visible(s)).filter((s): s is Session => !!s);
  }

  add(s: Session): void {
    this.#byId.set(s.sessionId, s);
  }

  /** A fresh code and its session id, unused by any visible session. */
  async newCode(): Promise<{ code: string; sessionId: string }> {
    for (;;) {
      const code = this.#randomCode();
      const sessionId = await sha256hex(normalise(code));
      if (!this.get(sessionId)) return { code, sessionId };
    }
  }

  #randomCode(): string {
    return randomCode(this.#codeLength);
  }
}

/** The connect-route limits. */
export class CodeLimiter {
  readonly #failures = new Map<string, number[]>();
  readonly #perCode = new Map<string, number[]>();
  readonly #now: () => number;
  readonly #limit: number;
  readonly #windowMs: number;

  constructor(o: { now: () => number; limit: number; windowMs: number }) {
    this.#now = o.now;
    this.#limit = o.limit;
    this.#windowMs = o.windowMs;
  }

  /**
   * The real limiter: more than 10 requests in 60 s per (client, raw code) answer 429; every
   * request counts, rejected ones too. `client` is the socket address —
   * deliberate: closes hole 3 (the real broker trusts a spoofable `X-Forwarded-For`).
   */
  perCodeLimited(client: string, rawCode: string): boolean {
    const t = this.#now();
    const k = `${client}\u0000${rawCode}`;
    const recent = (this.#perCode.get(k) ?? []).filter((x) => x > t - 60_000);
    recent.push(t);
    this.#perCode.set(k, recent);
    return recent.length > 10;
  }

  /**
   * deliberate: closes hole 3 — failed code look-ups are also limited per client ACROSS codes,
   * so codes cannot be enumerated (the real limit is per code only).
   */
  limited(client: string): boolean {
    const t = this.#now();
    const recent = (this.#failures.get(client) ?? []).filter((x) => x > t - this.#windowMs);
    this.#failures.set(client, recent);
    return recent.length >= this.#limit;
  }

  recordFailure(client: string): void {
    const list = this.#failures.get(client);
    if (list) list.push(this.#now());
    else this.#failures.set(client, [this.#now()]);
  }
}
