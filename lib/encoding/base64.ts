/**
 * Base64 (RFC 4648), one module for every user: standard base64 with padding and base64url
 * without padding to encode; two decoders that differ on purpose:
 *
 * - {@link decodeBase64Strict}: standard alphabet, correct padding, no whitespace — the only form
 *   the LinkAuth wire protocol accepts (public keys, envelopes and every field inside them);
 * - {@link decodeBase64Lenient}: either alphabet, padding and whitespace optional — what mail
 *   and JWTs carry (Gmail's `raw` and `body.data` are base64url, MIME bodies are wrapped).
 *
 * @example
 * ```ts
 * import { decodeBase64Lenient, decodeBase64Strict, encodeBase64, encodeBase64Url } from "./base64.ts";
 * encodeBase64(new Uint8Array([251, 255])); // "+/8="
 * encodeBase64Url(new Uint8Array([251, 255])); // "-_8"
 * decodeBase64Strict("+/8="); // Uint8Array [251, 255]
 * decodeBase64Strict("-_8"); // undefined (base64url is not accepted)
 * decodeBase64Lenient("-_8"); // Uint8Array [251, 255]
 * ```
 * @module
 */

const STRICT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Encode bytes as standard base64 with padding, on one line. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/** Encode bytes as base64url without padding (tokens, PKCE, Gmail's `raw`). */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBinary(binary: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Decode standard base64 in strict mode: no whitespace, no base64url alphabet, correct padding.
 * Returns `undefined` for anything else (callers turn that into their own typed error).
 */
export function decodeBase64Strict(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!STRICT.test(text)) return undefined;
  return fromBinary(atob(text));
}

/**
 * Decode base64 or base64url; padding and whitespace are optional.
 * @throws {DOMException} `InvalidCharacterError` for anything else.
 */
export function decodeBase64Lenient(text: string): Uint8Array<ArrayBuffer> {
  let s = text.replace(/\s/g, "").replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  s += "=".repeat((4 - (s.length % 4)) % 4);
  return fromBinary(atob(s));
}
