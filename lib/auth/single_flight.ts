/**
 * Coalesce concurrent calls per key into one flight: while a call for `key` is running, further
 * calls for the same key share its promise (result or error); once it settles, the next call
 * starts afresh. Credential providers use it so that the Gmail client's parallel requests walk
 * the auth flow once (one login, one broker session, one Token Vault exchange), not once each.
 *
 * @example
 * ```ts
 * import { SingleFlight } from "./single_flight.ts";
 * const flights = new SingleFlight<string>();
 * const fetchToken = () => Promise.resolve("ya29.x");
 * const [a, b] = await Promise.all([
 *   flights.run("gmail", fetchToken),
 *   flights.run("gmail", fetchToken), // shares the first call
 * ]);
 * ```
 * @module
 */

/** Per-key in-flight promises. */
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>();

  /** Run `fn` for `key`, or join the call for `key` that is already running. */
  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running) return running;
    const flight = (async () => {
      try {
        return await fn();
      } finally {
        this.#running.delete(key);
      }
    })();
    this.#running.set(key, flight);
    return flight;
  }
}
