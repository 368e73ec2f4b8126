/**
 * Stand-in for `lib/emulators/stack.ts` in the shipped bundle (see `bundle` in lib/build/main.ts):
 * the local stack behind `mcs dev` and `mcs dev demo` (Auth0, LinkAuth and Gmail emulators, a
 * throwaway CA, jose and @peculiar/x509) is a development tool, 45% of a bundle that every mail
 * command would otherwise load. Run it from a checkout instead.
 *
 * @example
 * ```ts
 * import { startStack } from "./no_stack.ts";
 * await startStack().catch((e) => console.log(e.code)); // "local_stack_not_bundled"
 * ```
 * @module
 */

import { ConfigError } from "../errors.ts";

/** Always rejects: the emulators are not part of this build. */
export function startStack(_options?: unknown): Promise<never> {
  return Promise.reject(
    new ConfigError(
      "local_stack_not_bundled",
      "The local stack (mcs dev, mcs dev demo) is not part of the shipped bundle: run it from a " +
        "checkout of the mcs repository with `deno task mcs -- dev` or `deno task demo`.",
    ),
  );
}
