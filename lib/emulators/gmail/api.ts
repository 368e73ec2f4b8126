/**
 * What the Gmail emulator's route handlers share: the request and response shapes, the
 * context (mailbox, limits, upload sessions), and the small request readers every resource
 * uses (JSON bodies checked field by field, paging, the list filter).
 *
 * @example
 * ```ts
 * import { ok } from "./api.ts";
 * ok({ id: "1" }); // { status: 200, body: { id: "1" } }
 * ```
 * @module
 */

import type { GoogleGrant } from "../google_tokens.ts";
import { b64url, fromB64 } from "./bytes.ts";
import { type ErrorResponse, googleError } from "./google_errors.ts";
import type { Mailbox, StoredMessage } from "./mailbox.ts";
import { compileQuery } from "./query.ts";
import { checkBody, type FieldSpec } from "./validate.ts";

/** One API call (a plain request or one batch part). */
export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: Uint8Array;
  grant: GoogleGrant;
}

/** A handler's answer. */
export interface ApiResponse {
  status: number;
  /** `prettyPrint=false` was asked for. */
  compact?: boolean;
  headers?: Record<string, string>;
  body?: unknown;
}

/** An open resumable upload. */
export interface UploadSession {
  target: string;
  meta: Record<string, unknown>;
  chunks: Uint8Array[];
  received: number;
}

/** State the handlers work on. */
export interface Ctx {
  mailbox: Mailbox;
  /** Largest JSON body accepted. */
  maxJson: number;
  /** The emulator's origin (for resumable session URIs). */
  baseUrl(): string;
  sessions: Map<string, UploadSession>;
}

/** A route handler: `params` are the path pattern's captures (URI-decoded). */
export type Handler = (ctx: Ctx, req: ApiRequest, params: string[]) => ApiResponse;

/** 200 (or `status`) with a JSON body. */
export const ok = (body: unknown, status = 200): ApiResponse => ({ status, body });
/** An error response as an API response. */
export const err = (e: ErrorResponse): ApiResponse => ({
  status: e.status,
  body: e.body,
  headers: e.headers,
});

/**
 * A JSON body, checked against its resource's fields (`spec`): too large → 413, unparsable →
 * 400 "Invalid JSON payload received.", unknown field → 400 "Unknown name …".
 */
export function readJson(
  ctx: Ctx,
  req: ApiRequest,
  spec: Record<string, FieldSpec>,
): { value: Record<string, unknown> } | { error: ErrorResponse } {
  if (req.body.length > ctx.maxJson) return { error: googleError.tooLarge(ctx.maxJson) };
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(req.body) || "{}");
  } catch {
    return { error: googleError.invalidArgument("Invalid JSON payload received.") };
  }
  const bad = checkBody(spec, value);
  return bad ? { error: bad } : { value: value as Record<string, unknown> };
}

/** Messages matching a list query (`q`, `labelIds`, `includeSpamTrash`), newest first. */
export function listMatching(mailbox: Mailbox, q: URLSearchParams): StoredMessage[] {
  const query = compileQuery(q.get("q") ?? "");
  const labelIds = q.getAll("labelIds");
  const includeSpamTrash = q.get("includeSpamTrash")?.toLowerCase() === "true" ||
    query.mentionsTrashOrSpam || labelIds.includes("TRASH") || labelIds.includes("SPAM");
  return mailbox.list().filter((m) =>
    (includeSpamTrash || (!m.labelIds.has("TRASH") && !m.labelIds.has("SPAM"))) &&
    labelIds.every((l) => m.labelIds.has(l)) && query.matches(mailbox, m)
  );
}

/**
 * One page of `items` (`maxResults`, `pageToken`). Reference: default 100, max 500. Gmail caps
 * larger values at 500 and treats 0 as the default (observed; the reference does not say).
 */
export function page<T>(
  items: T[],
  q: URLSearchParams,
  def = 100,
): { slice: T[]; next?: string; total: number } | ErrorResponse {
  let max = Number(q.get("maxResults") ?? def);
  if (max === 0) max = def;
  max = Math.min(max, 500);
  let offset = 0;
  const tok = q.get("pageToken");
  if (tok) {
    try {
      offset = Number(new TextDecoder().decode(fromB64(tok)).replace(/^o:/, ""));
    } catch {
      offset = NaN;
    }
    if (!Number.isInteger(offset) || offset < 0) {
      return googleError.invalidArgument("Invalid pageToken");
    }
  }
  const slice = items.slice(offset, offset + max);
  const next = offset + max < items.length
    ? b64url(new TextEncoder().encode(`o:${offset + max}`))
    : undefined;
  return { slice, next, total: items.length };
}

/** A list answer: `key` omitted when empty (Google omits empty repeated fields). */
export function listBody(
  key: string,
  p: { slice: unknown[]; next?: string; total: number },
): Record<string, unknown> {
  return {
    ...(p.slice.length ? { [key]: p.slice } : {}),
    ...(p.next ? { nextPageToken: p.next } : {}),
    // "Estimated total number of results" — of the whole query, not of this page.
    resultSizeEstimate: p.total,
  };
}
