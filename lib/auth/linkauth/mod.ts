/**
 * LinkAuth v0.2 agent side: the stateless connector, the `/v1/proxy` relay, the access-token
 * provider and the envelope crypto.
 *
 * @example
 * ```ts
 * import { LinkAuthConnector, LinkAuthRelay } from "./mod.ts";
 * ```
 * @module
 */

export { LinkAuthConnector } from "./connector.ts";
export type { LinkAuthConnectorOptions, LinkAuthLoginOptions, StoredSession } from "./connector.ts";
export { LinkAuthRelay } from "./relay.ts";
export type { LinkAuthRelayOptions } from "./relay.ts";
export { LinkAuthProvider } from "./provider.ts";
export type { LinkAuthProviderOptions } from "./provider.ts";
export {
  decryptEnvelope,
  encryptEnvelope,
  ENVELOPE_ALGORITHM,
  EnvelopeError,
  generateAgentKey,
} from "./crypto.ts";
export type { AgentKey } from "./crypto.ts";
