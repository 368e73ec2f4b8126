/**
 * Google's batch wire format, the emulator's own reading of it (written from Google's batch
 * guide and runtime-and-peers.md §4.2, independent of the client's `batch_wire.ts`):
 *
 * - the request is `multipart/mixed; boundary=…`;
 * - every part MUST carry `Content-Type: application/http` (a part without it is refused, the
 *   whole batch answered 400 — Google's batch front end refuses what it cannot parse);
 * - a part may carry `Content-ID: <id>`; the answer to it carries `Content-ID: <response-id>`;
 * - a part's body is an HTTP request: a request line with the path only (`GET /gmail/v1/…`,
 *   the `HTTP/1.1` version optional as in Google's own example), headers, a blank line, a body.
 *
 * Answers to a malformed batch use the body Google gives for an unparsable batch
 * (`Failed to parse batch request, error: …`, 400 INVALID_ARGUMENT, reason `badRequest`; the
 * "0 items" text is observed, the other texts are the emulator's guess).
 *
 * @example
 * ```ts
 * import { encodeBatchAnswer, readBatch } from "./batch.ts";
 * const r = readBatch("multipart/mixed; boundary=b", new TextEncoder().encode(
 *   "--b\r\nContent-Type: application/http\r\nContent-ID: <1>\r\n\r\nGET /gmail/v1/users/me/profile\r\n\r\n--b--\r\n",
 * ));
 * if ("parts" in r) encodeBatchAnswer(r.parts.map((p) => ({ id: p.id, status: 204, headers: {}, body: "" })));
 * ```
 * @module
 */

import { parseParams } from "./mime.ts";
import { utf8 } from "./bytes.ts";

/** One inner request. */
export interface BatchPart {
  /** The part's Content-ID without angle brackets, or undefined when it had none. */
  id?: string;
  method: string;
  /** Path and query. */
  target: string;
  /** Inner request headers (names lower-cased). */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** One inner answer. */
export interface BatchAnswer {
  id?: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

const REASONS: Record<number, string> = {
  200: "OK",
  204: "No Content",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Split a header block (lines of `Name: value`, folded lines joined) into a record. */
function headerBlock(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  let last = "";
  for (const l of lines) {
    if (/^[ \t]/.test(l) && last) out[last] += " " + l.trim();
    else {
      const i = l.indexOf(":");
      if (i <= 0) continue;
      last = l.slice(0, i).trim().toLowerCase();
      out[last] = l.slice(i + 1).trim();
    }
  }
  return out;
}

/** Split text at the first blank line. */
function headAndBody(text: string): [string[], string] {
  const gap = /\r?\n\r?\n/.exec(text);
  const head = gap ? text.slice(0, gap.index) : text;
  return [head ? head.split(/\r?\n/) : [], gap ? text.slice(gap.index + gap[0].length) : ""];
}

/**
 * Read a batch request body. Returns the parts, or the reason the batch is refused (the text
 * after "Failed to parse batch request, error: ").
 */
export function readBatch(
  contentType: string,
  bytes: Uint8Array,
): { parts: BatchPart[] } | { error: string } {
  const ct = parseParams(contentType);
  if (!ct.value.startsWith("multipart/") || !ct.params.boundary) {
    return { error: `Content-Type must be multipart/mixed with a boundary, got '${contentType}'.` };
  }
  const text = new TextDecoder().decode(bytes);
  const delim = "--" + ct.params.boundary;
  const lines = text.split(/\r?\n/);
  const chunks: string[][] = [];
  let cur: string[] | undefined;
  for (const raw of lines) {
    const l = raw.replace(/[ \t]+$/, "");
    if (l === delim || l === delim + "--") {
      if (cur) chunks.push(cur);
      cur = l === delim ? [] : undefined;
      if (l !== delim) break;
    } else cur?.push(raw);
  }
  if (cur) chunks.push(cur);
  if (!chunks.length) {
    return { error: `0 items. Received batch body: (${bytes.length}) bytes redacted` };
  }
  const parts: BatchPart[] = [];
  for (const chunk of chunks) {
    const [head, inner] = headAndBody(chunk.join("\r\n"));
    const h = headerBlock(head);
    const type = parseParams(h["content-type"] ?? "").value;
    if (type !== "application/http") {
      return {
        error: `Content-Type of every part must be application/http, got '${
          h["content-type"] ?? ""
        }'.`,
      };
    }
    const [innerHead, innerBody] = headAndBody(inner);
    const line = /^([A-Z]+) (\S+)(?: HTTP\/\d(?:\.\d)?)?$/.exec((innerHead.shift() ?? "").trim());
    if (!line) return { error: "Invalid request line in an application/http part." };
    let target = line[2];
    if (/^https?:\/\//i.test(target)) {
      const u = new URL(target);
      target = u.pathname + u.search;
    }
    const id = h["content-id"]?.replace(/^<|>$/g, "");
    parts.push({
      ...(id !== undefined ? { id } : {}),
      method: line[1],
      target,
      headers: headerBlock(innerHead),
      body: utf8(innerBody.replace(/\r?\n$/, "")),
    });
  }
  return { parts };
}

/** Encode the `multipart/mixed` answer to a batch. */
export function encodeBatchAnswer(
  answers: readonly BatchAnswer[],
): { body: string; contentType: string } {
  const b = "batch_" + crypto.randomUUID().replace(/-/g, "");
  let out = "";
  for (const a of answers) {
    out += `--${b}\r\nContent-Type: application/http\r\n`;
    if (a.id !== undefined) out += `Content-ID: <response-${a.id}>\r\n`;
    out += `\r\nHTTP/1.1 ${a.status} ${REASONS[a.status] ?? ""}\r\n`;
    for (const [k, v] of Object.entries(a.headers)) out += `${k}: ${v}\r\n`;
    out += `\r\n${a.body}\r\n`;
  }
  out += `--${b}--\r\n`;
  return { body: out, contentType: `multipart/mixed; boundary=${b}` };
}
