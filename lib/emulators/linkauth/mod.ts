/**
 * A LinkAuth v0.2 broker emulator that speaks the real wire protocol (reference sections 1–7):
 * sessions, codes, poll states, slow_down, the connect page, OAuth with PKCE and the code
 * exchange, passthrough capture, encryption to the agent key, webhooks, signed `callback_url`
 * delivery and `/v1/proxy`, with the real route set, field order, nulls, the three error
 * shapes (Problem Details, API-key problems nested under `detail`, FastAPI's 422 list) and the
 * real order of checks. `tests/linkauth/fidelity_test.ts` pins that behaviour. It shares no
 * protocol code with the client: it is the in-memory front of the production broker's protocol
 * modules (`lib/broker`: `protocol.ts`, `envelope.ts` written from the reference, `session.ts`,
 * `delivery.ts`, `page.ts`, `problem.ts`, `validate.ts`, `templates.ts`), which import no client
 * code either (`tests/broker/independence_test.ts`). What stays here is the in-memory state and
 * the test hooks; `mcs broker serve` keeps the same protocol on a CacheStore.
 *
 * Modules: `server.ts` (routes, test hooks), `context.ts` (options, shared checks),
 * `state.ts` (sessions, rate limits), `sessions.ts` (create, poll), `connect.ts` (connect
 * page API), `oauth.ts` (authorize, callback, passthrough), `relay.ts` (webhook, proxy). Where the reference is silent, the guesses are listed in
 * `lib/emulators/GUESSES.md`.
 *
 * It deliberately does NOT copy the real broker's known holes (reference section 14); each
 * deviation is marked `deliberate: closes hole N` in the code:
 * - 1: `/complete` needs a non-empty, matching connect token and is closed once an OAuth or
 *   passthrough redirect started (no empty-token injection);
 * - 2: a ready (unread) payload is never overwritten (webhook, callback);
 * - 3: code look-ups are also limited per client across all codes, keyed on the socket address,
 *   never on `X-Forwarded-For`;
 * - 4/5: `/v1/proxy` relays only to allowlisted hosts (an empty allowlist relays nothing) and no
 *   CORS headers are sent;
 * - 6: `callback_url` delivery to localhost works; 7: OAuth `state` is random, not the
 *   code-derived session id; 8: passthrough redirects only go to allowlisted hosts and consume
 *   the connect token; 10: negative TTLs are refused; 11: tokens compare in constant time;
 *   12: its own connect page (no third-party script, strict CSP); 17: consumption is atomic.
 *
 * @example
 * ```ts
 * import { startLinkAuthBroker } from "./mod.ts";
 * const broker = await startLinkAuthBroker({ apiKeys: ["k"] });
 * // ... point a LinkAuthConnector at broker.url ...
 * await broker.close();
 * ```
 * @module
 */

export { type BrokerOAuthProvider, fnmatchcase, type LinkAuthBrokerOptions } from "./context.ts";
export { type BrokerSessionView, type LinkAuthBroker, startLinkAuthBroker } from "./server.ts";
export type { BrokerSessionStatus } from "./state.ts";
