/**
 * Byte and text encodings used by mail: wrapped base64 for MIME bodies (plain base64 and
 * base64url live in `lib/encoding/base64.ts`), quoted-printable, charset decoding through
 * `TextDecoder` (UTF-8, ISO-8859-1, Windows-1252, Shift_JIS, ...) and decoding of RFC 2047
 * encoded words in headers (encoding and folding of outgoing headers: `header_format.ts`).
 *
 * @example
 * ```ts
 * import { decodeEncodedWords } from "./encoding.ts";
 * decodeEncodedWords("=?ISO-8859-1?Q?Gr=FC=DFe?="); // "Grüße"
 * ```
 * @module
 */

import { decodeBase64Lenient, encodeBase64 } from "../encoding/base64.ts";

const enc = new TextEncoder();

/** UTF-8 encode a string. */
export function utf8(text: string): Uint8Array {
  return enc.encode(text);
}

/** Base64 wrapped at 76 columns with CRLF, for MIME bodies. */
export function base64Wrapped(bytes: Uint8Array): string {
  const b64 = encodeBase64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join("\r\n");
}

/** Decode quoted-printable to bytes (soft line breaks removed). */
export function quotedPrintableDecode(text: string): Uint8Array {
  const src = text.replace(/[ \t]+(\r?\n)/g, "$1").replace(/=\r?\n/g, "");
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "=" && /^[0-9A-Fa-f]{2}$/.test(src.slice(i + 1, i + 3))) {
      out.push(parseInt(src.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      const code = src.charCodeAt(i);
      if (code < 0x80) out.push(code);
      else out.push(...enc.encode(c));
    }
  }
  return Uint8Array.from(out);
}

/** Charset aliases `TextDecoder` does not know under the name mailers use. */
const CHARSET_ALIASES: Record<string, string> = {
  "latin1": "iso-8859-1",
  "latin-1": "iso-8859-1",
  "cp1252": "windows-1252",
  "utf8": "utf-8",
  "ascii": "windows-1252",
  "us-ascii": "windows-1252",
  "ks_c_5601-1987": "euc-kr",
};

/**
 * Decode bytes in a named charset. Unknown or missing charsets fall back to UTF-8 with
 * replacement characters (never throws).
 */
export function decodeCharset(bytes: Uint8Array, charset?: string): string {
  const name = (charset ?? "utf-8").trim().replace(/^"|"$/g, "").toLowerCase();
  const label = CHARSET_ALIASES[name] ?? name;
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return new TextDecoder("utf-8").decode(bytes);
  }
}

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

/** Decode RFC 2047 encoded words in a header value; plain text passes through unchanged. */
export function decodeEncodedWords(value: string): string {
  if (!value.includes("=?")) return value;
  // Whitespace between two adjacent encoded words is not displayed (RFC 2047 §6.2).
  const joined = value.replace(/(\?=)\s+(?==\?)/g, "$1");
  return joined.replace(ENCODED_WORD, (whole, charset: string, kind: string, data: string) => {
    try {
      const cs = charset.split("*")[0]; // RFC 2231 language suffix
      const bytes = kind.toUpperCase() === "B"
        ? decodeBase64Lenient(data)
        : quotedPrintableDecode(data.replace(/_/g, " "));
      return decodeCharset(bytes, cs);
    } catch {
      return whole;
    }
  });
}

/** Whether a string is printable 7-bit ASCII. */
export function isAscii(text: string): boolean {
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(text);
}
