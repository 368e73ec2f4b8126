/**
 * Who is calling `mcs serve`: the key gate, and in team mode the user, for OpenAPI and MCP alike.
 *
 * Guarantees:
 * - Key: with `apiKey` set, every request needs `Authorization: Bearer <key>` (compared in
 *   constant time), else 401 `serve_unauthorized`.
 * - Single-user mode (no `jwtSecret`, no `userHeader`): no identity; every caller acts as the
 *   server's one user (its profile's store), as before team mode existed.
 * - Team mode, signed: `X-OpenWebUI-User-Jwt` (what Open WebUI sends when
 *   `FORWARD_USER_INFO_HEADER_JWT_SECRET` is set) is verified with `jose` under `jwtSecret`:
 *   HS256 only, issuer `open-webui`, `exp` required and checked (30 s of clock tolerance), `sub`
 *   required. A bad, expired or
 *   unsigned token is 401 `serve_user_token_invalid`; a token is never trusted unverified.
 * - Team mode, plain: `userHeader` (e.g. `X-OpenWebUI-User-Id`) names the user. It is unsigned,
 *   so it counts only when the key is configured and presented (Open WebUI authenticates with the
 *   key): a user header without the key is 401 (and the server refuses to start with a user
 *   header but no key, see {@link checkTeamConfig}).
 * - Team mode without a user is 400 `serve_user_required`.
 * - A user id becomes a store namespace through {@link userHash} (SHA-256, 128 bits, hex): the
 *   id itself is never a key, a path or a log field.
 * - Cost per request: a token that verified is remembered until it expires
 *   ({@link UserTokenVerifier}), and user hashes are memoised, so a warm caller costs map look-ups
 *   rather than an HMAC and a SHA-256 per call.
 *
 * @example
 * ```ts
 * import { identify } from "./identity.ts";
 * const who = await identify(new Request("http://x/"), { apiKey: "k", userHeader: "x-user" });
 * // who = { ok: false, status: 401, doc: { ok: false, error: { code: "serve_unauthorized", ... } } }
 * ```
 * @module
 */

import { ConfigError } from "../errors.ts";
import { encodeHex } from "../encoding/hex.ts";
import { sameSecret } from "../mcp/http.ts";
import type { ErrorDoc } from "./responses.ts";

/** The header Open WebUI sends its signed user token in. */
export const USER_JWT_HEADER = "x-openwebui-user-jwt";

/** What identifies callers. */
export interface CallerPolicy {
  /** `MCS_SERVE_API_KEY`. */
  apiKey?: string;
  /** `MCS_SERVE_USER_JWT_SECRET`: HS256 secret shared with Open WebUI. */
  jwtSecret?: string;
  /** `MCS_SERVE_USER_HEADER`: the header naming the user (trusted with the key only). */
  userHeader?: string;
}

/** The outcome of {@link identify}. */
export type Caller =
  | { ok: true; /** The user's namespace hash (team mode), else undefined. */ user?: string }
  | { ok: false; status: number; doc: ErrorDoc; headers?: Record<string, string> };

/** Whether `policy` is team mode (one namespace per user). */
export function teamMode(policy: CallerPolicy): boolean {
  return Boolean(policy.jwtSecret || policy.userHeader);
}

/**
 * Refuse a plain user header without a key: anyone could then claim any user.
 * @throws {ConfigError} `serve_api_key_required`
 */
export function checkTeamConfig(policy: CallerPolicy): void {
  if (policy.userHeader && !policy.apiKey) {
    throw new ConfigError(
      "serve_api_key_required",
      "MCS_SERVE_USER_HEADER needs MCS_SERVE_API_KEY: the header is unsigned, so it is trusted " +
        "only from a caller that presents the key (Open WebUI: set the key on the tool server). " +
        "Or use the signed header instead (MCS_SERVE_USER_JWT_SECRET).",
      { details: { env: "MCS_SERVE_API_KEY" } },
    );
  }
}

/** The store namespace of a user id: hex of the first 128 bits of SHA-256("mcs-user:" + id). */
export async function userHash(id: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`mcs-user:${id}`));
  return encodeHex(new Uint8Array(d).slice(0, 16));
}

/** Bounded memo of {@link userHash} (plain-header ids repeat on every request). */
const hashes = new Map<string, Promise<string>>();

function cachedUserHash(id: string): Promise<string> {
  let h = hashes.get(id);
  if (!h) {
    if (hashes.size >= 10_000) hashes.delete(hashes.keys().next().value!);
    h = userHash(id);
    hashes.set(id, h);
  }
  return h;
}

function refuse(status: number, code: string, message: string, bearer = false): Caller {
  return {
    ok: false,
    status,
    doc: { ok: false, error: { code, message, retryable: false } },
    ...(bearer ? { headers: { "www-authenticate": 'Bearer realm="mcs"' } } : {}),
  };
}

/** Seconds of clock difference tolerated on `exp` (and `nbf`, `iat`). */
export const CLOCK_TOLERANCE_S = 30;

let jose: Promise<typeof import("jose")> | undefined;

/** Options of {@link UserTokenVerifier}. */
export interface UserTokenVerifierOptions {
  /** Tokens remembered at once (default 10 000; the oldest is forgotten first). */
  maxEntries?: number;
  /** Longest a verified token is remembered, whatever its `exp` (default 10 min). */
  maxAgeMs?: number;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
}

