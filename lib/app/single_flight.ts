/**
 * Coalesce concurrent `getToken(scope)` calls in one process into a single flight. The Gmail
 * client issues requests in parallel (labels + list + batch); without this, each would walk the
 * provider's flow at the same time and start duplicate logins, broker sessions or Connected
 * Accounts flows. Works for every provider, so the composition root wraps them all.
 *
 * @example
 * ```ts
 * import { singleFlight } from "./single_flight.ts";
 * import type { CredentialProvider } from "../auth/types.ts";
 * declare const provider: CredentialProvider;
 * const p = singleFlight(provider);
 * await Promise.all([p.getToken("gmail"), p.getToken("gmail")]); // one underlying call
 * ```
 * @module
 */

import type { CredentialProvider } from "../auth/types.ts";

/** Wrap `provider` so that concurrent calls for the same scope share one result. */
export function singleFlight(provider: CredentialProvider): CredentialProvider {
  const inFlight = new Map<string, Promise<string>>();
  return {
    getToken(scope: string): Promise<string> {
      const running = inFlight.get(scope);
      if (running) return running;
      const p = provider.getToken(scope).finally(() => inFlight.delete(scope));
      inFlight.set(scope, p);
      return p;
    },
    invalidate: (scope: string) => provider.invalidate(scope),
  };
}
