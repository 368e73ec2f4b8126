/**
 * Shared fixtures for the Gmail tests: a seeded emulator, a credential provider that mints
 * Google tokens from the registry (and counts invalidations), and a client with a recording
 * sleep so backoff paths run instantly.
 * @module
 */

import { GoogleTokenRegistry } from "../../lib/emulators/google_tokens.ts";
import { type GmailEmulator, startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { GmailClient, type GmailClientOptions } from "../../lib/gmail/mod.ts";
import type { CredentialProvider } from "../../lib/auth/types.ts";

export const FULL = "https://mail.google.com/";
export const scope = (s: string) => `https://www.googleapis.com/auth/${s}`;

/** A provider that issues a fresh token after each invalidation. */
export class RegistryProvider implements CredentialProvider {
  invalidations = 0;
  issued = 0;
  #token?: string;
  constructor(readonly registry: GoogleTokenRegistry, public scopes: string[] = [FULL]) {}
  getToken(_scope: string): Promise<string> {
    if (!this.#token) {
      this.issued++;
      this.#token = this.registry.issue({
        sub: "google-oauth2|1",
        email: "ada@example.com",
        scopes: this.scopes,
        ttlS: 3600,
      }).token;
    }
    return Promise.resolve(this.#token);
  }
  invalidate(_scope: string): Promise<void> {
    this.invalidations++;
    this.#token = undefined;
    return Promise.resolve();
  }
  /** Make the current token invalid server-side (simulates expiry/revocation). */
  revokeCurrent(): void {
    if (this.#token) this.registry.revoke(this.#token);
  }
}

export interface Fixture {
  emu: GmailEmulator;
  registry: GoogleTokenRegistry;
  creds: RegistryProvider;
  client: GmailClient;
  sleeps: number[];
  makeClient(o?: Partial<GmailClientOptions>): GmailClient;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Start a seeded emulator and a client against it. Use with `await using`. */
export async function setup(
  o: {
    seed?: boolean;
    scopes?: string[];
    client?: Partial<GmailClientOptions>;
    maxJsonBytes?: number;
  } = {},
): Promise<Fixture> {
  const registry = new GoogleTokenRegistry();
  const emu = await startGmailEmulator({
    googleTokens: registry,
    seed: o.seed ?? true,
    maxJsonBytes: o.maxJsonBytes,
  });
  const creds = new RegistryProvider(registry, o.scopes);
  const sleeps: number[] = [];
  const makeClient = (extra: Partial<GmailClientOptions> = {}) =>
    new GmailClient({
      credentials: creds,
      apiBase: emu.url,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      random: () => 0,
      ...o.client,
      ...extra,
    });
  return {
    emu,
    registry,
    creds,
    client: makeClient(),
    sleeps,
    makeClient,
    async [Symbol.asyncDispose]() {
      await emu.close();
    },
  };
}
