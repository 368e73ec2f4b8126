/**
 * The Gmail HTTP core: bearer token from a {@link CredentialProvider}, one refresh-and-retry on
 * 401, retries by the program's one policy (`lib/net/retry.ts`: backoff honouring `Retry-After`
 * on 429 / 5xx / rate-limit 403s; a non-idempotent call such as a send only on 429 and
 * rate-limit 403s, which Google answers without doing anything), Google error mapping, and the
 * batch endpoint with per-item retry. A `Retry-After` longer than the policy allows fails at
 * once with `details.retry_after_s`. A send whose answer is lost fails with the network layer's
 * `outcome_unknown` (not retryable); `send.ts` adds what to check.
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
import { NetworkError } from "../net/errors.ts";
import {
  nextRetry,
  parseRetryAfter,
  RETRY_POLICY,
  type RetryDecision,
  type RetryPolicy,
  sleep as policySleep,
} from "../net/retry.ts";
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
  /** Retries after the first attempt (default: the program's policy, `RETRY_POLICY`). */
  maxRetries?: number;
  /** Upper bound of one backoff wait, ms (default: `RETRY_POLICY.maxMs`). */
  maxBackoffMs?: number;
  /** Longest `Retry-After` waited for, ms (default: `RETRY_POLICY.maxRetryAfterMs`). */
  maxRetryAfterMs?: number;
  /** Injectable sleep (tests pass a recorder). */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1) (default Math.random). */
  random?: () => number;
  /** Inner requests per batch call (default 50, Google's recommended maximum; hard max 100). */
  batchSize?: number;
  /**
   * Progress of long operations: a metadata fetch of many messages or threads (about every
   * tenth, see {@link fetchProgress}: each chunk of a {@link GmailHttp.batch}), each step of an
   * attachment download. Unset (the CLI), nothing is computed or called.
   */
  onProgress?: (p: GmailProgress) => void;
}

/** One progress report: `done` of `total` units (items fetched, steps), rising within one operation. */
export interface GmailProgress {
  done: number;
  total?: number;
  message: string;
}

/**
 * The progress of fetching `total` items, however they are fetched (batch chunks, a pool of
 * GETs, one after another): `add(n)` counts `n` more finished items and reports `fetched D of
 * T` when the count passes the next tenth of the total, and always at the end, so a fetch sends
 * at most about ten reports whatever its size (a batch chunk of 50 covers at least a tenth of
 * the tool's 100 results: one report per chunk). Rising, never above `total`. Without a hook
 * it returns a no-op.
 */
export function fetchProgress(
  onProgress: ((p: GmailProgress) => void) | undefined,
  total: number,
): (n: number) => void {
  if (!onProgress) return () => {};
  const step = Math.max(1, Math.ceil(total / 10));
  let done = 0;
  return (n) => {
    const before = done;
    done = Math.min(total, done + n);
    if (done > before && (done === total || Math.floor(done / step) > Math.floor(before / step))) {
      onProgress({ done, total, message: `fetched ${done} of ${total}` });
    }
  };
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

/**
 * Build `path?query` (relative paths under the user prefix), always with the standard parameter
 * `prettyPrint=false`: Google indents its JSON unless told not to, which only adds bytes to move
 * and parse (reference §4: "standard parameters worth using").
 */
export function buildPath(path: string, query?: Query): string {
  const full = path.startsWith("/") ? path : USER_PREFIX + path;
  let qs = "";
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    const key = formEncode(k);
    if (Array.isArray(v)) { for (const x of v) qs += `${key}=${formEncode(x)}&`; }
    else qs += `${key}=${formEncode(String(v))}&`;
  }
  return `${full}?${qs}prettyPrint=false`;
}

/**
 * `application/x-www-form-urlencoded` serialization of one name or value, exactly as
 * `URLSearchParams` writes it (WHATWG URL: bytes other than ASCII alphanumerics and `*-._` are
 * percent-encoded, a space is `+`, a lone surrogate is U+FFFD) without building a
 * `URLSearchParams` per request (21 per search of 20, a few percent of a server's CPU).
 */
