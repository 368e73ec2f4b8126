/**
 * Known answers for the envelope from implementations that share no code with the client:
 * the broker emulator's own sealer/opener (`lib/broker/envelope.ts`, Python-style
 * JSON like the real broker) and the broker connect page's WebCrypto path in a real Chromium.
 * A client that drifts from section 6.2 (say, RSA-OAEP with SHA-1) fails here.
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { CHROMIUM, hasChromium } from "../support/browser.ts";
import { linkAuthWorld } from "../support/emulators.ts";
import { runDenoJson } from "../support/process.ts";
import {
  decryptEnvelope,
  encryptEnvelope,
  generateAgentKey,
  importAgentKey,
} from "../../lib/auth/linkauth/crypto.ts";
import type { StoredAgentKey } from "../../lib/auth/linkauth/keystore.ts";
import { openForAgent, pythonJson, sealForAgent } from "../../lib/broker/envelope.ts";
import type { PageEnvelopeInput, PageEnvelopeOutput } from "./fixtures/page_envelope.ts";

const PAGE = new URL("./fixtures/page_envelope.ts", import.meta.url).pathname;
const PAYLOAD = { refresh_token: "rt-ü✓-😀", access_token: "at", n: 3600 };

Deno.test("the emulator's broker-side envelope (Python JSON style) opens with the client", async () => {
  const key = await generateAgentKey();
  const sealed = await sealForAgent(key.spki, PAYLOAD);
  const inner = atob(sealed);
  assert(inner.startsWith('{"wrapped_key": "'), inner.slice(0, 20));
  assertEquals(await decryptEnvelope(key.privateKey, sealed), PAYLOAD);
});

Deno.test("the client's envelope opens with the emulator's independent decryptor", async () => {
  const key = await generateAgentKey();
  const sealed = await encryptEnvelope(key.spki, PAYLOAD);
  assertEquals(await openForAgent(key.pkcs8, sealed), PAYLOAD);
});

Deno.test("pythonJson writes what json.dumps writes by default", () => {
  assertEquals(
    pythonJson({ a: "é😀", b: [1, true, null], c: { d: "x" } }),
    '{"a": "\\u00e9\\ud83d\\ude00", "b": [1, true, null], "c": {"d": "x"}}',
  );
});

Deno.test({
  name: "Chromium: the connect page encrypts to the client's key; the client decrypts; " +
    "the page opens the client's envelope; a typed form value reaches the agent",
  ignore: !hasChromium,
  async fn() {
    await using env = await linkAuthWorld({}, {
      credential: "access_token",
      login: { oauthProvider: null, template: "api_key" },
    });
    const challenge = await env.connector.authenticate({ scope: "svc" }).then(
      () => undefined,
      (e) => e,
    );
    const code: string = challenge.userCode;
    // The agent key exactly as the client generated and stored it.
    const [keyName] = await env.cache.keys("linkauth/agent_key");
    const stored = (await env.cache.get<StoredAgentKey>(keyName))!;
    assertEquals(env.broker.session(code)!.publicKey, stored.spki);
    const input: PageEnvelopeInput = {
      url: env.broker.url,
      spki: stored.spki,
      pkcs8: stored.pkcs8,
      payload: { api_key: "sk-ü✓" },
      sealed: await encryptEnvelope(stored.spki, PAYLOAD),
      form: { code, value: "typed-ключ" },
      chromium: CHROMIUM,
    };
    const out = await runDenoJson<PageEnvelopeOutput>(PAGE, { perms: ["-A"], input });
    assert(out.ok, out.error);
    const key = await importAgentKey(stored);
    assertEquals(await decryptEnvelope(key.privateKey, out.pageEnvelope!), input.payload);
    assertEquals(out.openError, undefined);
    assertEquals(out.opened, PAYLOAD);
    // The form flow: the page's ciphertext, stored verbatim by /complete, decrypts at the agent.
    assert(out.formDone);
    assertEquals(env.broker.session(code)!.status, "ready");
    env.clock.t += 6_000;
    const result = await env.connector.authenticate({ scope: "svc" });
    assert(result.kind === "credential");
    assertEquals(result.credential.value, "typed-ключ");
  },
});
