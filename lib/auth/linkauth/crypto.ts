/**
 * The LinkAuth hybrid envelope (`RSA-OAEP-256+AES-256-GCM`), byte-compatible with the broker's
 * browser frontend (`crypto.js`) and its server-side `encrypt_for_agent`.
 *
 * Envelope: a random AES-256-GCM key and 12-byte IV encrypt the UTF-8 JSON plaintext (no AAD,
 * 16-byte tag appended); the AES key is wrapped with RSA-OAEP (SHA-256, MGF1-SHA-256, empty
 * label); `{wrapped_key, iv, ciphertext}` (each standard base64) is JSON-encoded and the JSON
 * text is standard-base64-encoded again. The outer string travels as `ciphertext` on the wire.
 *
 * @example
 * ```ts
 * import { decryptEnvelope, encryptEnvelope, generateAgentKey } from "./crypto.ts";
 * const key = await generateAgentKey();
 * const envelope = await encryptEnvelope(key.spki, { api_key: "k" });
 * await decryptEnvelope(key.privateKey, envelope); // { api_key: "k" }
 * ```
 * @module
 */

import { McsError } from "../../errors.ts";
import { decodeBase64Strict, encodeBase64 } from "../../encoding/base64.ts";

/** The only algorithm identifier LinkAuth v0.2 defines. */
export const ENVELOPE_ALGORITHM = "RSA-OAEP-256+AES-256-GCM";

const RSA_PARAMS: RsaHashedImportParams = { name: "RSA-OAEP", hash: "SHA-256" };

/** An agent key pair in the forms the protocol and the cache store need. */
export interface AgentKey {
  /** Non-extractable private key for unwrapping. */
  readonly privateKey: CryptoKey;
  /** PKCS#8 DER of the private key, standard base64 (what the cache store keeps). */
  readonly pkcs8: string;
  /** DER SubjectPublicKeyInfo, standard base64, one line: the broker's `public_key`. */
  readonly spki: string;
}

/** Generate a fresh RSA-2048 (e = 65537) RSA-OAEP/SHA-256 key pair. */
export async function generateAgentKey(): Promise<AgentKey> {
  const pair = await crypto.subtle.generateKey(
    { ...RSA_PARAMS, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["encrypt", "decrypt"],
  );
  const pkcs8 = encodeBase64(
    new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
  );
  const spki = encodeBase64(new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey)));
  return await importAgentKey({ pkcs8, spki });
}

/** Re-import a stored key pair (PKCS#8 + SPKI, standard base64). */
export async function importAgentKey(stored: { pkcs8: string; spki: string }): Promise<AgentKey> {
  const der = decodeBase64Strict(stored.pkcs8);
  if (!der || !decodeBase64Strict(stored.spki)) {
    throw new McsError(
      "linkauth_key_corrupt",
      "The stored LinkAuth agent key is not valid base64.",
    );
  }
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", der, RSA_PARAMS, false, ["decrypt"]);
  } catch (cause) {
    throw new McsError(
      "linkauth_key_corrupt",
      "The stored LinkAuth agent key cannot be imported.",
      "runtime",
      {
        cause,
      },
    );
  }
  return { privateKey, pkcs8: stored.pkcs8, spki: stored.spki };
}

/** Why an envelope was rejected. */
export type EnvelopeFailure = "malformed" | "unwrap_failed" | "decrypt_failed" | "not_json";

/** A ciphertext that cannot be opened with this agent's key. Never contains plaintext. */
export class EnvelopeError extends McsError {
  readonly reason: EnvelopeFailure;
  constructor(reason: EnvelopeFailure, message: string, cause?: unknown) {
    super("linkauth_envelope_invalid", message, "runtime", { cause, details: { reason } });
    this.name = "EnvelopeError";
    this.reason = reason;
  }
}

/**
 * Encrypt a JSON value to an agent's public key (what the broker frontend and the broker do).
 * Used by the emulator and by tests; the agent itself only decrypts.
 */
export async function encryptEnvelope(spkiBase64: string, plaintext: unknown): Promise<string> {
  const spki = decodeBase64Strict(spkiBase64);
  if (!spki) throw new EnvelopeError("malformed", "The public key is not standard base64.");
  const publicKey = await crypto.subtle.importKey("spki", spki, RSA_PARAMS, false, ["encrypt"]);
  const aesKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, [
    "encrypt",
  ]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = new TextEncoder().encode(JSON.stringify(plaintext));
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aesKey, data),
  );
  const rawKey = await crypto.subtle.exportKey("raw", aesKey);
  const wrapped = new Uint8Array(
    await crypto.subtle.encrypt({ name: "RSA-OAEP" }, publicKey, rawKey),
  );
  const inner = JSON.stringify({
    wrapped_key: encodeBase64(wrapped),
    iv: encodeBase64(iv),
    ciphertext: encodeBase64(ciphertext),
  });
  return encodeBase64(new TextEncoder().encode(inner));
}

/**
 * Open an envelope with the agent's private key and parse the JSON plaintext.
 * @throws {EnvelopeError} on any malformed, tampered or foreign ciphertext.
 */
export async function decryptEnvelope(privateKey: CryptoKey, envelope: string): Promise<unknown> {
  const outer = decodeBase64Strict(envelope);
  if (!outer) throw new EnvelopeError("malformed", "The envelope is not standard base64.");
  let inner: Record<string, unknown>;
  try {
    inner = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(outer));
  } catch (cause) {
    throw new EnvelopeError("malformed", "The envelope is not a JSON object.", cause);
  }
  if (!inner || typeof inner !== "object") {
    throw new EnvelopeError("malformed", "The envelope is not a JSON object.");
  }
  const field = (name: string) => {
    const value = inner[name];
    const bytes = typeof value === "string" ? decodeBase64Strict(value) : undefined;
    if (!bytes) {
      throw new EnvelopeError("malformed", `The envelope field ${name} is missing or not base64.`);
    }
    return bytes;
  };
  const wrapped = field("wrapped_key");
  const iv = field("iv");
  const ciphertext = field("ciphertext");
  if (iv.length !== 12 || ciphertext.length < 16) {
    throw new EnvelopeError("malformed", "The envelope IV or ciphertext has the wrong length.");
  }
  let rawKey: ArrayBuffer;
  try {
    rawKey = await crypto.subtle.decrypt({ name: "RSA-OAEP" }, privateKey, wrapped);
  } catch (cause) {
    throw new EnvelopeError(
      "unwrap_failed",
      "The envelope key could not be unwrapped (it was encrypted to a different agent key).",
      cause,
    );
  }
  if (rawKey.byteLength !== 32) {
    throw new EnvelopeError("unwrap_failed", "The envelope key is not a 256-bit AES key.");
  }
  let plain: ArrayBuffer;
  try {
    const aesKey = await crypto.subtle.importKey("raw", rawKey, "AES-GCM", false, ["decrypt"]);
    plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv }, aesKey, ciphertext);
  } catch (cause) {
    throw new EnvelopeError(
      "decrypt_failed",
      "The envelope failed authentication (the ciphertext was altered).",
      cause,
    );
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
  } catch (cause) {
    throw new EnvelopeError("not_json", "The decrypted credential is not JSON.", cause);
  }
}
