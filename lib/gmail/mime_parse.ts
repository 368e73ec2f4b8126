/**
 * A small RFC 822 / MIME parser that keeps the part tree (what Gmail's `format=full` payload
 * mirrors): headers, Content-Type parameters (incl. RFC 2231 continuations), transfer-decoded
 * leaf bodies (base64, quoted-printable, 7bit/8bit/binary) and nested multiparts.
 *
 * Not on the client's path: the client reads Gmail's `format=full` JSON, where Gmail has
 * already parsed the message. Kept for the Gmail emulator (which turns stored raw messages
 * into that JSON) until the emulator has its own parser, and for tests; postal-mime is used as
 * the independent oracle in tests, but it flattens messages, so it cannot produce the tree.
 *
 * @example
 * ```ts
 * import { parseMime, headerValue } from "./mime_parse.ts";
 * const root = parseMime(new TextEncoder().encode("Subject: hi\r\n\r\nbody"));
 * headerValue(root, "subject"); // "hi"
 * ```
 * @module
 */

import { decodeBase64Lenient } from "../encoding/base64.ts";
import { decodeCharset, quotedPrintableDecode } from "./encoding.ts";
import { parseHeaderParams } from "./header_params.ts";

export { parseHeaderParams };

/** A header as it appears in the message (unfolded, not RFC 2047-decoded). */
export interface MimeHeader {
  name: string;
  value: string;
}

/** One node of the MIME tree. */
export interface MimePart {
  headers: MimeHeader[];
  /** Lower-cased media type, e.g. `text/plain`, `multipart/alternative`. */
  mimeType: string;
  /** Content-Type parameters (lower-cased names, decoded values). */
  params: Record<string, string>;
  /** Lower-cased Content-Disposition type (`attachment`, `inline`), if any. */
  disposition?: string;
  /** Decoded file name from Content-Disposition `filename` or Content-Type `name`; "" if none. */
  filename: string;
  /** Transfer-decoded body bytes (empty for multiparts). */
  body: Uint8Array;
  /** Children of a multipart. */
  parts: MimePart[];
}

/** Bytes → "binary string" (one char per byte) so offsets map 1:1 to bytes. */
function toBinary(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return s;
}

function fromBinary(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Split header block and body at the first empty line. */
function splitHeadBody(bin: string): [string, string] {
  const lead = /^\r?\n/.exec(bin);
  if (lead) return ["", bin.slice(lead[0].length)];
  const m = /\r?\n\r?\n/.exec(bin);
  if (!m) return [bin, ""];
  return [bin.slice(0, m.index), bin.slice(m.index + m[0].length)];
}

function parseHeaders(block: string): MimeHeader[] {
  const headers: MimeHeader[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length) {
      headers[headers.length - 1].value += " " + line.trim();
    } else {
      const i = line.indexOf(":");
      if (i > 0) headers.push({ name: line.slice(0, i).trim(), value: line.slice(i + 1).trim() });
    }
  }
  // Header bytes may be raw UTF-8 (RFC 6532): reinterpret the binary string.
  return headers.map((h) => ({ name: h.name, value: decodeCharset(fromBinary(h.value), "utf-8") }));
}

/** First header value by case-insensitive name (undecoded). */
export function headerValue(part: { headers: MimeHeader[] }, name: string): string | undefined {
  const lower = name.toLowerCase();
  return part.headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

function decodeTransfer(body: string, encoding: string): Uint8Array {
  switch (encoding) {
    case "base64":
      try {
        return decodeBase64Lenient(body.replace(/[^A-Za-z0-9+/=_-]/g, ""));
      } catch {
        return fromBinary(body);
      }
    case "quoted-printable":
      return quotedPrintableDecode(body);
    default:
      return fromBinary(body);
  }
}

function parsePart(bin: string, depth: number, defaultType = "text/plain"): MimePart {
  const [head, body] = splitHeadBody(bin);
  const headers = parseHeaders(head);
  const ct = parseHeaderParams(headerValue({ headers }, "content-type") ?? defaultType);
  const mimeType = ct.value.includes("/") ? ct.value : defaultType;
  const cd = headerValue({ headers }, "content-disposition");
  const disp = cd ? parseHeaderParams(cd) : undefined;
  const filename = disp?.params.filename ?? ct.params.name ?? "";
  const part: MimePart = {
    headers,
    mimeType,
    params: ct.params,
    disposition: disp?.value,
    filename,
    body: new Uint8Array(0),
    parts: [],
  };
  const boundary = ct.params.boundary;
  if (mimeType.startsWith("multipart/") && boundary && depth < 20) {
    const childType = mimeType === "multipart/digest" ? "message/rfc822" : "text/plain";
    const delim = "--" + boundary;
    const lines = body.split(/(\r?\n)/);
    let currentChunk: string[] | null = null;
    const chunks: string[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const line = lines[i];
      const nl = lines[i + 1] ?? "";
      const trimmed = line.replace(/[ \t]+$/, "");
      if (trimmed === delim || trimmed === delim + "--") {
        if (currentChunk) chunks.push(currentChunk.join("").replace(/\r?\n$/, ""));
        currentChunk = trimmed === delim ? [] : null;
        if (trimmed !== delim) break;
        continue;
      }
      if (currentChunk) currentChunk.push(line + nl);
    }
    if (currentChunk) chunks.push(currentChunk.join("").replace(/\r?\n$/, ""));
    part.parts = chunks.map((c) => parsePart(c, depth + 1, childType));
  } else {
    const cte = (headerValue({ headers }, "content-transfer-encoding") ?? "7bit").trim()
      .toLowerCase();
    part.body = decodeTransfer(body, cte);
  }
  return part;
}

/** Parse a raw RFC 822 message into its MIME tree. Never throws on malformed input. */
export function parseMime(raw: Uint8Array): MimePart {
  return parsePart(toBinary(raw), 0);
}

/** Decode a text leaf to a string using its `charset` parameter. */
export function partText(part: MimePart): string {
  return decodeCharset(part.body, part.params.charset);
}
