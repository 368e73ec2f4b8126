/**
 * An in-process broker (`startBroker`) for the hole probes and the wire-client tests: a memory
 * store (or one given), an agent RSA key pair made with plain WebCrypto, a fake clock, stub DNS,
 * and helpers for the browser and agent calls written from the wire protocol alone.
 *
 * @example
 * ```ts
 * import { brokerWorld } from "./_world.ts";
 * await using w = await brokerWorld();
 * const s = await w.createSession({ template: "api_key" });
 * ```
 * @module
 */
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import type { CacheStore } from "../../lib/cache/types.ts";
import type { BrokerOAuthProvider } from "../../lib/broker/protocol.ts";
import { startBroker, type StartBrokerOptions } from "../../lib/broker/server.ts";
import { assertEquals } from "../support/assert.ts";

/** The fake clock's start (epoch ms); give file stores `{ now: () => START }` to match. */
export const START = Date.parse("2026-05-01T10:00:00Z");

/** The API key the world's agent uses. */
export const KEY = "agent-key-1";

const b64 = (buf: ArrayBuffer | Uint8Array) => {
  let s = "";
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s);
};
const unb64 = (t: string) => Uint8Array.from(atob(t), (c) => c.charCodeAt(0));

/**
 * An agent key pair: SPKI as the protocol sends it (standard base64), and the private key.
 * `modulusLength` below 2048 makes a key the broker must refuse.
 */
export async function agentKey(modulusLength = 2048) {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSA-OAEP",
      modulusLength,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["encrypt", "decrypt"],
  );
  return {
    spki: b64(await crypto.subtle.exportKey("spki", pair.publicKey)),
    privateKey: pair.privateKey,
  };
}

/** Encrypt like the connect page (reference 6.3), with plain WebCrypto. */
export async function pageEnvelope(spki: string, values: unknown): Promise<string> {
  const rsa = await crypto.subtle.importKey(
    "spki",
    unb64(spki),
    { name: "RSA-OAEP", hash: "SHA-256" },
    false,
    ["encrypt"],
  );
  const aes = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await crypto.subtle.importKey("raw", aes, "AES-GCM", false, ["encrypt"]);
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    key,
    new TextEncoder().encode(JSON.stringify(values)),
  );
  const wrapped = await crypto.subtle.encrypt({ name: "RSA-OAEP" }, rsa, aes);
  return btoa(JSON.stringify({ wrapped_key: b64(wrapped), iv: b64(iv), ciphertext: b64(ct) }));
}

/** Decrypt an envelope with the agent's private key (reference 6.2), with plain WebCrypto. */
export async function openEnvelope(privateKey: CryptoKey, envelope: string): Promise<unknown> {
  const inner = JSON.parse(new TextDecoder().decode(unb64(envelope)));
  const raw = await crypto.subtle.decrypt(
    { name: "RSA-OAEP" },
    privateKey,
    unb64(inner.wrapped_key),
  );
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: unb64(inner.iv) },
    key,
    unb64(inner.ciphertext),
  );
  return JSON.parse(new TextDecoder().decode(plain));
}

/** The `name=value` of the cookie a response sets (what a browser sends back), or "". */
export function cookieOf(res: Response): string {
  return res.headers.get("set-cookie")?.split(";")[0] ?? "";
}

/** Options of {@link brokerWorld}. */
export interface BrokerWorldOptions extends Partial<StartBrokerOptions> {
  store?: CacheStore;
  providers?: (name: string) => Promise<BrokerOAuthProvider | undefined>;
  /** Fake DNS answers by host name (others resolve to nothing). */
  dns?: Record<string, string[]>;
}

/** Start a broker and an agent key. Dispose with `await using`. */
export async function brokerWorld(o: BrokerWorldOptions = {}) {
  const clock = { t: START };
  const now = () => clock.t;
  const store = o.store ?? new MemoryCacheStore({ now });
  const log: string[] = [];
  const hash = async (k: string) =>
    Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(k))),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
  const broker = await startBroker({
    store,
    apiKeyHashes: [await hash(KEY), await hash("agent-key-2")],
    allowedHosts: ["127.0.0.1", "*.example.test"],
    providers: o.providers ?? (() => Promise.resolve(undefined)),
    now,
    port: 0,
    resolve: (h) => Promise.resolve(o.dns?.[h] ?? []),
    log: (l) => log.push(l),
    ...o,
  });
  const key = await agentKey();
  const api = (path: string, init: RequestInit & { key?: string } = {}) =>
    fetch(`${broker.url}${path}`, {
      ...init,
      headers: {
        "content-type": "application/json",
        ...(init.key === "" ? {} : { "x-api-key": init.key ?? KEY }),
        ...init.headers as Record<string, string>,
      },
    });
  /** POST /v1/sessions with the world's key; returns the 201 body. */
  const createSession = async (body: Record<string, unknown>) => {
    const res = await api("/v1/sessions", {
      method: "POST",
      body: JSON.stringify({ public_key: key.spki, ...body }),
    });
    const j = await res.json();
    assertEquals(res.status, 201, JSON.stringify(j));
    return j as {
      session_id: string;
      code: string;
      url: string;
      poll_token: string;
      expires_at: string;
      interval: number;
    };
  };
  const poll = (s: { session_id: string; poll_token: string }) =>
    api(`/v1/sessions/${s.session_id}`, { headers: { authorization: `Bearer ${s.poll_token}` } });
  /** The browser's confirm; returns the connect token. */
  const confirm = async (code: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${broker.url}/v1/connect/${code}/confirm`, {
      method: "POST",
      headers,
    });
    const j = await res.json();
    assertEquals(res.status, 200, JSON.stringify(j));
    return j.connect_token as string;
  };
  const complete = (
    code: string,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) =>
    fetch(`${broker.url}/v1/connect/${code}/complete`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  /** The browser's "Continue": the OAuth (or passthrough) redirect, not followed. */
  const authorize = (code: string, connectToken: string, headers: Record<string, string> = {}) =>
    fetch(`${broker.url}/v1/oauth/authorize/${code}?connect_token=${connectToken}`, {
      redirect: "manual",
      headers,
    });
  return {
    broker,
    store,
    clock,
    key,
    log,
    api,
    createSession,
    poll,
    confirm,
    authorize,
    complete,
    metrics: broker.handler.metrics,
    [Symbol.asyncDispose]: () => broker.close(),
  };
}
