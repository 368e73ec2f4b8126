/**
 * Custody of the Auth0 refresh token: which one to use, and keeping the newest one when the
 * tenant rotates them.
 *
 * Guarantees:
 * - **A rotated token is persisted before anything uses it.** Any token-endpoint response that
 *   carries a `refresh_token` different from the one presented (a refresh, the MRRT exchange for
 *   the My Account API, a Token Vault exchange if it ever rotates) goes through {@link
 *   RefreshTokens.adopt}, which writes it to the store (one atomic `set`) and only then returns
 *   it. Rotation is detected from that response shape alone, never from error wording.
 * - **A rotated token wins over the configured one it descends from.** The stored entry keeps
 *   the fingerprint of its origin (the configured `MCS_AUTH0_REFRESH_TOKEN`, or the token a login
 *   returned). While the configured token is unchanged, its stored descendant is used; a new
 *   configured token is a new origin and starts over, and with none configured a descendant of
 *   a configured token is not used at all (only tokens from a login are).
 * - **Identity.** {@link HeldRefreshToken.identity} (origin + login hint, see `identityOf`)
 *   keys everything obtained with the token, so another token or hint never sees it. A stored
 *   token obtained under another login hint is "foreign": not used.
 * - Tokens Auth0 rejected are remembered by fingerprint only and never presented again.
 *
 * @example
 * ```ts
 * import { RefreshTokens } from "./refresh_token.ts";
 * import { keysFor } from "./state.ts";
 * import { MemoryCacheStore } from "../../cache/memory.ts";
 * const rts = new RefreshTokens(new MemoryCacheStore(), keysFor("t.auth0.com", "id"), { configured: "v1.a" });
 * const { token } = await rts.current();          // the configured token (nothing rotated yet)
 * const next = await rts.adopt(token!, { refresh_token: "v1.b" }); // persisted, then returned
 * (await rts.current()).token?.value;               // "v1.b" while "v1.a" stays configured
 * ```
 * @module
 */
import type { CacheStore } from "../../cache/types.ts";
import { type Auth0Keys, fingerprint, identityOf, type StoredRefreshToken } from "./state.ts";

/** A refresh token in use, with its origin, hint and the identity derived from both. */
export interface HeldRefreshToken extends StoredRefreshToken {
  origin: string;
  hint: string;
  source: "configured" | "login";
  /** Keys every identity-bound cache entry. */
  identity: string;
}

/** What {@link RefreshTokens.current} found. */
export interface CurrentRefreshToken {
  /** The token to use, if any. */
  token?: HeldRefreshToken;
  /** A stored token exists but belongs to another login hint (drop it before a new login). */
  foreign: boolean;
}

/** Options of {@link RefreshTokens}. */
export interface RefreshTokensOptions {
  /** The configured refresh token (`MCS_AUTH0_REFRESH_TOKEN`), if any. */
  configured?: string;
  /** The configured login hint, if any. */
  loginHint?: string;
}

/** The refresh token's custody (see the module doc). */
export class RefreshTokens {
  /** The token this process uses (set by a lookup, a login or a rotation; cleared on drop). */
  #held?: HeldRefreshToken;
  /** The lookup in flight, if any. */
  #lookingUp?: Promise<CurrentRefreshToken>;

  constructor(
    readonly cache: CacheStore,
    readonly keys: Auth0Keys,
    readonly options: RefreshTokensOptions = {},
  ) {}

