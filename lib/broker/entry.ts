/**
 * What `mcs broker serve` loads, as one module behind the bare name `mcs-broker` (deno.json), so
 * that the bundle keeps the broker in a file of its own (`mcs-mcs-broker.js`, see
 * `SIDE_PACKAGES` in lib/build/layout.ts) and no other command reads it. It is a separate module
 * graph in the bundle: errors cross back to the CLI as plain values (`code`, `message`), never by
 * class identity.
 *
 * @example
 * ```ts
 * const { brokerSettings } = await import("mcs-broker");
 * ```
 * @module
 */
export { brokerSettings, envProviders, startBroker } from "./mod.ts";
export { openBrokerStore } from "./store.ts";
export { pinnedFetch } from "./pin.ts";
