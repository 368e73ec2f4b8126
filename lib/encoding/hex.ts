/**
 * Lowercase hexadecimal (RFC 4648 base16), the one encoder mcs's own code uses for digests and
 * fingerprints in names and keys. (The emulators and the broker's protocol modules keep their
 * own: they are a second implementation.)
 *
 * @example
 * ```ts
 * import { encodeHex } from "./hex.ts";
 * encodeHex(new Uint8Array([0, 15, 255])); // "000fff"
 * ```
 * @module
 */

/** Encode bytes as lowercase hex, two digits a byte. */
export function encodeHex(bytes: Uint8Array | ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}
