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

/**
 * Whether a request prefers an HTML page to a JSON document, by its `Accept` header (RFC 9110
 * 12.5.1: each type takes the q-value of the most specific range that matches it): true when
 * `text/html` ranks above both `application/json` and `application/problem+json`, as in a
 * browser's navigation (`text/html,…,*\/*;q=0.8`); false for no header, `*\/*` alone or a tie,
 * so API clients keep their JSON.
 */
export function prefersHtml(req: Request): boolean {
  const ranges = (req.headers.get("accept") ?? "").split(",").flatMap((part) => {
    const [range, ...params] = part.split(";").map((x) => x.trim().toLowerCase());
    const qp = params.find((x) => x.startsWith("q="));
    const q = qp ? Number(qp.slice(2)) : 1;
    return range && q >= 0 && q <= 1 ? [{ range, q }] : [];
  });
  /** The q-value of one media type: its exact range, else `type/*`, else `*\/*`, else 0. */
  const quality = (type: string) => {
    const candidates = [type, `${type.split("/")[0]}/*`, "*/*"];
    for (const c of candidates) {
      const hits = ranges.filter((r) => r.range === c);
      if (hits.length) return Math.max(...hits.map((r) => r.q));
    }
    return 0;
  };
  return quality("text/html") >
    Math.max(quality("application/json"), quality("application/problem+json"));
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
