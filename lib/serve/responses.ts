/**
 * HTTP answers of `mcs serve`'s OpenAPI operations: a thrown value's status, and JSON responses.
 *
 * | thrown | status |
 * | --- | --- |
 * | bad arguments (category `usage`), except "not found" codes | 400 |
 * | a code ending in `not_found` (message, label, attachment, tool) | 404 |
 * | a code ending in `rate_limited` | 429 |
 * | other runtime failures: retryable | 503, else 502 (upstream: Gmail, Auth0, broker) |
 * | configuration (`config`), `internal_error`, `permission_denied`, anything else | 500 |
 *
 * The body is always the CLI contract's document for the value (`describe`), never a stack
 * unless `MCS_DEBUG=1`. An {@link AuthChallenge} is not an error here: see `./tools_api.ts`.
 *
 * @example
 * ```ts
 * import { statusOf } from "./responses.ts";
 * import { UsageError } from "../errors.ts";
 * statusOf(new UsageError("invalid_arguments", "limit must be a number")); // 400
 * ```
 * @module
 */

import { McsError } from "../errors.ts";

/** The CLI contract's error document (see cli/output.ts). */
export interface ErrorDoc {
  ok: false;
  error: { code: string; message: string; retryable: boolean; details?: Record<string, unknown> };
}

/** The HTTP status for a thrown value. */
export function statusOf(e: unknown): number {
  if (!(e instanceof McsError)) return 500;
  // nginx's "client closed request": only the access log sees it, the caller is gone.
  if (e.code === "call_cancelled") return 499;
  if (/not_found$/.test(e.code)) return 404;
  if (/rate_limited$/.test(e.code)) return 429;
  if (e.category === "usage") return 400;
  if (e.category === "config" || e.code === "internal_error" || e.code === "permission_denied") {
    return 500;
  }
  return e.retryable ? 503 : 502;
}

/**
 * Seconds a caller should wait when the state store does not answer: its client retries the
 * connection at least every half second and gives a command 2 s, so a Redis that is back is
 * usable again within that.
 */
export const STORE_RETRY_AFTER_S = 2;

/**
 * The `Retry-After` header for a thrown value, for a 429 or 503 answer: its
 * `details.retry_after_s` (whole seconds, at least 1) when the upstream named a wait, else
 * {@link STORE_RETRY_AFTER_S} when the state store is unavailable (`store_unavailable`).
 */
export function retryAfterOf(e: unknown): Record<string, string> {
  let s = e instanceof McsError ? e.details?.retry_after_s : undefined;
  if (s === undefined && e instanceof McsError && e.code === "store_unavailable") {
    s = STORE_RETRY_AFTER_S;
  }
  if (typeof s !== "number" || !Number.isFinite(s) || s <= 0) return {};
  const status = statusOf(e);
  return status === 429 || status === 503 ? { "retry-after": String(Math.ceil(s)) } : {};
}

/** A JSON response. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** An error response with the contract's document. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  const doc: ErrorDoc = { ok: false, error: { code, message, retryable: status === 429 } };
  return json(status, doc, headers);
}
