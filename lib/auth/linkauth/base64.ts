/**
 * Strict standard base64 (RFC 4648 section 4, with padding), the only encoding the LinkAuth
 * wire protocol uses: public keys, envelopes and every field inside them.
 *
 * @example
 * ```ts
 * import { decodeBase64Strict, encodeBase64 } from "./base64.ts";
 * const text = encodeBase64(new Uint8Array([1, 2, 3])); // "AQID"
 * decodeBase64Strict(text); // Uint8Array [1, 2, 3]
 * decodeBase64Strict("AQ-D"); // undefined (base64url is not accepted)
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

/**
 * Decode standard base64 in strict mode: no whitespace, no base64url alphabet, correct padding.
 * Returns `undefined` for anything else (callers turn that into their own typed error).
 */
export function decodeBase64Strict(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!STRICT.test(text)) return undefined;
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Encode bytes as base64url without padding (tokens, PKCE). */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
