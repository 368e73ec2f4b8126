/**
 * The Gmail HTTP core: bearer token from a {@link CredentialProvider}, one refresh-and-retry on
 * 401, bounded backoff (honouring `Retry-After`) on 429 / 5xx / rate-limit 403s, Google error
 * mapping, and the batch endpoint with per-item retry.
 *
 * @example
 * ```ts
 * import { GmailHttp } from "./http.ts";
 * const http = new GmailHttp({ credentials: { getToken: async () => "t", invalidate: async () => {} } });
 * const profile = await http.call<{ emailAddress: string }>({
 *   path: "profile", op: { description: "read the profile", scopes: ["gmail.readonly"] },
 * });
 * ```
 * @module
 */

import { McsError } from "../errors.ts";
import type { CredentialProvider } from "../auth/types.ts";
import type { FetchLike } from "../net/types.ts";
import { type BatchRequestItem, encodeBatchRequest, parseBatchResponse } from "./batch_wire.ts";
import { googleErrorOf, isRetryable, mapGoogleError, type OperationInfo } from "./google_error.ts";

/** Default API origin. */
export const GMAIL_API_BASE = "https://gmail.googleapis.com";

/** Options of {@link GmailHttp}. */
export interface GmailHttpOptions {
  /** Source of the Google access token (`getToken("gmail")`). */
  credentials: CredentialProvider;
  /** Injectable fetch (the network layer in production). */
  fetch?: FetchLike;
  /** API origin, default `https://gmail.googleapis.com`. */
  apiBase?: string;
  /** Credential scope name, default `"gmail"`. */
  scope?: string;
  /** Retries after the first attempt for retryable failures (default 4). */
  maxRetries?: number;
  /** Upper bound of one wait, ms (default 32 000). */
  maxBackoffMs?: number;
  /** Injectable sleep (tests pass a recorder). */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1) (default Math.random). */
  random?: () => number;
  /** Inner requests per batch call (default 50, Google's recommended maximum; hard max 100). */
  batchSize?: number;
}

/** Query values: arrays repeat the parameter. */
export type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

/** One API call. */
export interface CallOptions {
  op: OperationInfo;
  method?: string;
  /** Relative to `/gmail/v1/users/me/` unless it starts with `/`. */
  path: string;
  query?: Query;
  json?: unknown;
  body?: Uint8Array;
  contentType?: string;
  /** Whether 5xx may be retried (default: true for GET, false otherwise). 429 always is. */
  idempotent?: boolean;
}

/** A batch item result. */
export type BatchResult<T> = { ok: true; value: T } | { ok: false; error: McsError };

const USER_PREFIX = "/gmail/v1/users/me/";

/** Build `path?query` (relative paths under the user prefix). */
export function buildPath(path: string, query?: Query): string {
  const full = path.startsWith("/") ? path : USER_PREFIX + path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    if (Array.isArray(v)) { for (const x of v) qs.append(k, x); }
    else qs.append(k, String(v));
  }
  const s = qs.toString();
  return s ? `${full}?${s}` : full;
}

/** Retry-After (seconds or HTTP-date) in ms, or undefined. */
export function retryAfterMs(
  value: string | null | undefined,
  now = Date.now(),
): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** The HTTP core shared by every Gmail module. */
export class GmailHttp {
  readonly apiBase: string;
  readonly #o: Required<Omit<GmailHttpOptions, "apiBase" | "fetch">> & { fetch: FetchLike };

