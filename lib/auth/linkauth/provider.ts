/**
 * `LinkAuthProvider`: a {@link CredentialProvider} for the plain `linkauth` auth path, where the
 * broker hands the agent an access token directly (OAuth token response or a form field).
 * Expired tokens are dropped and a new sign-in is started.
 *
 * @example
 * ```ts
 * import { LinkAuthConnector } from "./connector.ts";
 * import { LinkAuthProvider } from "./provider.ts";
 * import type { CacheStore } from "../../cache/types.ts";
 * function make(cache: CacheStore) {
 *   const connector = new LinkAuthConnector({ brokerUrl: "https://b", cache, credential: "access_token" });
 *   return new LinkAuthProvider({ connector }); // await provider.getToken("gmail")
 * }
 * ```
 * @module
 */

import { McsError } from "../../errors.ts";
import { SingleFlight } from "../single_flight.ts";
import type { AuthPort, CredentialProvider } from "../types.ts";

/** Options. */
export interface LinkAuthProviderOptions {
  /** A connector in access-token mode (`credential: "access_token"`). */
  connector: AuthPort;
  now?: () => number;
  /** Treat tokens expiring within this many ms as expired (default 60 s). */
  skewMs?: number;
}

/** Access tokens straight from the broker. */
export class LinkAuthProvider implements CredentialProvider {
  readonly #opts: LinkAuthProviderOptions;
  readonly #flights = new SingleFlight<string>();

  constructor(options: LinkAuthProviderOptions) {
    this.#opts = options;
  }

  /**
   * An access token for `scope`; concurrent calls for the same scope share one broker flow.
   * @throws {AuthChallenge} while the user has not completed the broker flow.
   */
  getToken(scope: string): Promise<string> {
    return this.#flights.run(scope, () => this.#getToken(scope));
  }

  async #getToken(scope: string): Promise<string> {
    const now = (this.#opts.now ?? Date.now)();
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = await this.#opts.connector.authenticate({ scope });
      if (result.kind !== "credential" || result.credential.kind !== "access_token") {
        throw new McsError(
          "linkauth_wrong_credential",
          "The LinkAuth connector did not return an access token; configure it in access-token mode.",
        );
      }
      const { value, expiresAt } = result.credential;
      if (expiresAt === undefined || expiresAt - (this.#opts.skewMs ?? 60_000) > now) return value;
      await this.#opts.connector.invalidate(scope);
    }
    throw new McsError("linkauth_token_expired", "The broker handed out an already expired token.");
  }

  async invalidate(scope: string): Promise<void> {
    await this.#opts.connector.invalidate(scope);
  }
}
