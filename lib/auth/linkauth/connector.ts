/**
 * `LinkAuthConnector`: the agent side of a LinkAuth v0.2 broker, as a stateless {@link AuthPort}.
 *
 * Every call is a fresh process, so everything lives in the cache store: the agent's RSA key
 * (generated lazily), each open session (ids, poll token, `expires_at`, `interval` and the
 * earliest next poll) and received login results. A call either returns the result, or throws
 * {@link AuthChallenge} with the URL and code; running the same command later picks the result
 * up. Terminal broker states (`consumed`, 404, local expiry, an envelope that does not decrypt)
 * drop the session and raise a *new* challenge, so a dead URL is never shown twice. A call made
 * before the next poll is due (a rerun right after the person finished) waits out the rest of
 * the interval (at most one interval) and polls, so it returns the result instead of the
 * challenge the person just completed. Parallel
 * processes (an agent running several tools at once) share one session per slot: creating and
 * polling run under a cross-process lease (`../lease.ts`), so they all show the same code and
 * completing it is never ignored.
 *
 * @example
 * ```ts
 * import { LinkAuthConnector } from "./connector.ts";
 * import type { CacheStore } from "../../cache/types.ts";
 * async function login(cache: CacheStore) {
 *   const linkauth = new LinkAuthConnector({ brokerUrl: "https://broker.example", cache });
 *   const result = await linkauth.authenticate({ scope: "gmail" }); // throws AuthChallenge first
 *   if (result.kind === "credential") return result.credential; // { kind: "refresh_token", ... }
 * }
 * ```
 * @module
 */

import type { CacheStore } from "../../cache/types.ts";
import { ConfigError, McsError } from "../../errors.ts";
import type { FetchLike } from "../../net/types.ts";
import {
  AuthChallenge,
  type AuthPort,
  type AuthRequest,
  type AuthResult,
  type AuthStep,
  type Credential,
} from "../types.ts";
import { decryptEnvelope, ENVELOPE_ALGORITHM, EnvelopeError } from "./crypto.ts";
import { AgentKeyStore } from "./keystore.ts";
import { withLease } from "../lease.ts";
import {
  apiKeyError,
  type BrokerError,
  brokerUnreachable,
  type CreatedSession,
  type CreateSessionBody,
  describeBrokerError,
  type PollBody,
  readBrokerError,
  SLOW_DOWN_TYPE,
} from "./wire.ts";

/** How the login session is set up at the broker. */
export interface LinkAuthLoginOptions {
  /** OAuth provider id configured at the broker (default `"auth0"`); `null` for a form template. */
  oauthProvider?: string | null;
  /** Scopes requested at the provider (default `openid profile email offline_access`). */
  scopes?: readonly string[];
  /** Extra authorize parameters (e.g. `audience`). Merged with `AuthRequest.authorizeParams`. */
  extraParams?: Record<string, string>;
  /** Template id when `oauthProvider` is null (e.g. `"api_key"`). */
  template?: string;
  /** Name shown on the connect page (default `mcs: access for <scope>`). */
  displayName?: string;
  /** Access-token mode: the decrypted field holding the token (default `access_token`). */
  tokenField?: string;
}

/** Constructor options. */
export interface LinkAuthConnectorOptions {
  /** Broker base URL, e.g. `https://broker.linkauth.io` (a trailing `/` is ignored). */
  brokerUrl: string;
  /** Sent as `X-API-Key` when set. */
  apiKey?: string;
  /** Where keys, sessions and results live between processes. */
  cache: CacheStore;
  fetch?: FetchLike;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** What login mode yields: a refresh token (`auth0-linkauth`, default) or an access token. */
  credential?: "refresh_token" | "access_token";
  login?: LinkAuthLoginOptions;
  /**
   * Provider named in passthrough sessions so the stock connect page shows "Continue"
   * (default: the login provider). `null` sends none.
   */
  passthroughProvider?: string | null;
  /** Requested session TTL in seconds (the broker caps it; default: the broker's). */
  ttlS?: number;
  /** Block up to `deadlineMs` polling until done (interactive use). Default: challenge at once. */
  wait?: { deadlineMs: number };
  /** Called once per new URL/code while blocking in `wait` mode, so the user sees it. */
  onChallenge?: (challenge: AuthChallenge) => void;
  /** Extra delay on top of `interval` between polls (default 500 ms). */
  pollMarginMs?: number;
  /** Cache key namespace (default `linkauth`). */
  namespace?: string;
}

