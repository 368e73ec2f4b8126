/**
 * Response helpers for the LinkAuth broker emulator: compact JSON, RFC 9457 Problem Details,
 * the API-key shape nested under `detail`, and FastAPI's 422 list, exactly as the real broker
 * sends them (reference section 2.2).
 *
 * @example
 * ```ts
 * import { problem } from "./problem.ts";
 * problem(404, "Session Not Found", "Session not found or expired.");
 * ```
 * @module
 */

import type { Issue } from "./validate.ts";

/** Compact JSON response. */
export function json(status: number, body: unknown, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** A top-level Problem Details response. */
export function problem(
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: HeadersInit = {},
): Response {
  const { type = "about:blank", ...rest } = extra;
  return new Response(JSON.stringify({ type, title, status, detail, ...rest }), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

/** The API-key failure shape: a problem object nested under `detail`. */
export function apiKeyProblem(missing: boolean): Response {
  const detail = missing
    ? {
      type: "about:blank",
      title: "API Key Required",
      status: 401,
      detail: "Missing X-API-Key header. Provide a valid API key to access this endpoint.",
    }
    : {
      type: "about:blank",
      title: "Invalid API Key",
      status: 403,
      detail: "The provided API key is not valid.",
    };
  return json(detail.status, { detail });
}

/** FastAPI's request-validation 422: `{"detail": [issue, ...]}` (see `validate.ts`). */
export function validation(issues: readonly Issue[]): Response {
  return json(422, { detail: issues });
}

/** Starlette's answer to an unhandled exception: plain text, not JSON. */
export function internalError(): Response {
  return new Response("Internal Server Error", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** Python `datetime.isoformat()` of a UTC instant: microseconds and `+00:00`. */
export function isoformat(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-04-02T12:10:00.123Z
  const micros = `${iso.slice(20, 23)}000`;
  return micros === "000000" ? `${iso.slice(0, 19)}+00:00` : `${iso.slice(0, 19)}.${micros}+00:00`;
}

/** Constant-time string comparison (length leaks, content does not). */
export function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