  constructor(options: GmailHttpOptions) {
    this.apiBase = (options.apiBase ?? GMAIL_API_BASE).replace(/\/+$/, "");
    this.#o = {
      credentials: options.credentials,
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      scope: options.scope ?? "gmail",
      maxRetries: options.maxRetries ?? 4,
      maxBackoffMs: options.maxBackoffMs ?? 32_000,
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      random: options.random ?? Math.random,
      batchSize: Math.min(options.batchSize ?? 50, 100),
    };
  }

  /** Backoff for attempt n (0-based): Retry-After if given, else 2^n s + jitter; capped. */
  delayMs(attempt: number, retryAfter?: number): number {
    const base = retryAfter ?? (2 ** attempt * 1000 + Math.floor(this.#o.random() * 1000));
    return Math.min(Math.max(0, base), this.#o.maxBackoffMs);
  }

  /**
   * Send with auth, 401 refresh-once and backoff. Returns the successful response (body unread).
   * @throws {McsError} mapped Google error; AuthChallenge from the provider passes through.
   */
  async send(
    op: OperationInfo,
    make: (token: string) => Promise<Response>,
    idempotent: boolean,
  ): Promise<Response> {
    let refreshed = false;
    let attempt = 0;
    for (;;) {
      const token = await this.#o.credentials.getToken(this.#o.scope);
      let res: Response;
      try {
        res = await make(token);
      } catch (err) {
        if (err instanceof McsError) throw err;
        if (idempotent && attempt < this.#o.maxRetries) {
          await this.#o.sleep(this.delayMs(attempt++));
          continue;
        }
        throw new McsError(
          "gmail_network_error",
          `Could not reach Gmail to ${op.description}: ${
            err instanceof Error ? err.message : String(err)
          }`,
          "runtime",
          { retryable: true, cause: err },
        );
      }
      if (res.ok) return res;
      const body = await readBody(res);
      if (res.status === 401 && !refreshed) {
        refreshed = true;
        await this.#o.credentials.invalidate(this.#o.scope);
        continue;
      }
      const e = googleErrorOf(body);
      const retry = isRetryable(res.status, e) && (idempotent || res.status < 500);
      if (retry && attempt < this.#o.maxRetries) {
        await this.#o.sleep(this.delayMs(attempt++, retryAfterMs(res.headers.get("retry-after"))));
        continue;
      }
      throw mapGoogleError(res.status, body, op, { retries: attempt, idempotent });
    }
  }

  /** One JSON API call; returns the parsed body (undefined for empty 204s). */
  async call<T>(o: CallOptions): Promise<T> {
    const method = o.method ?? (o.json !== undefined || o.body ? "POST" : "GET");
    const url = this.apiBase + buildPath(o.path, o.query);
    const res = await this.send(o.op, (token) => {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      let body: BodyInit | undefined;
      if (o.json !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(o.json);
      } else if (o.body) {
        headers["content-type"] = o.contentType ?? "application/octet-stream";
        body = o.body as Uint8Array<ArrayBuffer>;
      }
      return this.#o.fetch(url, { method, headers, body, idempotent: false, retries: 0 });
    }, o.idempotent ?? method === "GET");
    return await readBody(res) as T;
  }

  /**
   * Run many GETs through the batch endpoint (chunks of `batchSize`, chunks in parallel),
   * retrying retryable inner failures with backoff. Results are in input order.
   */
  async batch<T>(
    requests: readonly { path: string; query?: Query }[],
    op: OperationInfo,
  ): Promise<BatchResult<T>[]> {
    const results: BatchResult<T>[] = new Array(requests.length);
    // The batch endpoint authorises each part on its own, so an expired token comes back as a
    // 401 inside every part: refresh once per batch() call (shared by the chunks), then retry.
    let refresh: Promise<void> | undefined;
    const chunks: number[][] = [];
    for (let i = 0; i < requests.length; i += this.#o.batchSize) {
      chunks.push(requests.slice(i, i + this.#o.batchSize).map((_, j) => i + j));
    }
    await Promise.all(chunks.map(async (indices) => {
      let pending = indices;
      let authRetried = false;
      for (let attempt = 0;; attempt++) {
        const items: BatchRequestItem[] = pending.map((i) => ({
          id: `item${i}`,
          method: "GET",
          path: buildPath(requests[i].path, requests[i].query),
        }));
        const { body, contentType } = encodeBatchRequest(items);
        const res = await this.send(op, (token) =>
          this.#o.fetch(`${this.apiBase}/batch/gmail/v1`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": contentType },
            body: body as Uint8Array<ArrayBuffer>,
            idempotent: false,
            retries: 0,
          }), true);
        const parsed = parseBatchResponse(
          res.headers.get("content-type") ?? "",
          new Uint8Array(await res.arrayBuffer()),
        );
        const byId = new Map(parsed.map((p) => [p.id, p]));
        const retryLater: number[] = [];
        let wait: number | undefined;
        let unauthorized = false;
        for (const i of pending) {
          const r = byId.get(`item${i}`);
          let json: unknown;
          try {
            json = r?.body ? JSON.parse(r.body) : undefined;
          } catch {
            json = r?.body;
          }
          if (r && r.status >= 200 && r.status < 300) {
            results[i] = { ok: true, value: json as T };
            continue;
          }
          const status = r?.status ?? 500;
          if (status === 401 && !authRetried) {
            refresh ??= this.#o.credentials.invalidate(this.#o.scope);
            retryLater.push(i);
            unauthorized = true;
            continue;
          }
          if (isRetryable(status, googleErrorOf(json)) && attempt < this.#o.maxRetries) {
            retryLater.push(i);
            const ra = retryAfterMs(r?.headers["retry-after"]);
            if (ra !== undefined) wait = Math.max(wait ?? 0, ra);
            continue;
          }
          results[i] = {
            ok: false,
            error: mapGoogleError(status, json, op, { retries: attempt, idempotent: true }),
          };
        }
        if (!retryLater.length) return;
        if (unauthorized) {
          authRetried = true;
          await refresh;
        } else await this.#o.sleep(this.delayMs(attempt, wait));
        pending = retryLater;
      }
    }));
    return results;
  }
}
