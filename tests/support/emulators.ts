/**
 * Wiring of the emulators that tests repeat: the LinkAuth broker's `auth0` OAuth provider
 * pointing at an Auth0 tenant emulator, or at an address nothing listens on for tests that only
 * exercise the agent side of the broker; and {@link linkAuthWorld}, a broker plus connectors on
 * one fake clock.
 *
 * @example
 * ```ts
 * import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";
 * import { startLinkAuthBroker } from "../../lib/emulators/linkauth/mod.ts";
 * import { auth0Provider, linkAuthWorld } from "./emulators.ts";
 * await using w = await linkAuthWorld(); // w.broker, w.connector, w.clock.t += 6_000
 * const auth0 = await startAuth0Emulator();
 * const broker = await startLinkAuthBroker({ providers: { auth0: auth0Provider(auth0) } });
 * await broker.close();
 * await auth0.close();
 * ```
 * @module
 */
import {
  LinkAuthConnector,
  type LinkAuthConnectorOptions,
} from "../../lib/auth/linkauth/connector.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import type { Auth0Emulator } from "../../lib/emulators/auth0/server.ts";
import {
  type BrokerOAuthProvider,
  type LinkAuthBrokerOptions,
  startLinkAuthBroker,
} from "../../lib/emulators/linkauth/mod.ts";

/** The broker's OAuth provider entry for the Auth0 emulator `auth0` (its client and endpoints). */
export function auth0Provider(
  auth0: Pick<Auth0Emulator, "url" | "clientId" | "clientSecret">,
): BrokerOAuthProvider {
  return {
    authorizeUrl: `${auth0.url}/authorize`,
    tokenUrl: `${auth0.url}/oauth/token`,
    clientId: auth0.clientId,
    clientSecret: auth0.clientSecret,
  };
}

/** An `auth0` provider on `127.0.0.1:9`, where nothing listens: the broker never reaches it. */
export const UNREACHABLE_AUTH0: BrokerOAuthProvider = {
  authorizeUrl: "http://127.0.0.1:9/authorize",
  tokenUrl: "http://127.0.0.1:9/oauth/token",
  clientId: "c",
  clientSecret: "s",
};

/**
 * A broker (provider {@link UNREACHABLE_AUTH0}, relaying to 127.0.0.1), a memory cache and a
 * connector sharing one fake clock (`clock.t`, epoch ms); `make` builds more connectors on the
 * same cache. Dispose with `await using`.
 */
export async function linkAuthWorld(
  brokerOpts: Partial<LinkAuthBrokerOptions> = {},
  connOpts: Partial<LinkAuthConnectorOptions> = {},
) {
  const clock = { t: Date.parse("2026-05-01T10:00:00Z") };
  const now = () => clock.t;
  const broker = await startLinkAuthBroker({
    now,
    providers: { auth0: UNREACHABLE_AUTH0 },
    allowedHosts: ["127.0.0.1"],
    ...brokerOpts,
  });
  const cache = new MemoryCacheStore({ now });
  const make = (extra: Partial<LinkAuthConnectorOptions> = {}) =>
    new LinkAuthConnector({ brokerUrl: broker.url, cache, now, ...connOpts, ...extra });
  return {
    clock,
    broker,
    cache,
    connector: make(),
    make,
    [Symbol.asyncDispose]: () => broker.close(),
  };
}
