/**
 * Loopback OAuth (Authorization Code + PKCE) for the `auth0-oauth` path.
 *
 * @example
 * ```ts
 * import { browserOpener, denoOpenerHost, OAuthLoopbackConnector } from "./mod.ts";
 * const oauth = new OAuthLoopbackConnector({
 *   authorizeUrl: "https://tenant.auth0.com/authorize",
 *   tokenUrl: "https://tenant.auth0.com/oauth/token",
 *   clientId: "abc",
 *   port: 3000,
 *   openBrowser: browserOpener(denoOpenerHost()),
 * });
 * ```
 * @module
 */

export { OAuthLoopbackConnector } from "./connector.ts";
export type { LoopbackSession, OAuthLoopbackOptions } from "./connector.ts";
export { browserOpener, denoOpenerHost, openerFor } from "./browser.ts";
export type { Opener, OpenerHost } from "./browser.ts";
export { startCallbackServer } from "./callback_server.ts";
export type { CallbackServer, CallbackServerOptions } from "./callback_server.ts";
