/**
 * Sealing of store values: AES-256-GCM (WebCrypto) under the keys of `MCS_STORE_KEY`, so a
 * shared store (Redis) never holds a token, a refresh token or a private key in the clear.
 *
 * Design:
 * - **The key ring** comes from `MCS_STORE_KEY`: a comma-separated list of `<kid>:<key>`, where
 *   `<kid>` is 1 to 32 characters of `A-Z a-z 0-9 _ -` and `<key>` is 32 random bytes in base64
 *   or base64url (`openssl rand -base64 32`). The FIRST key seals every new value; every key
 *   listed opens values sealed under its kid. A bare `<key>` (no `kid:`) is allowed too: its kid
 *   is then `fp-` and the first 8 hex digits of its SHA-256 (a fingerprint, not the key).
 * - **Rotation**: put the new key first and keep the old one after it
 *   (`MCS_STORE_KEY=k2:<new>,k1:<old>`); values are re-sealed under `k2` as they are written
 *   again (tokens are rewritten within the hour, refresh tokens at each rotation); drop `k1` once
 *   nothing needs it (a value under a dropped kid reads as absent, the user signs in again).
 * - **The envelope** is JSON: `{"v":1,"kid":..,"exp":..?,"iv":..,"ct":..}` (base64url, 12-byte
 *   random IV). Only the kid and the expiry are readable: the store needs the expiry to list
 *   live keys without decrypting.
 * - **Bound to its place**: the additional authenticated data is the envelope version, the kid,
 *   the expiry and the store key the value lives under, so a value copied to another key (another
 *   user's), or an expiry pushed back, fails to open: it reads as unreadable, never as data.
 * - Errors never contain key material: a malformed `MCS_STORE_KEY` is a `store_key_invalid`
 *   {@link ConfigError} that names the entry's position and what is wrong with it.
 *
 * @example
 * ```ts
 * import { parseStoreKeys, Sealer } from "./seal.ts";
 * const raw = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
 * const sealer = new Sealer(await parseStoreKeys(`k1:${raw}`));
 * const env = await sealer.seal("mcs:d:work/rt", '"refresh-token"');
 * await sealer.open("mcs:d:work/rt", env); // { json: '"refresh-token"', exp: undefined }
 * await sealer.open("mcs:d:home/rt", env); // { reason: "it does not open under key id ..." }
 * ```
 * @module
 */

import { ConfigError } from "../errors.ts";
import { decodeBase64Lenient, encodeBase64Url } from "../encoding/base64.ts";
import { encodeHex } from "../encoding/hex.ts";

/** The environment variable that holds the key ring. */
export const STORE_KEY_ENV = "MCS_STORE_KEY";

/** How to make a key, for messages and docs. */
export const STORE_KEY_HOWTO = "generate one with `openssl rand -base64 32` and set " +
  `${STORE_KEY_ENV}=k1:<that value> (to rotate: ${STORE_KEY_ENV}=k2:<new>,k1:<old>)`;

/** One key of the ring. */
export interface StoreKey {
  kid: string;
  key: CryptoKey;
}

/** The ring: `keys[0]` seals, every key opens. */
export interface StoreKeyring {
  keys: readonly StoreKey[];
}

/** What opening an envelope gives: the value's JSON text and its expiry. */
export interface Opened {
  json: string;
  exp?: number;
}

/** Why an envelope does not open (never includes the value). */
export interface Unreadable {
  reason: string;
  /** Sealed under a key id the ring does not hold (another replica may). */
  unknownKey?: true;
}

const KID = /^[A-Za-z0-9_-]{1,32}$/;
const VERSION = 1;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

function invalid(message: string): ConfigError {
  return new ConfigError(
    "store_key_invalid",
    `${STORE_KEY_ENV} is not valid: ${message}; ` +
      STORE_KEY_HOWTO + ".",
    { details: { env: STORE_KEY_ENV } },
  );
}

/**
 * Parse `MCS_STORE_KEY` into a key ring.
 * @throws {ConfigError} `missing_setting` when empty or unset, `store_key_invalid` when malformed
 * (the message names the entry by position, never its value).
 */
