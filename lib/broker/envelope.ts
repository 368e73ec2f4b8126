/**
 * The broker's side of the hybrid envelope (`RSA-OAEP-256+AES-256-GCM`, reference section 6.2),
 * written from the reference alone: it shares no code with the client (`lib/auth/linkauth`), so
 * a client that drifts from the protocol (say, an OAEP hash of SHA-1) fails against this
 * emulator as it would against a real broker.
 *
 * Guarantees:
 * - {@link sealForAgent} is what the broker's `encrypt_for_agent` does: a random AES-256 key and
 *   12-byte IV, AES-256-GCM over the UTF-8 JSON plaintext (no AAD, 16-byte tag appended), the raw
 *   key wrapped with RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) to the agent's SPKI, the
 *   fields `wrapped_key`, `iv`, `ciphertext` in standard base64 with padding, that JSON object's
 *   text standard-base64-encoded again. Like the Python broker (`json.dumps` defaults) it writes
 *   `", "` and `": "` separators and escapes non-ASCII as `\uXXXX`, in both the envelope and the
 *   plaintext, so a client that compares bytes instead of parsing fails here.
 * - {@link openForAgent} is an independent decryptor (tests check the client's envelope with it):
 *   it imports the agent's PKCS#8 itself, always with SHA-256.
 * - The codec is plain `btoa`/`atob`; {@link decodeStrict} rejects what Python's
 *   `b64decode(validate=True)` rejects (other alphabets, whitespace, bad padding).
 *
 * @example
 * ```ts
 * import { openForAgent, sealForAgent } from "./envelope.ts";
 * declare const spki: string, pkcs8: string; // the agent's key pair, standard base64
 * const sealed = await sealForAgent(spki, { access_token: "at" });
 * await openForAgent(pkcs8, sealed); // { access_token: "at" }
 * ```
 * @module
 */

/** The only algorithm identifier of LinkAuth v0.2. */
export const ALGORITHM = "RSA-OAEP-256+AES-256-GCM";

const OAEP_SHA256 = { name: "RSA-OAEP", hash: "SHA-256" } as const;

/** Standard base64 with padding. */
export function encodeStd(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** URL-safe base64 without padding (Python's `token_urlsafe`). */
export function encodeUrl(bytes: Uint8Array): string {
  return encodeStd(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Strict standard base64 (Python `b64decode(validate=True)`); `undefined` when invalid. */
export function decodeStrict(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** `json.dumps(value)` with Python's defaults (`", "`, `": "`, `ensure_ascii=True`). */
export function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (typeof value === "number" || typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`);
  return `{${entries.join(", ")}}`;
}

/** Encrypt a JSON value to the agent's public key (standard base64 DER SPKI). */
export async function sealForAgent(spki: string, plaintext: unknown): Promise<string> {
  const der = decodeStrict(spki);
  if (!der) throw new Error("the agent public key is not strict base64");
  const rsa = await crypto.subtle.importKey("spki", der, OAEP_SHA256, false, ["wrapKey"]);
  const aes = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, [
    "encrypt",
  ]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const body = new TextEncoder().encode(pythonJson(plaintext));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, tagLength: 128 }, aes, body);
  const wrapped = await crypto.subtle.wrapKey("raw", aes, rsa, { name: "RSA-OAEP" });
  const envelope = pythonJson({
    wrapped_key: encodeStd(new Uint8Array(wrapped)),
    iv: encodeStd(iv),
    ciphertext: encodeStd(new Uint8Array(sealed)),
  });
  return encodeStd(new TextEncoder().encode(envelope));
}

/**
 * Decrypt an envelope with the agent's private key (standard base64 PKCS#8, imported here with
 * OAEP SHA-256) and parse the plaintext. Throws on anything malformed or tampered.
 */
export async function openForAgent(pkcs8: string, envelope: string): Promise<unknown> {
  const outer = decodeStrict(envelope);
  if (!outer) throw new Error("the envelope is not strict base64");
  const inner = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(outer));
  const field = (name: string) => {
    const bytes = typeof inner?.[name] === "string" ? decodeStrict(inner[name]) : undefined;
    if (!bytes) throw new Error(`the envelope field ${name} is missing or not base64`);
    return bytes;
  };
  const der = decodeStrict(pkcs8);
  if (!der) throw new Error("the agent private key is not strict base64");
  const rsa = await crypto.subtle.importKey("pkcs8", der, OAEP_SHA256, false, ["decrypt"]);
  const raw = await crypto.subtle.decrypt({ name: "RSA-OAEP" }, rsa, field("wrapped_key"));
  if (raw.byteLength !== 32) throw new Error("the wrapped key is not a 256-bit AES key");
  const aes = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: field("iv"), tagLength: 128 },
    aes,
    field("ciphertext"),
  );
  return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
}
