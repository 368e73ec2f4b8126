/**
 * {@link KeyCanary}: proof that this process holds the same bytes under each key id of
 * `MCS_STORE_KEY` as the other replicas of a shared (Redis) store, checked before the store is
 * used.
 *
 * Why: a replica that holds different bytes under the same key id cannot open what the others
 * seal, and the store moves aside every value it cannot open (see redis_store.ts): each replica
 * would quarantine what the others write, and users would lose their sign-ins over and over,
 * with nothing but warnings to show for it. The canary turns that into one clear refusal.
 *
 * Design:
 * - **One canary per key id**: `<prefix>canary:<kid>` holds a known text sealed under that kid
 *   (AES-256-GCM, bound to that Redis key like every value; no expiry). It proves nothing about
 *   the key but that the bytes are the same.
 * - **Absent**: created with `SET NX`, then read back, so of two replicas starting at once one
 *   writes it and both check the same value.
 * - **Present and it opens** under this process's bytes for that kid: fine. Otherwise: a
 *   `store_key_mismatch` {@link ConfigError} (exit 3) that names the kid and the store, never key
 *   material, and says how to fix it.
 * - **Rotation**: each kid of the ring is checked on its own. A new kid creates its canary on its
 *   first start; an old kid still listed is checked against its canary; a dropped kid is no longer
 *   checked (its canary stays, a few bytes; giving that kid new bytes later is refused: use a new
 *   kid for new bytes).
 * - {@link KeyCanary.ready} runs the check until it passes once (then it is remembered) and is
 *   what the store awaits before every operation, so a replica that started while Redis was down
 *   still reads (and moves aside) nothing before its keys are proven. {@link KeyCanary.check}
 *   runs it every time: the readiness probe, which also re-creates a canary Redis lost (a
 *   restart without persistence).
 *
 * @example
 * ```ts
 * import { KeyCanary } from "./key_canary.ts";
 * import { parseStoreKeys, Sealer } from "./seal.ts";
 * import { connectRedis } from "./redis_connection.ts";
 * const sealer = new Sealer(await parseStoreKeys(Deno.env.get("MCS_STORE_KEY")));
 * const canary = new KeyCanary(connectRedis("redis://127.0.0.1:6379/0"), sealer, "mcs:");
 * await canary.ready(); // throws store_key_mismatch when a kid's bytes differ from the store's
 * ```
 * @module
 */

import { ConfigError } from "../errors.ts";
import type { RedisCommands } from "./redis_store.ts";
import { type Sealer, STORE_KEY_ENV } from "./seal.ts";

/** The known text every canary holds (as JSON, like any stored value). */
export const CANARY_TEXT = JSON.stringify("mcs store key canary v1");

/** Checks the key ring of a {@link Sealer} against the canaries of one store. */
export class KeyCanary {
  readonly #redis: RedisCommands;
  readonly #sealer: Sealer;
  readonly #prefix: string;
  #passed: Promise<void> | undefined;

  /** Sends nothing: the first {@link ready} or {@link check} does. */
  constructor(redis: RedisCommands, sealer: Sealer, prefix: string) {
    this.#redis = redis;
    this.#sealer = sealer;
    this.#prefix = prefix;
  }

  /** The Redis key of `kid`'s canary. */
  canaryKey(kid: string): string {
    return `${this.#prefix}canary:${kid}`;
  }

  /**
   * Resolves once the check has passed (remembered from then on); a failed check (Redis
   * unavailable, or a mismatch) is run again by the next call.
   * @throws {ConfigError} `store_key_mismatch`; or the connection's `store_unavailable`.
   */
  ready(): Promise<void> {
    if (!this.#passed) {
      const p = this.check();
      this.#passed = p;
      p.catch(() => {
        if (this.#passed === p) this.#passed = undefined;
      });
    }
    return this.#passed;
  }

  /**
   * Check every kid now: create its canary if absent, then open it with this process's bytes.
   * @throws {ConfigError} `store_key_mismatch`; or the connection's `store_unavailable`.
   */
  async check(): Promise<void> {
    await Promise.all(this.#sealer.kids.map((kid) => this.#checkKid(kid)));
  }

  async #checkKid(kid: string): Promise<void> {
    const key = this.canaryKey(kid);
    let raw = await this.#redis.send(["GET", key]);
    if (raw === null || raw === undefined) {
      const sealed = await this.#sealer.sealWith(kid, key, CANARY_TEXT);
      await this.#redis.send(["SET", key, sealed, "NX"]);
      raw = await this.#redis.send(["GET", key]); // ours, or the one another replica wrote first
    }
    if (typeof raw === "string") {
      const opened = await this.#sealer.open(key, raw, kid);
      if ("json" in opened && opened.json === CANARY_TEXT) return;
    }
    throw mismatch(kid, key, this.#redis.where);
  }
}

function mismatch(kid: string, canary: string, where: string): ConfigError {
  return new ConfigError(
    "store_key_mismatch",
    `${STORE_KEY_ENV} holds different key bytes under key id "${kid}" than the store ${where} ` +
      `was first used with under that id: its canary ${canary} does not open with them. All ` +
      `replicas must hold the same bytes under one key id (otherwise each one discards what the ` +
      `others write, and users lose their sign-ins). Copy the key of "${kid}" from the other ` +
      `replicas' ${STORE_KEY_ENV}; or, for new bytes, use a new key id (first in the list, ` +
      `e.g. ${STORE_KEY_ENV}=k2:<new>,${kid}:<old>). If no replica holds the old bytes any more, ` +
      `delete ${canary} (what was sealed under them is lost).`,
    { details: { env: STORE_KEY_ENV, kid, canary, store: where } },
  );
}