/** An open broker session as persisted between processes. */
export interface StoredSession {
  readonly session_id: string;
  readonly code: string;
  readonly url: string;
  readonly poll_token: string;
  readonly expires_at: string;
  /** Current poll interval in seconds (raised by slow_down). */
  readonly interval: number;
  /** `expires_at` as epoch ms. */
  readonly expiresAtMs: number;
  /** Earliest epoch ms at which the next poll may be sent. */
  readonly nextPollAt: number;
  readonly step: AuthStep;
  readonly scope: string;
}

interface StoredResult {
  readonly result: AuthResult;
}

const DEFAULT_SCOPES = ["openid", "profile", "email", "offline_access"];

/**
 * Lease on a slot's broker traffic: longer than its worst case (a poll, then key generation and
 * a session creation, each request bounded by a 15 s timeout), after which a waiter may take
 * over from a holder that died.
 */
const LEASE_MS = 45_000;

/**
 * Longest wait for a poll that is not yet due: a slowed-down interval (the broker's default
 * `interval + 5` = 10 s) plus the margin. A stored session's own interval may be longer.
 */
const MAX_DUE_WAIT_MS = 11_000;

/** The LinkAuth connector. */
export class LinkAuthConnector implements AuthPort {
  readonly callbackUrl: string;
  #broker: string;
  #opts: LinkAuthConnectorOptions;
  #fetch: FetchLike;
  #now: () => number;
  #sleep: (ms: number) => Promise<void>;
  #keys: AgentKeyStore;
  #ns: string;