export async function parseStoreKeys(text: string | undefined): Promise<StoreKeyring> {
  if (!text?.trim()) {
    throw new ConfigError(
      "missing_setting",
      `${STORE_KEY_ENV} is not set; a Redis store seals every value with it: ${STORE_KEY_HOWTO}.`,
      { details: { env: STORE_KEY_ENV } },
    );
  }
  const keys: StoreKey[] = [];
  const entries = text.split(",").map((s) => s.trim());
  for (const [i, entry] of entries.entries()) {
    const where = entries.length > 1 ? `entry ${i + 1}` : "the key";
    const colon = entry.indexOf(":");
    let kid = colon >= 0 ? entry.slice(0, colon) : undefined;
    const material = colon >= 0 ? entry.slice(colon + 1) : entry;
    if (kid !== undefined && !KID.test(kid)) {
      throw invalid(`${where} has a bad key id (1 to 32 of A-Z a-z 0-9 _ -, before the ":")`);
    }
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(material)) throw new Error("alphabet");
      bytes = decodeBase64Lenient(material);
    } catch {
      throw invalid(`${where} is not base64 or base64url`);
    }
    if (bytes.length !== 32) {
      throw invalid(`${where} decodes to ${bytes.length} bytes, not 32`);
    }
    kid ??= `fp-${await fingerprint(bytes)}`;
    if (keys.some((k) => k.kid === kid)) throw invalid(`key id "${kid}" appears twice`);
    const key = await crypto.subtle.importKey("raw", bytes, "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    keys.push({ kid, key });
  }
  return { keys };
}

async function fingerprint(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return encodeHex(d.subarray(0, 4));
}

function aad(kid: string, exp: number | undefined, place: string): Uint8Array<ArrayBuffer> {
  return utf8.encode(`mcs-store/${VERSION}\n${kid}\n${exp ?? ""}\n${place}`);
}

/** Seals and opens values with a {@link StoreKeyring}. */
export class Sealer {
  readonly #ring: StoreKeyring;

  constructor(ring: StoreKeyring) {
    if (ring.keys.length === 0) throw invalid("no key");
    this.#ring = ring;
  }

  /** The kid new values are sealed under. */
  get currentKid(): string {
    return this.#ring.keys[0].kid;
  }

  /** Every kid of the ring, the sealing one first. */
  get kids(): string[] {
    return this.#ring.keys.map((k) => k.kid);
  }

  /** Seal `json` (a value's JSON text) for the store key `place`, with its expiry. */
  async seal(place: string, json: string, exp?: number): Promise<string> {
    return await this.sealWith(this.currentKid, place, json, exp);
  }

  /**
   * {@link seal} under a given kid of the ring rather than the first (the key canary checks
   * every kid). @throws {ConfigError} `store_key_invalid` for a kid the ring does not hold.
   */
  async sealWith(kid: string, place: string, json: string, exp?: number): Promise<string> {
    const key = this.#ring.keys.find((k) => k.kid === kid)?.key;
    if (!key) throw invalid(`key id "${kid}" is not in it`);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aad(kid, exp, place) },
      key,
      utf8.encode(json),
    );
    return JSON.stringify({
      v: VERSION,
      kid,
      ...(exp === undefined ? {} : { exp }),
      iv: encodeBase64Url(iv),
      ct: encodeBase64Url(new Uint8Array(ct)),
    });
  }

  /**
   * Open an envelope stored under `place`: the value, or why it cannot be read. With `onlyKid`,
   * an envelope sealed under another kid does not open either.
   */
  async open(place: string, envelope: string, onlyKid?: string): Promise<Opened | Unreadable> {
    const e = parseEnvelope(envelope);
    if (typeof e === "string") return { reason: e };
    if (onlyKid !== undefined && e.kid !== onlyKid) {
      return { reason: `it is sealed under key id "${e.kid}", not "${onlyKid}"` };
    }
    const k = this.#ring.keys.find((k) => k.kid === e.kid);
    if (!k) {
      return {
        reason: `it is sealed under key id "${e.kid}", which ${STORE_KEY_ENV} does not hold`,
        unknownKey: true,
      };
    }
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: decodeBase64Lenient(e.iv),
          additionalData: aad(e.kid, e.exp, place),
        },
        k.key,
        decodeBase64Lenient(e.ct),
      );
    } catch {
      return {
        reason: `it does not open under key id "${e.kid}" here (wrong key, or moved or altered)`,
      };
    }
    let json: string;
    try {
      json = fromUtf8.decode(plain);
      JSON.parse(json);
    } catch {
      return { reason: "its content is not JSON" };
    }
    return { json, exp: e.exp };
  }
}

interface Envelope {
  kid: string;
  exp?: number;
  iv: string;
  ct: string;
}

function parseEnvelope(text: string): Envelope | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return "it is not a sealed entry (not JSON)";
  }
  if (raw === null || typeof raw !== "object") return "it is not a sealed entry";
  const r = raw as Record<string, unknown>;
  if (
    r.v !== VERSION || typeof r.kid !== "string" || typeof r.iv !== "string" ||
    typeof r.ct !== "string" ||
    (r.exp !== undefined && (typeof r.exp !== "number" || !Number.isFinite(r.exp)))
  ) {
    return "it is not a sealed entry (unknown format)";
  }
  return { kid: r.kid, exp: r.exp as number | undefined, iv: r.iv, ct: r.ct };
}
