/**
 * The emulator stack ({@link startStack}, 1 s polls) as a test's disposable: `await using` closes
 * it, and removes the scratch directory asked for with `dir` (a prefix; the path is `stack.dir`),
 * so a test needs no try/finally of its own.
 *
 * @example
 * ```ts
 * import { testStack } from "../support/stack.ts";
 * await using stack = await testStack({ dir: "mcs-serve-" });
 * // spawn `mcs ...` with { ...stack.env, MCS_CACHE_DIR: stack.dir }
 * ```
 * @module
 */
import { type Stack, startStack } from "../../lib/emulators/stack.ts";

/** A stack that `await using` closes; `dir` is its scratch directory ("" unless asked for). */
export type TestStack = Stack & AsyncDisposable & { dir: string };

/** Start the stack (1 s polls) and, with `o.dir` as the prefix, a scratch directory. */
export async function testStack(o: { dir?: string } = {}): Promise<TestStack> {
  const stack = await startStack({ pollInterval: 1 });
  const dir = o.dir === undefined ? "" : await Deno.makeTempDir({ prefix: o.dir });
  return Object.assign(stack, {
    dir,
    async [Symbol.asyncDispose]() {
      await stack.close();
      if (dir) await Deno.remove(dir, { recursive: true });
    },
  });
}
