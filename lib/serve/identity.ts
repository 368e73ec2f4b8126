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
  return [...new Uint8Array(d).slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function digest(s: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
}

/** Compare two secrets in time independent of where (or whether) they differ. */
export async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
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

/** The verified `sub` of an Open WebUI user token, or undefined when it does not verify. */
async function verifiedSubject(token: string, secret: string): Promise<string | undefined> {
  const { jwtVerify } = await (jose ??= import("jose"));
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ["HS256"],
      issuer: "open-webui",
      requiredClaims: ["exp", "sub"],
      // Open WebUI and mcs run on different hosts: allow their clocks to differ a little.
      clockTolerance: CLOCK_TOLERANCE_S,
    });
    return typeof payload.sub === "string" && payload.sub !== "" ? payload.sub : undefined;
  } catch {
    return undefined;
  }
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
    const sub = await verifiedSubject(jwt.trim(), policy.jwtSecret);
    if (sub === undefined) {
      return refuse(
        401,
        "serve_user_token_invalid",
        "Unauthorized: the X-OpenWebUI-User-Jwt token is invalid or expired (HS256 under " +
          "MCS_SERVE_USER_JWT_SECRET, issuer open-webui, with sub and exp).",
        true,
      );
    }
    return { ok: true, user: await userHash(sub) };
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
    return { ok: true, user: await userHash(plain) };
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
