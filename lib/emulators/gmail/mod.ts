/**
 * Gmail REST API emulator for tests, benchmarks and `mcs dev`.
 *
 * @example
 * ```ts
 * import { startGmailEmulator } from "./mod.ts";
 * import { GoogleTokenRegistry } from "../google_tokens.ts";
 * const emu = await startGmailEmulator({ googleTokens: new GoogleTokenRegistry(), seed: true });
 * await emu.close();
 * ```
 * @module
 */

export {
  type GmailEmulator,
  type GmailEmulatorOptions,
  type GmailFaults,
  type LoggedCall,
  startGmailEmulator,
} from "./server.ts";
export {
  type Delivery,
  Mailbox,
  type MailboxOptions,
  type StoredLabel,
  type StoredMessage,
} from "./mailbox.ts";
export { compileQuery } from "./query.ts";
export { fakePdf, seedMailbox } from "./seed.ts";
export { googleError } from "./google_errors.ts";
