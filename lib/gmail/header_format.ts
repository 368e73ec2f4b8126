/**
 * Writing header lines for outgoing mail so that any reader gets back exactly what was meant:
 *
 * - Folding (RFC 5322 §2.2.3): a header is cut at single spaces into lines of at most 78
 *   characters; every line stays within the 998-character hard limit of §2.1.1 because text
 *   that cannot be cut (a run longer than 76 characters without a space) is sent as encoded
 *   words instead. Only single spaces between two visible characters are folding points, so
 *   unfolding (removing the CRLF, keeping the space) gives back the same text whether or not a
 *   reader also collapses runs of spaces.
 * - Encoded words (RFC 2047): text that is not plain ASCII, that contains control characters,
 *   that contains something a reader would decode as an encoded word (`=?...?=`), or that
 *   cannot be folded is sent as `=?UTF-8?B?…?=` words of at most 68 characters (the limit is
 *   75; 68 keeps even `Reply-To: word` within 78), never splitting a UTF-8 sequence.
 * - Parameters (RFC 2231): a file name that is not short plain ASCII is sent as `UTF-8''`
 *   percent-encoded value, split into numbered continuations (`filename*0*=…; filename*1*=…`)
 *   short enough to fold.
 *
 * @example
 * ```ts
 * import { foldHeader, headerText, param } from "./header_format.ts";
 * foldHeader("Subject", headerText("Literal =?UTF-8?B?SGFja2Vk?=")); // encoded, displays as typed
 * foldHeader("Content-Disposition", `attachment; ${param("filename", "会議.pdf")}`);
 * ```
 * @module
 */

import { encodeBase64 } from "../encoding/base64.ts";
import { isAscii, utf8 } from "./encoding.ts";

/** Lines are folded to at most this many characters where a folding point allows (RFC 5322). */
export const FOLD_WIDTH = 78;

/** Longest encoded word written (RFC 2047 allows 75). */
const WORD_MAX = 68;
/** `=?UTF-8?B?` + `?=`. */
const WORD_OVERHEAD = 12;

/** Anything a reader would take for an RFC 2047 encoded word, even a malformed one. */
const LOOKS_ENCODED = /=\?[\s\S]*\?=/;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

/**
 * Whether header text must be sent as encoded words: not ASCII, control characters, an
 * encoded-word look-alike, or a run without spaces too long to fold.
 */
export function needsEncoding(text: string): boolean {
  return !isAscii(text) || CONTROL.test(text) || LOOKS_ENCODED.test(text) ||
    text.split(" ").some((w) => w.length > FOLD_WIDTH - 2);
}

/** Encode text as space-separated `=?UTF-8?B?…?=` words of at most 68 characters each. */
export function encodedWords(text: string): string {
  const maxBytes = Math.floor((WORD_MAX - WORD_OVERHEAD) / 4) * 3;
  const words: string[] = [];
  let current = "";
  let bytes = 0;
  for (const ch of text) {
    const n = utf8(ch).length;
    if (bytes + n > maxBytes && current) {
      words.push(current);
      current = "";
      bytes = 0;
    }
    current += ch;
    bytes += n;
  }
  if (current) words.push(current);
  return words.map((w) => `=?UTF-8?B?${encodeBase64(utf8(w))}?=`).join(" ");
}

/** Unstructured header text (a subject): as is when it is safe, else as encoded words. */
export function headerText(text: string): string {
  return needsEncoding(text) ? encodedWords(text) : text;
}

/**
 * `Name: value`, folded at single spaces (a space with a visible character on each side) so
 * that lines stay within {@link FOLD_WIDTH} where the value allows. The value must already be
 * safe (no CR/LF); callers produce it with {@link headerText}, {@link param} or address
 * formatting.
 */
export function foldHeader(name: string, value: string): string {
  // Split at single spaces only; runs of spaces stay inside a piece.
  const pieces = value.split(/(?<=\S) (?=\S)/);
  let out = `${name}: ${pieces[0]}`;
  let lineLength = out.length;
  for (const piece of pieces.slice(1)) {
    if (lineLength + 1 + piece.length > FOLD_WIDTH) {
      out += `\r\n ${piece}`;
      lineLength = 1 + piece.length;
    } else {
      out += ` ${piece}`;
      lineLength += 1 + piece.length;
    }
  }
  return out;
}

/** RFC 2231 percent-encoding of UTF-8 (attribute-char stays literal). */
function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*!]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** Longest continuation value, so that `; name*NN*=value` folds within 78 columns. */
const SEGMENT_MAX = 60;

/**
 * A MIME parameter: `name="value"` for short plain ASCII, else RFC 2231 `name*=UTF-8''…`,
 * split into `name*0*=…; name*1*=…` continuations when long (never inside a `%XX` escape).
 * Join several with `"; "`.
 */
export function param(name: string, value: string): string {
  const quoted = `${name}="${value.replace(/(["\\])/g, "\\$1")}"`;
  if (isAscii(value) && !CONTROL.test(value) && quoted.length <= SEGMENT_MAX) return quoted;
  const encoded = "UTF-8''" + percentEncode(value);
  if (encoded.length <= SEGMENT_MAX) return `${name}*=${encoded}`;
  const segments: string[] = [];
  let rest = encoded;
  while (rest.length > SEGMENT_MAX) {
    let cut = SEGMENT_MAX;
    // Do not cut a %XX escape.
    const pct = rest.lastIndexOf("%", cut - 1);
    if (pct > cut - 3) cut = pct;
    segments.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest) segments.push(rest);
  return segments.map((s, i) => `${name}*${i}*=${s}`).join("; ");
}