  async #hold(
    value: string,
    source: "configured" | "login",
    origin?: string,
  ): Promise<HeldRefreshToken> {
    const o = origin ?? await fingerprint(value);
    const hint = await fingerprint(this.options.loginHint ?? "");
    return {
      kind: "refresh_token",
      value,
      origin: o,
      hint,
      source,
      identity: await identityOf(o, this.options.loginHint),
    };
  }

  async #dead(): Promise<Set<string>> {
    return new Set(await this.cache.get<string[]>(this.keys.deadRefreshTokens) ?? []);
  }

  /** Whether Auth0 already rejected `value`. */
  async isDead(value: string): Promise<boolean> {
    return (await this.#dead()).has(await fingerprint(value));
  }

  /**
   * The token to use: the stored descendant of the configured token, else the configured token,
   * else (configured one rejected, or none) a stored token of the same login hint.
   */
  async current(): Promise<CurrentRefreshToken> {
    if (this.#held) return { token: this.#held, foreign: false };
    // Concurrent callers (the label cache's identity and the token itself) share one lookup.
    this.#lookingUp ??= this.#lookup().then((found) => {
      this.#held = found.token;
      return found;
    }).finally(() => this.#lookingUp = undefined);
    return await this.#lookingUp;
  }

  async #lookup(): Promise<CurrentRefreshToken> {
    const dead = await this.#dead();
    const alive = async (v: string) => !dead.has(await fingerprint(v));
    const raw = await this.cache.get<StoredRefreshToken>(this.keys.refreshToken);
    const stored = raw?.kind === "refresh_token" && typeof raw.value === "string" ? raw : undefined;
    const hint = await fingerprint(this.options.loginHint ?? "");
    const storedOrigin = stored ? (stored.origin ?? await fingerprint(stored.value)) : undefined;
    const storedHint = stored ? (stored.hint ?? await fingerprint("")) : undefined;
    const configured = this.options.configured;
    if (configured) {
      const origin = await fingerprint(configured);
      if (
        stored && stored.source === "configured" && storedOrigin === origin &&
        storedHint === hint && await alive(stored.value)
      ) {
        return { token: await this.#hold(stored.value, "configured", origin), foreign: false };
      }
      if (await alive(configured)) {
        return { token: await this.#hold(configured, "configured"), foreign: false };
      }
    }
    // A descendant of a configured token is never used once that token is no longer configured.
    if (!stored || stored.source === "configured") return { foreign: false };
    if (storedHint !== hint) return { foreign: true };
    if (!(await alive(stored.value))) return { foreign: false };
    return { token: await this.#hold(stored.value, "login", storedOrigin), foreign: false };
  }

  /** Persist a token a login returned (its own origin). */
  async saveLogin(value: string): Promise<HeldRefreshToken> {
    const held = await this.#hold(value, "login");
    await this.#save(held);
    return this.#held = held;
  }

  async #save(held: HeldRefreshToken): Promise<void> {
    const { kind, value, origin, hint, source } = held;
    await this.cache.set<StoredRefreshToken>(this.keys.refreshToken, {
      kind,
      value,
      origin,
      hint,
      source,
    });
  }

  /**
   * If `res` (any token-endpoint success body) carries a new refresh token, persist it as the
   * successor of `rt` (same origin and identity) and remember that the tenant rotates; returns
   * the token to use from now on. The write completes before this resolves. A refresh-grant
   * response (`refreshGrant`) without a new token clears the remembered rotation.
   */
  async adopt(
    rt: HeldRefreshToken,
    res: { refresh_token?: unknown },
    options: { refreshGrant?: boolean } = {},
  ): Promise<HeldRefreshToken> {
    const next = res.refresh_token;
    if (typeof next !== "string" || !next || next === rt.value) {
      // A refresh answered without a new token: the tenant does not rotate (any more).
      if (options.refreshGrant && await this.rotationObserved()) {
        await this.cache.delete(this.keys.rotationObserved);
      }
      return rt;
    }
    const held: HeldRefreshToken = { ...rt, value: next };
    await this.#save(held);
    if (this.#held?.identity === rt.identity) this.#held = held;
    await this.cache.set(this.keys.rotationObserved, true);
    return held;
  }

  /** Whether a refresh response ever carried a new refresh token on this tenant + client. */
  async rotationObserved(): Promise<boolean> {
    return (await this.cache.get<boolean>(this.keys.rotationObserved)) === true;
  }

  /** Remember `rt` as rejected and delete it from the store (if it is the stored one). */
  async drop(rt: { value: string }): Promise<void> {
    if (this.#held?.value === rt.value) this.#held = undefined;
    const fp = await fingerprint(rt.value);
    await this.cache.update<string[]>(this.keys.deadRefreshTokens, (cur) => ({
      value: [...(cur ?? []).filter((x) => x !== fp), fp].slice(-20),
    }));
    const stored = await this.cache.get<StoredRefreshToken>(this.keys.refreshToken);
    if (!stored || stored.value === rt.value) await this.cache.delete(this.keys.refreshToken);
  }

  /** Delete the stored token (it belongs to another login hint). */
  async forget(): Promise<void> {
    this.#held = undefined;
    await this.cache.delete(this.keys.refreshToken);
  }
}
