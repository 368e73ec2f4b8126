import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { decodeBase64Strict, encodeBase64 } from "../../lib/encoding/base64.ts";
import {
  decryptEnvelope,
  encryptEnvelope,
  EnvelopeError,
  generateAgentKey,
  importAgentKey,
} from "../../lib/auth/linkauth/crypto.ts";

const key = await generateAgentKey();

Deno.test("public key is strict standard base64 of an RSA-2048 SPKI", async () => {
  assert(/^[A-Za-z0-9+/]+=*$/.test(key.spki), "standard alphabet, one line");
  const der = decodeBase64Strict(key.spki)!;
  const pub = await crypto.subtle.importKey(
    "spki",
    der,
    { name: "RSA-OAEP", hash: "SHA-256" },
    true,
    [
      "encrypt",
    ],
  );
  assertEquals((pub.algorithm as RsaHashedKeyAlgorithm).modulusLength, 2048);
});

Deno.test("strict base64 rejects base64url, whitespace and bad padding", () => {
  assertEquals(decodeBase64Strict("AQ-D"), undefined);
  assertEquals(decodeBase64Strict("AQID\n"), undefined);
  assertEquals(decodeBase64Strict("AQI"), undefined);
  assertEquals(decodeBase64Strict("AQI="), new Uint8Array([1, 2]));
});

Deno.test("envelope round-trips, including non-ASCII, and the layout matches the broker's", async () => {
  const envelope = await encryptEnvelope(key.spki, { api_key: "sk-ü✓", n: 1 });
  const inner = JSON.parse(new TextDecoder().decode(decodeBase64Strict(envelope)!));
  assertEquals(Object.keys(inner).sort(), ["ciphertext", "iv", "wrapped_key"]);
  assertEquals(decodeBase64Strict(inner.iv)!.length, 12);
  assertEquals(decodeBase64Strict(inner.wrapped_key)!.length, 256);
  assertEquals(await decryptEnvelope(key.privateKey, envelope), { api_key: "sk-ü✓", n: 1 });
});

Deno.test("a stored key re-imports and still decrypts", async () => {
  const again = await importAgentKey({ pkcs8: key.pkcs8, spki: key.spki });
  const envelope = await encryptEnvelope(key.spki, { a: "b" });
  assertEquals(await decryptEnvelope(again.privateKey, envelope), { a: "b" });
});

Deno.test("a Python-style envelope (spaces after separators) decrypts", async () => {
  const compact = JSON.parse(
    new TextDecoder().decode(decodeBase64Strict(await encryptEnvelope(key.spki, { x: "y" }))!),
  );
  const spaced =
    `{"wrapped_key": "${compact.wrapped_key}", "iv": "${compact.iv}", "ciphertext": "${compact.ciphertext}"}`;
  const envelope = encodeBase64(new TextEncoder().encode(spaced));
  assertEquals(await decryptEnvelope(key.privateKey, envelope), { x: "y" });
});

Deno.test("tampered, foreign and malformed envelopes are rejected with a reason", async () => {
  const envelope = await encryptEnvelope(key.spki, { secret: "s" });
  const inner = JSON.parse(new TextDecoder().decode(decodeBase64Strict(envelope)!));
  const ct = decodeBase64Strict(inner.ciphertext)!;
  ct[0] ^= 1;
  const tampered = encodeBase64(
    new TextEncoder().encode(JSON.stringify({ ...inner, ciphertext: encodeBase64(ct) })),
  );
  const e1 = await assertRejects(() => decryptEnvelope(key.privateKey, tampered), EnvelopeError);
  assertEquals(e1.reason, "decrypt_failed");

  const other = await generateAgentKey();
  const e2 = await assertRejects(
    () => decryptEnvelope(other.privateKey, envelope),
    EnvelopeError,
  );
  assertEquals(e2.reason, "unwrap_failed");

  for (const bad of ["not base64!", encodeBase64(new TextEncoder().encode("[1]")), ""]) {
    const e3 = await assertRejects(() => decryptEnvelope(key.privateKey, bad), EnvelopeError);
    assertEquals(e3.reason, "malformed");
    assert(!e3.message.includes("secret"));
  }
});
