/**
 * `mcs broker serve`: a production LinkAuth v0.2-compatible credential broker. Any LinkAuth
 * client (mcs's `auth0-linkauth` path included) works against it unchanged; its configuration
 * uses LinkAuth's environment names (`config.ts`); its state lives on the {@link CacheStore}
 * port (a file store by default, so sessions survive a restart; any store with an atomic
 * `update`, such as Redis, to share sessions between replicas); LinkAuth's known holes are
 * closed (`handler.ts` lists them).
 *
 * Modules: `config.ts` (environment), `server.ts` (listen, TLS, graceful shutdown), `handler.ts`
 * (routes and the closed holes), `state.ts` (sessions and rate limits on the store), `guard.ts`
 * (outbound address checks), `metrics.ts` (Prometheus), `page.ts` (the connect page), and the
 * broker side of the protocol shared with the in-memory emulator (`lib/emulators/linkauth`):
 * `protocol.ts`, `envelope.ts`, `session.ts`, `delivery.ts`, `problem.ts`, `validate.ts`,
 * `templates.ts`. Nothing here imports the mcs client's protocol code (`lib/auth`): client and
 * broker stay two implementations, so the wire tests compare them.
 *
 * @example
 * ```ts
 * import { FileCacheStore } from "../cache/file_store.ts";
 * import { brokerSettings, envProviders, startBroker } from "./mod.ts";
 * const settings = await brokerSettings(Deno.env);
 * const broker = await startBroker({
 *   ...settings,
 *   store: new FileCacheStore(settings.stateDir),
 *   providers: envProviders(Deno.env, fetch),
 * });
 * await broker.close();
 * ```
 * @module
 */
export { type BrokerSettings, brokerSettings, envProviders, type EnvReader } from "./config.ts";
export { type BrokerHandler, brokerHandler, type BrokerHandlerOptions } from "./handler.ts";
export { type RunningBroker, startBroker, type StartBrokerOptions } from "./server.ts";
