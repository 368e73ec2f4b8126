/**
 * Map a cache key to a safe, unique file name.
 *
 * Short keys are spelled out (`k-<escaped>.json`) so the directory is readable when debugging:
 * lowercase ASCII letters, digits, `.`, `_` and `-` are kept and every other byte of the UTF-8
 * encoding becomes `%XX`. Uppercase letters are escaped too, so two keys never collide on
 * case-insensitive file systems (macOS, Windows). Keys whose escaped form would be too long for a
 * file name become `h-<sha256 hex>.json`. The two prefixes keep the forms apart, and the `k-`/`h-`
 * start means a name is never `.`, `..`, hidden, or a reserved Windows device name.
 *
 * The mapping only needs to be injective: each file also stores its key, which is what `keys()`
 * reports.
 *
 * @example
 * ```ts
 * import { fileNameForKey, isEntryFileName } from "./file_name.ts";
 * await fileNameForKey("work/rt:Tenant.auth0.com"); // "k-work%2Frt%3A%54enant.auth0.com.json"
 * isEntryFileName("k-a.json"); // true
 * ```
 * @module
 */

import { encodeHex } from "../encoding/hex.ts";

/** Longest spelled-out file name; longer keys are hashed (file systems allow 255 bytes). */
const MAX_NAME = 200;
const KEEP = /^[a-z0-9._-]$/;
const utf8 = new TextEncoder();

/** The file name (no directory) that holds `key`. */
export async function fileNameForKey(key: string): Promise<string> {
  let escaped = "";
  for (const ch of key) {
    if (KEEP.test(ch)) {
      escaped += ch;
    } else {
      for (const b of utf8.encode(ch)) {
        escaped += "%" + b.toString(16).toUpperCase().padStart(2, "0");
      }
    }
    if (escaped.length > MAX_NAME) break;
  }
  const spelled = `k-${escaped}.json`;
  if (spelled.length <= MAX_NAME) return spelled;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(key)));
  return `h-${encodeHex(digest)}.json`;
}

/** True for names produced by {@link fileNameForKey} (not temp, lock, probe or quarantine files). */
export function isEntryFileName(name: string): boolean {
  return (name.startsWith("k-") || name.startsWith("h-")) && name.endsWith(".json");
}
