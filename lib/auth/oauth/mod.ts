/**
 * Loopback OAuth (Authorization Code + PKCE) for the `auth0-oauth` path.
 *
 * @example
 * ```ts
 * import { OAuthLoopbackConnector } from "./mod.ts";
 * ```
 * @module
 */

export { OAuthLoopbackConnector } from "./connector.ts";
export type { OAuthLoopbackOptions } from "./connector.ts";
export { startCallbackServer } from "./callback_server.ts";
export type { CallbackServer, CallbackServerOptions } from "./callback_server.ts";
