/**
 * Byte helpers for the Gmail emulator on the runtime's own primitives (`Uint8Array.toBase64`,
 * `Uint8Array.fromBase64`, `TextEncoder`), so the emulator shares no encoding code with the
 * client.
 *
 * @example
 * ```ts
 * import { b64url, fromB64 } from "./bytes.ts";
 * fromB64(b64url(new Uint8Array([1, 2, 3]))); // Uint8Array [1, 2, 3]
 * ```
 * @module
 */

/** Bytes → base64url without padding (Gmail's `raw`, `data`, ids). */
export function b64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * base64 or base64url (padding optional) → bytes; throws `SyntaxError` on other characters.
 * Gmail accepts both alphabets in `raw` (observed; the reference says base64url).
 */
export function fromB64(s: string): Uint8Array {
  const url = s.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return Uint8Array.fromBase64(url, { alphabet: "base64url", lastChunkHandling: "loose" });
}

/** Text → UTF-8 bytes. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
