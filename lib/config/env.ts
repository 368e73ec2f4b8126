/**
 * A read-only view of the environment that only asks for variables by name, so the program runs
 * under an `--allow-env` list of exactly the variables it reads (see `allEnvNames()`); a variable
 * the permissions do not cover reads as unset instead of crashing.
 *
 * @example
 * ```ts
 * import { denoEnv, mapEnv } from "./env.ts";
 * denoEnv.get("MCS_AUTH");
 * mapEnv({ MCS_AUTH: "static" }).get("MCS_AUTH"); // "static"
 * ```
 * @module
 */

/** Where settings come from. */
export interface EnvSource {
  get(name: string): string | undefined;
}

/** The process environment (unset or not permitted → undefined; empty → undefined). */
export const denoEnv: EnvSource = {
  get(name: string): string | undefined {
    try {
      const v = Deno.env.get(name);
      return v === undefined || v === "" ? undefined : v;
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        return undefined;
      }
      throw e;
    }
  },
};

/** An environment from a plain object (tests, `mcs dev`). Empty strings read as unset. */
export function mapEnv(vars: Record<string, string | undefined>): EnvSource {
  return {
    get: (name) => {
      const v = vars[name];
      return v === undefined || v === "" ? undefined : v;
    },
  };
}
