/**
 * The agent's RSA key, generated lazily (only when a session is created) and kept in the cache
 * store so that the process that polls can decrypt what the process that created the session
 * asked for. Creation runs inside `CacheStore.update`, so two first runs never race to two keys.
 *
 * @example
 * ```ts
 * import { AgentKeyStore } from "./keystore.ts";
 * import type { CacheStore } from "../../cache/types.ts";
 * async function demo(cache: CacheStore) {
 *   const key = await new AgentKeyStore(cache).getOrCreate();
 *   return key.spki; // the broker's public_key
 * }
 * ```
 * @module
 */

import type { CacheStore } from "../../cache/types.ts";
import { type AgentKey, generateAgentKey, importAgentKey } from "./crypto.ts";

/** What the cache store holds (private key as PKCS#8 DER, standard base64). */
export interface StoredAgentKey {
  readonly kty: "RSA-OAEP-256";
  readonly pkcs8: string;
  readonly spki: string;
  readonly createdAt: number;
}

/** Cache-backed agent key. */
export class AgentKeyStore {
  #cache: CacheStore;
  #key: string;
  #loaded?: AgentKey;

  constructor(cache: CacheStore, key = "linkauth/agent_key") {
    this.#cache = cache;
    this.#key = key;
  }

  /** The stored key, or `undefined` if none was ever generated. Never generates. */
  async get(): Promise<AgentKey | undefined> {
    if (this.#loaded) return this.#loaded;
    const stored = await this.#cache.get<StoredAgentKey>(this.#key);
    if (!stored) return undefined;
    this.#loaded = await importAgentKey(stored);
    return this.#loaded;
  }

  /** The stored key, generating and persisting one first if needed. */
  async getOrCreate(now = Date.now()): Promise<AgentKey> {
    const existing = await this.get();
    if (existing) return existing;
    const stored = await this.#cache.update<StoredAgentKey>(this.#key, async (current) => {
      if (current) return { value: current };
      const fresh = await generateAgentKey();
      return {
        value: { kty: "RSA-OAEP-256", pkcs8: fresh.pkcs8, spki: fresh.spki, createdAt: now },
      };
    });
    this.#loaded = await importAgentKey(stored!);
    return this.#loaded;
  }
}