/**
 * Verifies Open WebUI user tokens under one secret, and remembers the ones that verified.
 *
 * Verifying costs an HMAC through WebCrypto (with jose's parsing, 60–130 µs of CPU measured
 * here; under load the largest single item of a warm call), and Open WebUI sends the same
 * token with every call of a chat until it expires. So a token that verified is remembered,
 * keyed by its exact text, with its user hash, until its `exp` (plus the same clock tolerance
 * jose applies) or `maxAgeMs`, whichever comes first:
 * - an expired token is refused as jose would refuse it (the remembered `exp` is checked on
 *   every call); `nbf` and `iat` only ever pass more easily with time, so a token that passed
 *   them once still would;
 * - only successes are remembered: a bad token is verified (and refused) every time;
 * - a verifier is bound to its secret: another secret gets another verifier, with nothing
 *   remembered (a token signed under the old secret is verified, and refused, afresh).
 */
export class UserTokenVerifier {
  readonly secret: string;
  readonly #known = new Map<string, { user: string; until: number }>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #key: Promise<CryptoKey> | undefined;

  constructor(secret: string, options: UserTokenVerifierOptions = {}) {
    this.secret = secret;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Tokens remembered now. */
  get size(): number {
    return this.#known.size;
  }

  /** The user hash of a token that verifies, else undefined. */
  async user(token: string): Promise<string | undefined> {
    const now = this.#now();
    const known = this.#known.get(token);
    if (known) {
      if (now < known.until) return known.user;
      this.#known.delete(token);
    }
    const { jwtVerify } = await (jose ??= import("jose"));
    // The key is imported once (jose would import the raw secret on every call).
    this.#key ??= crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(this.secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    let sub: string, exp: number;
    try {
      const { payload } = await jwtVerify(token, await this.#key, {
        algorithms: ["HS256"],
        issuer: "open-webui",
        requiredClaims: ["exp", "sub"],
        // Open WebUI and mcs run on different hosts: allow their clocks to differ a little.
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: new Date(now),
      });
      if (typeof payload.sub !== "string" || payload.sub === "") return undefined;
      sub = payload.sub;
      exp = payload.exp!;
    } catch {
      return undefined;
    }
    const user = await cachedUserHash(sub);
    if (this.#known.size >= this.#maxEntries) this.#known.delete(this.#known.keys().next().value!);
    // jose accepts while now <= exp + tolerance (seconds); remembered strictly before that.
    const until = Math.min((exp + CLOCK_TOLERANCE_S) * 1000, now + this.#maxAgeMs);
    this.#known.set(token, { user, until });
    return user;
  }
}

/** One verifier per policy, rebuilt when the policy's secret changes. */
const verifiers = new WeakMap<CallerPolicy, UserTokenVerifier>();

function verifierOf(policy: CallerPolicy, secret: string): UserTokenVerifier {
  let v = verifiers.get(policy);
  if (v?.secret !== secret) {
    v = new UserTokenVerifier(secret);
    verifiers.set(policy, v);
  }
  return v;
}

/** Check the key and find the user of `req` under `policy`. */
export async function identify(req: Request, policy: CallerPolicy): Promise<Caller> {
  let keyed = false;
  if (policy.apiKey !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "");
    if (!m || !(await sameSecret(m[1].trim(), policy.apiKey))) {
      return refuse(
        401,
        "serve_unauthorized",
        "Unauthorized: send Authorization: Bearer <MCS_SERVE_API_KEY>.",
        true,
      );
    }
    keyed = true;
  }
  if (!teamMode(policy)) return { ok: true };
  const jwt = policy.jwtSecret ? req.headers.get(USER_JWT_HEADER) : null;
  if (jwt !== null && policy.jwtSecret) {
    const user = await verifierOf(policy, policy.jwtSecret).user(jwt.trim());
    if (user === undefined) {
      return refuse(
        401,
        "serve_user_token_invalid",
        "Unauthorized: the X-OpenWebUI-User-Jwt token is invalid or expired (HS256 under " +
          "MCS_SERVE_USER_JWT_SECRET, issuer open-webui, with sub and exp).",
        true,
      );
    }
    return { ok: true, user };
  }
  const plain = policy.userHeader ? req.headers.get(policy.userHeader)?.trim() : undefined;
  if (plain) {
    if (!keyed) {
      return refuse(
        401,
        "serve_unauthorized",
        `Unauthorized: the ${policy.userHeader} header is trusted only with ` +
          "Authorization: Bearer <MCS_SERVE_API_KEY>.",
        true,
      );
    }
    return { ok: true, user: await cachedUserHash(plain) };
  }
  const how = [
    policy.jwtSecret ? "X-OpenWebUI-User-Jwt" : undefined,
    policy.userHeader,
  ].filter(Boolean).join(" or ");
  return refuse(
    400,
    "serve_user_required",
    `This server runs in team mode: each request must name its user (${how}). In Open WebUI, ` +
      "enable ENABLE_FORWARD_USER_INFO_HEADERS (and FORWARD_USER_INFO_HEADER_JWT_SECRET).",
  );
}
