/**
 * A tiny in-process mutex: callers run one at a time, in arrival order. The file store uses it so
 * that concurrent calls inside one process queue here instead of each waiting on the OS lock.
 *
 * @example
 * ```ts
 * import { Mutex } from "./mutex.ts";
 * const m = new Mutex();
 * await Promise.all([m.run(async () => 1), m.run(async () => 2)]); // run one after the other
 * ```
 * @module
 */

/** Serialises async critical sections within one process. Not re-entrant. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  /** Run `fn` after every previously queued call has settled; returns its result. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => {});
    return result;
  }
}
