/**
 * What happens to a result once the broker has it: {@link sealResult} encrypts a plaintext the
 * broker sees (OAuth tokens, passthrough parameters, webhook payloads) to the agent key and
 * marks the session ready; {@link Outbox} pushes it to the session's `callback_url`
 * (reference section 5).
 *
 * @example
 * ```ts
 * import { Outbox } from "./delivery.ts";
 * const outbox = new Outbox(fetch);
 * // outbox.deliver(session) after a session became ready; await outbox.settled();
 * await outbox.close();
 * ```
 * @module
 */
import type { FetchLike } from "../net/types.ts";
import { ALGORITHM, sealForAgent } from "./envelope.ts";
import { hex, type Session } from "./session.ts";

/** The `name` of the error an upstream throws for a target the address guard refuses. */
export const ADDRESS_REFUSED = "AddressRefused";

/** Encrypt `plaintext` to the session's agent key and make the session `ready`. */
export async function sealResult(s: Session, plaintext: unknown): Promise<void> {
  s.ciphertext = await sealForAgent(s.publicKey, plaintext);
  s.algorithm = ALGORITHM;
  s.status = "ready";
}

/** Outbound `callback_url` deliveries, tracked until they finish (with their retries). */
export class Outbox {
  readonly #upstream: FetchLike;
  readonly #closing = new AbortController();
  readonly #pending = new Set<Promise<void>>();

  constructor(upstream: FetchLike) {
    this.#upstream = upstream;
  }

  /**
   * Outbound `callback_url` delivery (reference section 5): compact JSON, HMAC-SHA256 over the
   * raw bytes keyed by the whole `cs_…` string, one delivery id across retries, at most 3
   * attempts (sleeping 1 s then 4 s) on 5xx and network errors only, redirects not followed.
   * deliberate: closes hole 6 — localhost callbacks, which creation allows, are delivered.
   */
  deliver(s: Session): void {
    if (!s.callbackUrl || !s.callbackSecret || s.ciphertext === undefined) return;
    const url = s.callbackUrl;
    const body = JSON.stringify({
      session_id: s.sessionId,
      status: "ready",
      ciphertext: s.ciphertext,
      ...(s.algorithm !== undefined ? { algorithm: s.algorithm } : {}),
    });
    const secret = s.callbackSecret;
    const run = async () => {
      const key = await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      const signature = hex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
      const headers = {
        "content-type": "application/json",
        "x-linkauth-delivery-id": crypto.randomUUID(),
        "x-linkauth-signature": `sha256=${signature}`,
      };
      for (const pause of [0, 1000, 4000]) {
        if (pause) await this.#sleep(pause);
        if (this.#closing.signal.aborted) return;
        try {
          const res = await this.#upstream(url, {
            method: "POST",
            headers,
            body,
            redirect: "manual",
            signal: AbortSignal.any([this.#closing.signal, AbortSignal.timeout(10_000)]),
          });
          await res.body?.cancel();
          if (res.status < 500) return;
        } catch (e) {
          // A target the address guard refuses stays refused (as LinkAuth's SSRF block).
          if ((e as Error)?.name === ADDRESS_REFUSED) return;
          // network error or timeout: retried
        }
      }
    };
    const p: Promise<void> = run().catch(() => {}).finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Resolves once every scheduled delivery (with its retries) has finished. */
  async settled(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  /** Stop retrying and wait for the deliveries in flight. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all([...this.#pending]);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#closing.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}
