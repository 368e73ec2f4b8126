/**
 * `StaticProvider`: access tokens from settings or the environment (`MCS_GMAIL_TOKEN` for
 * `gmail`, or `MCS_TOKEN_<SCOPE>` with the scope upper-cased and `-`/`.` turned into `_`).
 * `invalidate()` works: after a resource server rejected the token, `getToken` fails with a
 * {@link ConfigError} naming the variable to refresh instead of handing back the dead token.
 *
 * @example
 * ```ts
 * import { StaticProvider } from "./static.ts";
 * const p = new StaticProvider({ env: (n) => n === "MCS_GMAIL_TOKEN" ? "ya29.x" : undefined });
 * await p.getToken("gmail"); // "ya29.x"
 * ```
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { CredentialProvider } from "./types.ts";

/** Options of {@link StaticProvider}. */
export interface StaticProviderOptions {
  /** Explicit tokens per scope (win over the environment). */
  tokens?: Record<string, string>;
  /** Environment lookup (default `Deno.env.get`). */
  env?: (name: string) => string | undefined;
}

/** Environment variable names consulted for `scope`, in order. */
export function staticTokenEnvNames(scope: string): string[] {
  const generic = `MCS_TOKEN_${scope.toUpperCase().replace(/[-.]/g, "_")}`;
  return scope === "gmail" ? ["MCS_GMAIL_TOKEN", generic] : [generic];
}

/** The provider. */
export class StaticProvider implements CredentialProvider {
  readonly #tokens: Record<string, string>;
  readonly #env: (name: string) => string | undefined;
  /** Tokens a resource server rejected, per scope. */
  readonly #rejected = new Map<string, string>();

  constructor(options: StaticProviderOptions = {}) {
    this.#tokens = { ...options.tokens };
    this.#env = options.env ?? ((name) => Deno.env.get(name));
  }

  #lookup(scope: string): { value: string; source: string } | undefined {
    const explicit = this.#tokens[scope]?.trim();
    if (explicit) return { value: explicit, source: `the configured token for '${scope}'` };
    for (const name of staticTokenEnvNames(scope)) {
      const v = this.#env(name)?.trim();
      if (v) return { value: v, source: name };
    }
    return undefined;
  }

  getToken(scope: string): Promise<string> {
    const found = this.#lookup(scope);
    if (!found) {
      return Promise.reject(
        new ConfigError(
          "static_token_missing",
          `No static token for scope '${scope}': set ${staticTokenEnvNames(scope).join(" or ")}.`,
        ),
      );
    }
    if (this.#rejected.get(scope) === found.value) {
      return Promise.reject(
        new ConfigError(
          "static_token_rejected",
          `The token from ${found.source} was rejected (expired or revoked): set a fresh one.`,
        ),
      );
    }
    return Promise.resolve(found.value);
  }

  invalidate(scope: string): Promise<void> {
    const found = this.#lookup(scope);
    if (found) this.#rejected.set(scope, found.value);
    return Promise.resolve();
  }
}