export function formEncode(s: string): string {
  return encodeURIComponent(s.toWellFormed()).replace(
    /%20|[!'()~]/g,
    (c) => c === "%20" ? "+" : `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Retry-After (seconds or HTTP-date) in ms, or undefined: the policy's one parser. */
export const retryAfterMs: typeof parseRetryAfter = parseRetryAfter;

/** Statuses by which Gmail says a call was not carried out (rate limits: 429, 403). */
const GMAIL_UNPROCESSED: readonly number[] = [429, 403];

/**
 * The final error, saying so when the server asked for a longer wait than mcs takes
 * (`details.retry_after_s`, the message says when to try again).
 */
function withRetryAfter(err: McsError, d: RetryDecision): McsError {
  if (d.retry || d.retryAfterS === undefined) return err;
  const message = d.reason === "retry_after_too_long"
    ? `${
      err.message.replace(/(; gave up after \d+ retr(?:y|ies))?\. Try again in a minute\./, ".")
    } Gmail asked to wait ${d.retryAfterS} s before trying again, longer than mcs waits: run it again after that.`
    : err.message;
  const out = new McsError(err.code, message, err.category, {
    retryable: err.retryable,
    cause: err.cause,
    details: { ...err.details, retry_after_s: d.retryAfterS },
  });
  return out;
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
  /** The progress hook (see {@link GmailHttpOptions.onProgress}); undefined when nobody listens. */
  readonly onProgress?: (p: GmailProgress) => void;
  readonly #o:
    & Required<
      Omit<
        GmailHttpOptions,
        "apiBase" | "fetch" | "maxRetries" | "maxBackoffMs" | "maxRetryAfterMs" | "onProgress"
      >
    >
    & { fetch: FetchLike; policy: RetryPolicy };

  constructor(options: GmailHttpOptions) {
    this.apiBase = (options.apiBase ?? GMAIL_API_BASE).replace(/\/+$/, "");
    this.onProgress = options.onProgress;
    this.#o = {
      credentials: options.credentials,
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      scope: options.scope ?? "gmail",
      policy: {
        ...RETRY_POLICY,
        retries: options.maxRetries ?? RETRY_POLICY.retries,
        maxMs: options.maxBackoffMs ?? RETRY_POLICY.maxMs,
        maxRetryAfterMs: options.maxRetryAfterMs ?? RETRY_POLICY.maxRetryAfterMs,
      },
      sleep: options.sleep ?? ((ms) => policySleep(ms)),
      random: options.random ?? Math.random,
      batchSize: Math.min(options.batchSize ?? 50, 100),
    };
  }

  /**
   * Send with auth, 401 refresh-once and the retry policy. Returns the successful response
   * (body unread).
   * @throws {McsError} mapped Google error, or the network layer's typed error (e.g.
   *   `outcome_unknown` for a send whose answer was lost); AuthChallenge passes through.
   */
  async send(
    op: OperationInfo,
    make: (token: string) => Promise<Response>,
    idempotent: boolean,
  ): Promise<Response> {
    let refreshed = false;
    const { policy, random } = this.#o;
    for (let attempt = 0;;) {
      const token = await this.#o.credentials.getToken(this.#o.scope);
      let res: Response;
      try {
        res = await make(token);
      } catch (err) {
        // Typed errors say what happened (a lost send is `outcome_unknown`): only a reset
        // connection of an idempotent call is repeated (as the network layer itself would).
        const repeatable = !(err instanceof McsError) ||
          (err instanceof NetworkError && err.code === "connection_reset");
        const d = repeatable ? nextRetry({ attempt, idempotent, policy, random }) : undefined;
        if (d?.retry) {
          await this.#o.sleep(d.delayMs);
          attempt++;
          continue;
        }
        if (err instanceof McsError) throw err;
        const why = err instanceof Error ? err.message : String(err);
        if (!idempotent) {
          throw new McsError(
            "outcome_unknown",
            `The request to ${op.description} may or may not have taken effect: its answer was ` +
              `lost (${why}). Do not repeat it blindly: check whether it took effect first.`,
            "runtime",
            { retryable: false, cause: err },
          );
        }
        throw new McsError(
          "gmail_network_error",
          `Could not reach Gmail to ${op.description}: ${why}`,
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
      const d = nextRetry({
        attempt,
        status: res.status,
        idempotent,
        retryable: isRetryable(res.status, googleErrorOf(body)),
        unprocessed: GMAIL_UNPROCESSED,
        retryAfterMs: parseRetryAfter(res.headers.get("retry-after")),
        policy,
        random,
      });
      if (d.retry) {
        await this.#o.sleep(d.delayMs);
        attempt++;
        continue;
      }
      throw withRetryAfter(
        mapGoogleError(res.status, body, op, { retries: attempt, idempotent }),
        d,
      );
    }
  }

  /** One JSON API call; returns the parsed body (undefined for empty 204s). */
  async call<T>(o: CallOptions): Promise<T> {
    const method = o.method ?? (o.json !== undefined || o.body ? "POST" : "GET");
    const url = this.apiBase + buildPath(o.path, o.query);
    const idempotent = o.idempotent ?? method === "GET";
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
      // The retries happen here (with the 401 refresh); the layer still needs to know whether a
      // lost answer leaves the outcome unknown.
      return this.#o.fetch(url, { method, headers, body, idempotent, retries: 0 });
    }, idempotent);
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
    const runChunk = async (indices: number[]) => {
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
            idempotent: true, // a batch of GETs
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
          const d = nextRetry({
            attempt,
            status,
            idempotent: true,
            retryable: isRetryable(status, googleErrorOf(json)),
            retryAfterMs: parseRetryAfter(r?.headers["retry-after"]),
            policy: this.#o.policy,
            random: this.#o.random,
          });
          if (d.retry) {
            retryLater.push(i);
            wait = Math.max(wait ?? 0, d.delayMs);
            continue;
          }
          results[i] = {
            ok: false,
            error: withRetryAfter(
              mapGoogleError(status, json, op, { retries: attempt, idempotent: true }),
              d,
            ),
          };
        }
        if (!retryLater.length) return;
        if (unauthorized) {
          authRetried = true;
          await refresh;
        } else await this.#o.sleep(wait ?? 0);
        pending = retryLater;
      }
    };
    const fetched = fetchProgress(this.onProgress, requests.length);
    await Promise.all(chunks.map(async (indices) => {
      await runChunk(indices);
      fetched(indices.length);
    }));
    return results;
  }
}