  constructor(options: LinkAuthConnectorOptions) {
    let base: URL;
    try {
      base = new URL(options.brokerUrl);
    } catch {
      throw new ConfigError(
        "linkauth_broker_url_invalid",
        "The LinkAuth broker URL is not a valid URL.",
      );
    }
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new ConfigError(
        "linkauth_broker_url_invalid",
        "The LinkAuth broker URL must be http(s).",
      );
    }
    if (options.ttlS !== undefined && (!Number.isInteger(options.ttlS) || options.ttlS <= 0)) {
      // The real broker accepts a negative TTL and creates an already-expired session.
      throw new ConfigError(
        "linkauth_ttl_invalid",
        "The LinkAuth session TTL must be a positive whole number of seconds.",
      );
    }
    this.#broker = options.brokerUrl.replace(/\/+$/, "");
    this.callbackUrl = `${this.#broker}/v1/oauth/callback`;
    this.#opts = options;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#ns = options.namespace ?? "linkauth";
    this.#keys = new AgentKeyStore(options.cache, `${this.#ns}/agent_key`);
  }

  /**
   * Login mode (no `url`, no `state`): returns the credential once the user signed in at the
   * broker. Passthrough mode (`url` and/or `state` set; the session is keyed by `state`): returns
   * the captured callback parameters. A passthrough *poll* (`state` without `url`) whose session
   * is gone (expired, never created here, already handed out) returns empty parameters: the
   * caller's flow is dead and must be started again with a `url`.
   * @throws {AuthChallenge} while the user still has to act (a new one after terminal states).
   */
  async authenticate(request: AuthRequest): Promise<AuthResult> {
    if (!this.#opts.wait) return await this.#once(request);
    const deadline = this.#now() + this.#opts.wait.deadlineMs;
    let announced: string | undefined;
    for (;;) {
      try {
        return await this.#once(request);
      } catch (e) {
        if (!(e instanceof AuthChallenge)) throw e;
        if (e.userCode !== announced) {
          announced = e.userCode;
          this.#opts.onChallenge?.(e);
        }
        const remaining = deadline - this.#now();
        if (remaining <= 0) throw e;
        await this.#sleep(Math.min(remaining, Math.max(250, (e.retryAfterS ?? 1) * 1000)));
      }
    }
  }

  /** Drop every stored result for `scope`, so a dead refresh token is never handed back. */
  async invalidate(scope: string): Promise<void> {
    const cache = this.#opts.cache;
    await cache.delete(this.#resultKey(this.#slot({ scope })));
    for (const key of await cache.keys(`${this.#ns}/result/connect.${enc(scope)}.`)) {
      await cache.delete(key);
    }
  }

  /** The open session for a request, if any (diagnostics: `mcs auth status`). */
  async pendingSession(request: AuthRequest): Promise<StoredSession | undefined> {
    return await this.#opts.cache.get<StoredSession>(this.#sessionKey(await this.#slotOf(request)));
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * One step. Answers from the cache alone while the session is not due; anything that talks
   * to the broker (create, poll, and the restart after a dead session) runs under the slot's
   * cross-process lease (see `#locked`).
   */
  async #once(request: AuthRequest): Promise<AuthResult> {
    const cache = this.#opts.cache;
    const slot = await this.#slotOf(request);
    const stored = await cache.get<StoredResult>(this.#resultKey(slot));
    if (stored) return stored.result;
    const seen = await cache.get<StoredSession>(this.#sessionKey(slot));
    const now = this.#now();
    if (seen && seen.expiresAtMs > now && seen.nextPollAt > now) {
      // Not due yet. The person may have finished the step since the last poll (a rerun right
      // after they did), so showing the stored challenge again could show a dead URL: wait out
      // the rest of the interval, then poll. The wait is bounded (a stored slot further out,
      // e.g. after the clock went back, is shown as it is).
      const wait = seen.nextPollAt - now;
      if (wait > Math.max(seen.interval * 1000 + this.#margin, MAX_DUE_WAIT_MS)) {
        throw this.#challenge(seen, request, undefined);
      }
      await this.#sleep(wait);
    }
    return await this.#locked(slot, () => this.#step(request, slot, seen !== undefined));
  }

  /**
   * Run `fn` holding the slot's lease. Parallel processes (an agent running several tools at
   * once) must not each create a session: the user would see several codes, and only the one
   * stored last would ever be polled, so completing any other would be silently ignored. Nor
   * should they each poll: only one of them would receive the one-time result. Under the lease
   * ({@link withLease}: the store lock is held only to claim and release it, never across a
   * broker request; see there why) the first process creates or polls; the others wait, then
   * re-read the slot and show the same URL and code, or pick up the stored result.
   */
  async #locked(slot: string, fn: () => Promise<AuthResult>): Promise<AuthResult> {
    return await withLease(this.#opts.cache, `${this.#ns}/lease/${slot}`, fn, {
      ttlMs: LEASE_MS,
    });
  }

  /** Under the lease: re-read the slot, then create a session, poll it, or show it. */
  async #step(request: AuthRequest, slot: string, hadSession: boolean): Promise<AuthResult> {
    const cache = this.#opts.cache;
    const done = await cache.get<StoredResult>(this.#resultKey(slot));
    if (done) return done.result;
    const now = this.#now();
    const current = await cache.get<StoredSession>(this.#sessionKey(slot));
    if (!current || current.expiresAtMs <= now) {
      return await this.#restart(
        request,
        slot,
        current || hadSession ? "The previous sign-in link has expired." : undefined,
        current?.session_id,
      );
    }
    // Not due: another process polled while this one waited, after this call began, and its
    // answer was not `ready` (that would be stored above), so this challenge is current.
    if (current.nextPollAt > now) throw this.#challenge(current, request, undefined);
    // The next poll slot is stored only once this poll has its answer: until then the session
    // reads as due, so a parallel process queues on the lease and then sees the outcome (the
    // result, or the same challenge) instead of answering from the cache with a code that may
    // just have been completed.
    const claimed = { ...current, nextPollAt: now + current.interval * 1000 + this.#margin };
    try {
      return await this.#poll(request, slot, claimed);
    } finally {
      await cache.update<StoredSession>(
        this.#sessionKey(slot),
        (s) =>
          s?.session_id === claimed.session_id && s.nextPollAt < claimed.nextPollAt
            ? { value: { ...s, nextPollAt: claimed.nextPollAt }, expiresAt: s.expiresAtMs }
            : { value: s, expiresAt: s?.expiresAtMs },
      );
    }
  }

  async #poll(request: AuthRequest, slot: string, session: StoredSession): Promise<AuthResult> {
    const res = await this.#call(`/v1/sessions/${encodeURIComponent(session.session_id)}`, {
      method: "GET",
      headers: { ...this.#apiKeyHeader(), authorization: `Bearer ${session.poll_token}` },
      // A poll is not idempotent: a `ready` answer is handed out exactly once.
      idempotent: false,
      retries: 0,
    });
    if (res.ok) {
      let body: PollBody;
      try {
        body = await res.json();
      } catch (cause) {
        throw new McsError(
          "linkauth_broker_error",
          "The LinkAuth broker sent an unreadable poll answer.",
          "runtime",
          { retryable: true, cause },
        );
      }
      if (body.status === "ready") return await this.#ready(request, slot, session, body);
      if (body.status === "consumed" || body.status === "expired") {
        return await this.#restart(
          request,
          slot,
          "The previous sign-in link was already used or has expired.",
          session.session_id,
        );
      }
      if (
        typeof body.interval === "number" && body.interval > 0 && body.interval !== session.interval
      ) {
        session = await this.#saveInterval(slot, session, body.interval);
      }
      throw this.#challenge(session, request, undefined);
    }
    const err = await readBrokerError(res);
    if (res.status === 404) {
      return await this.#restart(
        request,
        slot,
        "The previous sign-in link has expired.",
        session.session_id,
      );
    }
    if (res.status === 429) {
      const interval = err.type === SLOW_DOWN_TYPE && err.interval && err.interval > 0
        ? err.interval
        : session.interval + 5;
      throw this.#challenge(await this.#saveInterval(slot, session, interval), request, undefined);
    }
    if (res.status === 401 || res.status === 403) {
      if (err.shape === "api_key") throw this.#apiKeyError(err);
      await this.#drop(slot, session.session_id);
      throw new ConfigError(
        "linkauth_poll_rejected",
        `The LinkAuth broker rejected the poll token (${
          describeBrokerError(err)
        }). The session was ` +
          "dropped; check that MCS_LINKAUTH_BROKER_URL points at the broker that issued it and try again.",
      );
    }
    throw this.#brokerError("poll", err);
  }

  async #ready(
    request: AuthRequest,
    slot: string,
    session: StoredSession,
    body: PollBody,
  ): Promise<AuthResult> {
    const cache = this.#opts.cache;
    if (body.algorithm !== ENVELOPE_ALGORITHM) {
      return await this.#restart(
        request,
        slot,
        `The broker returned a credential in an unsupported format (algorithm ${
          JSON.stringify(String(body.algorithm).slice(0, 40))
        }); it was discarded.`,
        session.session_id,
      );
    }
    const key = await this.#keys.get();
    let plaintext: unknown;
    try {
      if (!key) {
        throw new EnvelopeError("unwrap_failed", "The agent key is missing from the cache.");
      }
      if (typeof body.ciphertext !== "string") {
        throw new EnvelopeError("malformed", "No ciphertext.");
      }
      plaintext = await decryptEnvelope(key.privateKey, body.ciphertext);
    } catch (e) {
      if (!(e instanceof EnvelopeError)) throw e;
      return await this.#restart(
        request,
        slot,
        `The credential from the broker could not be decrypted (${e.message}); it was discarded.`,
        session.session_id,
      );
    }
    let result: AuthResult;
    try {
      result = this.#toResult(request, plaintext);
    } catch (e) {
      await this.#drop(slot, session.session_id);
      throw e;
    }
    if (result.kind === "credential") {
      const exp = result.credential.kind === "access_token"
        ? result.credential.expiresAt
        : undefined;
      await cache.set<StoredResult>(this.#resultKey(slot), { result }, { expiresAt: exp });
    }
    await this.#drop(slot, session.session_id);
    return result;
  }

  #toResult(request: AuthRequest, plaintext: unknown): AuthResult {
    if (!plaintext || typeof plaintext !== "object" || Array.isArray(plaintext)) {
      throw new McsError(
        "linkauth_result_invalid",
        "The decrypted broker result is not an object.",
      );
    }
    const fields = plaintext as Record<string, unknown>;
    if (isPassthrough(request)) {
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(fields)) if (typeof v === "string") params[k] = v;
      const wanted = request.callbackParams ?? [];
      if (wanted.length > 0 && wanted.every((name) => !params[name])) {
        throw new McsError(
          "linkauth_callback_incomplete",
          `The consent redirect carried none of ${wanted.join(", ")}; the consent was probably ` +
            "declined or interrupted. Run the command again to start over.",
        );
      }
      return { kind: "callback", params };
    }
    const receivedAt = this.#now();
    if ((this.#opts.credential ?? "refresh_token") === "refresh_token") {
      if (typeof fields.refresh_token !== "string" || !fields.refresh_token) {
        throw new McsError(
          "linkauth_no_refresh_token",
          "The sign-in succeeded but no refresh token was issued. Request the offline_access " +
            "scope and enable 'Allow Offline Access' on the Auth0 API, then run the command again.",
        );
      }
      return {
        kind: "credential",
        credential: { kind: "refresh_token", value: fields.refresh_token },
      };
    }
    const field = this.#opts.login?.tokenField;
    const strings = Object.entries(fields).filter(([, v]) => typeof v === "string" && v);
    const value = field
      ? fields[field]
      : typeof fields.access_token === "string"
      ? fields.access_token
      : strings.length === 1
      ? strings[0][1]
      : undefined;
    if (typeof value !== "string" || !value) {
      throw new McsError(
        "linkauth_no_access_token",
        `The broker result has no ${field ?? "access_token"} field (fields: ${
          Object.keys(fields).join(", ")
        }). Set the LinkAuth token field in the configuration.`,
      );
    }
    let expiresAt: number | undefined;
    if (typeof fields.expires_at === "number") expiresAt = fields.expires_at * 1000;
    else if (typeof fields.expires_in === "number") {
      expiresAt = receivedAt + fields.expires_in * 1000;
    }
    const scopes = typeof fields.scope === "string"
      ? fields.scope.split(" ").filter(Boolean)
      : undefined;
    const credential: Credential = { kind: "access_token", value, expiresAt, scopes };
    return {
      kind: "credential",
      credential,
      expiresIn: expiresAt === undefined
        ? undefined
        : Math.max(0, Math.floor((expiresAt - receivedAt) / 1000)),
    };
  }

  /**
   * Under the slot's lease: replace its session (`dead`: the id found dead, if any) with a new
   * one and raise its challenge. A passthrough poll without a `url` cannot create one: it
   * reports the flow as gone (no parameters).
   */
  async #restart(
    request: AuthRequest,
    slot: string,
    reason: string | undefined,
    dead: string | undefined,
  ): Promise<AuthResult> {
    if (isPassthrough(request) && request.url === undefined) {
      await this.#drop(slot, dead);
      return { kind: "callback", params: {} };
    }
    const cache = this.#opts.cache;
    const live = (s: StoredSession | undefined): s is StoredSession =>
      !!s && s.session_id !== dead && s.expiresAtMs > this.#now();
    const fresh = await this.#create(request);
    // Compare-and-set: a holder that overran its lease may have stored one meanwhile; then ours
    // is dropped unseen and theirs is the one shown (never two live codes).
    const kept = (await cache.update<StoredSession>(
      this.#sessionKey(slot),
      (s) =>
        live(s)
          ? { value: s, expiresAt: s.expiresAtMs }
          : { value: fresh, expiresAt: fresh.expiresAtMs },
    ))!;
    throw this.#challenge(kept, request, kept.session_id === fresh.session_id ? reason : undefined);
  }

  /** Remove the slot's session if it is still `id` (or has expired); keep a newer one. */
  async #drop(slot: string, id: string | undefined): Promise<void> {
    const now = this.#now();
    await this.#opts.cache.update<StoredSession>(
      this.#sessionKey(slot),
      (s) =>
        s && s.session_id !== id && s.expiresAtMs > now
          ? { value: s, expiresAt: s.expiresAtMs }
          : { value: undefined },
    );
  }

  async #create(request: AuthRequest): Promise<StoredSession> {
    const key = await this.#keys.getOrCreate(this.#now());
    const login = this.#opts.login ?? {};
    const step: AuthStep = request.step ?? (isPassthrough(request) ? "connect" : "login");
    const body: CreateSessionBody = {
      public_key: key.spki,
      display_name: login.displayName ?? `mcs: access for ${request.scope}`,
    };
    if (this.#opts.ttlS) body.ttl = this.#opts.ttlS;
    if (request.url !== undefined) {
      const provider = this.#opts.passthroughProvider === undefined
        ? (login.oauthProvider === undefined ? "auth0" : login.oauthProvider)
        : this.#opts.passthroughProvider;
      if (provider) body.oauth_provider = provider;
      else body.template = "custom";
      body.custom_authorize_url = request.url;
      body.custom_callback_params = [...(request.callbackParams ?? [])];
      if (request.state !== undefined) body.custom_state = request.state;
    } else {
      const provider = login.oauthProvider === undefined ? "auth0" : login.oauthProvider;
      if (provider) {
        body.oauth_provider = provider;
        body.oauth_scopes = [...(login.scopes ?? DEFAULT_SCOPES)];
        const extra = { ...login.extraParams, ...request.authorizeParams };
        if (Object.keys(extra).length) body.oauth_extra_params = extra;
        if (login.template) body.template = login.template;
      } else {
        body.template = login.template ?? "api_key";
      }
    }
    const res = await this.#call("/v1/sessions", {
      method: "POST",
      headers: { ...this.#apiKeyHeader(), "content-type": "application/json" },
      body: JSON.stringify(body),
      idempotent: false,
      retries: 0,
    });
    if (res.status !== 201 && res.status !== 200) {
      const err = await readBrokerError(res);
      if (err.shape === "api_key" || res.status === 401 || res.status === 403) {
        throw this.#apiKeyError(err);
      }
      if (res.status === 400) {
        throw new ConfigError(
          "linkauth_session_rejected",
          `The LinkAuth broker refused to create a session (${
            describeBrokerError(err)
          }). Check the broker's provider configuration.`,
        );
      }
      throw this.#brokerError("session creation", err);
    }
    let created: CreatedSession;
    try {
      created = await res.json();
    } catch (cause) {
      throw new McsError(
        "linkauth_broker_error",
        "The LinkAuth broker sent an unreadable session.",
        "runtime",
        { retryable: true, cause },
      );
    }
    const now = this.#now();
    const ok = typeof created?.session_id === "string" && typeof created.code === "string" &&
      typeof created.url === "string" && typeof created.poll_token === "string";
    if (!ok) {
      throw new McsError(
        "linkauth_broker_error",
        "The LinkAuth broker's session answer lacks required fields.",
        "runtime",
        { retryable: true },
      );
    }
    const parsed = Date.parse(created.expires_at);
    const interval = typeof created.interval === "number" && created.interval > 0
      ? created.interval
      : 5;
    return {
      session_id: created.session_id,
      code: created.code,
      url: created.url,
      poll_token: created.poll_token,
      expires_at: created.expires_at,
      interval,
      expiresAtMs: Number.isFinite(parsed) ? parsed : now + 600_000,
      nextPollAt: now + interval * 1000 + this.#margin,
      step,
      scope: request.scope,
    };
  }

  async #saveInterval(
    slot: string,
    session: StoredSession,
    interval: number,
  ): Promise<StoredSession> {
    const updated: StoredSession = {
      ...session,
      interval,
      nextPollAt: this.#now() + interval * 1000 + this.#margin,
    };
    await this.#opts.cache.update<StoredSession>(
      this.#sessionKey(slot),
      (s) =>
        s && s.session_id === session.session_id
          ? { value: updated, expiresAt: session.expiresAtMs }
          : { value: s, expiresAt: s?.expiresAtMs },
    );
    return updated;
  }

  #challenge(
    session: StoredSession,
    request: AuthRequest,
    reason: string | undefined,
  ): AuthChallenge {
    const what = session.step === "connect"
      ? `To connect your account for "${request.scope}"`
      : `To sign in for "${request.scope}"`;
    const until = new Date(session.expiresAtMs).toISOString().replace(/\.\d{3}Z$/, "Z");
    const message =
      `${reason ? reason + " " : ""}${what}, open ${session.url} and confirm the code ` +
      `${session.code} (valid until ${until}), then run the same command again.`;
    return new AuthChallenge({
      message,
      url: session.url,
      code: session.code,
      scope: request.scope,
      step: session.step,
      expiresAt: session.expiresAtMs,
      retryAfterS: Math.max(1, Math.ceil((session.nextPollAt - this.#now()) / 1000)),
    });
  }

  async #call(path: string, init: Parameters<FetchLike>[1]): Promise<Response> {
    try {
      return await this.#fetch(`${this.#broker}${path}`, {
        timeoutMs: 15_000,
        ...init,
        redirect: "manual",
      });
    } catch (cause) {
      if (cause instanceof McsError) throw cause;
      throw brokerUnreachable(this.#broker, cause);
    }
  }

  #apiKeyHeader(): Record<string, string> {
    return this.#opts.apiKey ? { "x-api-key": this.#opts.apiKey } : {};
  }

  #apiKeyError(err: BrokerError): ConfigError {
    // A 401 means no key arrived (even when one is configured); a 403, a refused key.
    return apiKeyError(err.status !== 401 && !!this.#opts.apiKey, { status: err.status });
  }

  #brokerError(what: string, err: BrokerError): McsError {
    return new McsError(
      "linkauth_broker_error",
      `The LinkAuth broker failed during ${what} (${describeBrokerError(err)}). Try again later.`,
      "runtime",
      { retryable: err.status >= 500 || err.status === 429, details: { status: err.status } },
    );
  }

  get #margin(): number {
    return this.#opts.pollMarginMs ?? 500;
  }

  #slot(request: Pick<AuthRequest, "scope">): string {
    return `login.${enc(request.scope)}`;
  }

  async #slotOf(request: AuthRequest): Promise<string> {
    if (!isPassthrough(request)) return this.#slot(request);
    const digest = await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(request.state ?? request.url!),
    );
    const hex = Array.from(
      new Uint8Array(digest).subarray(0, 16),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    return `connect.${enc(request.scope)}.${hex}`;
  }

  #sessionKey(slot: string): string {
    return `${this.#ns}/session/${slot}`;
  }

  #resultKey(slot: string): string {
    return `${this.#ns}/result/${slot}`;
  }
}

/** Passthrough (consent relay) rather than login: the request carries a URL or a state. */
function isPassthrough(request: AuthRequest): boolean {
  return request.url !== undefined || request.state !== undefined;
}

function enc(scope: string): string {
  return encodeURIComponent(scope).replace(/\./g, "%2E");
}
