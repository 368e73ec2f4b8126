/**
 * `OAuthLoopbackConnector`: Authorization Code + PKCE (S256) against Auth0 with a loopback
 * redirect on 127.0.0.1, as an {@link AuthPort}. PKCE, the authorization URL, the response
 * validation, the form-encoded code exchange and OAuth error parsing come from `oauth4webapi`.
 *
 * A sign-in needs a process that waits for the browser, so the connector is non-blocking by
 * default: `authenticate` returns a stored result or raises {@link AuthChallenge} telling the
 * user to run `mcs auth login`, which calls {@link OAuthLoopbackConnector.login} (blocking).
 * A long-running host (the MCP server) decides per call instead: `blocking` as a function
 * returns a {@link LoopbackSession} for a call that can wait for the user (its `onUrl` gets the
 * URL of each step, aborting its `signal` stops the wait and releases the port, and the call
 * then raises the same challenge as the non-blocking mode), or undefined to stay non-blocking.
 *
 * The URL is always handed to `onUrl` (headless users open it on another machine), and then to
 * `openBrowser` if one is given. The composition root passes `browserOpener` (`./browser.ts`),
 * which opens the browser only when stderr is a terminal and the process already holds run
 * permission for the platform opener (`xdg-open`, `open`, `rundll32`); it never prompts. The
 * least-privilege builds (the `mcs` permission set, the compiled binary) deny `run`, so they
 * print the URL only.
 *
 * Ports: the sign-in names the redirect it listens on, so port 0 (ephemeral) can serve it where
 * the server accepts any port of a registered loopback URL (RFC 8252 section 7.3). The Connected
 * Accounts consent (passthrough mode) cannot: Auth0 redirects it only to a registered Allowed
 * Callback URL, so it needs a fixed `port`, and that one URL
 * ({@link OAuthLoopbackConnector.callbackUrl}, e.g. `http://127.0.0.1:3000/callback`) then serves
 * both steps. With port 0, reading `callbackUrl` (the Auth0 provider does so before it starts a
 * consent) raises a {@link ConfigError} naming the setting to change and the URL to register.
 *
 * @example
 * ```ts
 * import { OAuthLoopbackConnector } from "./connector.ts";
 * const oauth = new OAuthLoopbackConnector({
 *   authorizeUrl: "https://tenant.auth0.com/authorize",
 *   tokenUrl: "https://tenant.auth0.com/oauth/token",
 *   clientId: "abc",
 *   onUrl: (url) => console.error(`Open ${url}`),
 * });
 * const result = await oauth.login({ scope: "gmail" }); // { kind: "credential", ... }
 * ```
 * @module
 */

import type * as OAuth from "oauth4webapi";
import type { CacheStore } from "../../cache/types.ts";
import { ConfigError, McsError, summarizeUpstream } from "../../errors.ts";
import type { FetchLike } from "../../net/types.ts";
import {
  AuthChallenge,
  type AuthPort,
  type AuthRequest,
  type AuthResult,
  type AuthStep,
} from "../types.ts";
import { startCallbackServer } from "./callback_server.ts";

/** Options. */
export interface OAuthLoopbackOptions {
  authorizeUrl: string;
  tokenUrl: string;
  clientId: string;
  /** Confidential clients: sent form-encoded (`client_secret_post`). */
  clientSecret?: string;
  /** Issuer for ID token checks (default `<authorize origin>/`, Auth0's form). */
  issuer?: string;
  /** Default `openid profile email offline_access`. */
  scope?: string;
  /** Extra authorize parameters (e.g. `audience`). */
  extraParams?: Record<string, string>;
  /**
   * Loopback port (default 0: ephemeral, which serves login only). The consent redirect
   * (passthrough) needs a fixed port whose callback URL is registered at the server.
   */
  port?: number;
  /**
   * The setting behind `port`, named in the error raised when a consent needs a fixed port
   * (e.g. `{ env: "MCS_AUTH0_CALLBACK_PORT", flag: "--callback-port" }`), and the port that error
   * suggests (default 3000).
   */
  portSetting?: { name?: string; env?: string; flag?: string; suggested?: number };
  callbackPath?: string;
  redirectHost?: "127.0.0.1" | "localhost";
  /** How long to wait for the browser (default 300 000 ms). */
  timeoutMs?: number;
  /** Always called with the URL to open (default: print to stderr). */
  onUrl?: (url: string) => void;
  /**
   * Optional browser opener, called after `onUrl`; failures are ignored (the URL was printed).
   * See `browserOpener` (`./browser.ts`) for one that opens only when it can, without prompting.
   */
  openBrowser?: (url: string) => unknown;
  fetch?: FetchLike;
  /** Where results are kept for later non-blocking calls (optional). */
  cache?: CacheStore;
  /** What login yields (default `refresh_token`). */
  credential?: "refresh_token" | "access_token";
  /**
   * Make `authenticate` itself block: `true` always (what `mcs auth login` does), or per call
   * when a function returns a {@link LoopbackSession} (what the MCP server does).
   */
  blocking?: boolean | (() => LoopbackSession | undefined);
  now?: () => number;
}

/**
 * One call's blocking sign-in (see `blocking`): where each step's URL goes, and how to stop.
 */
export interface LoopbackSession {
  /** Gets the URL the user opens, with the step it is for (instead of `onUrl`, no browser). */
  onUrl(url: string, step: AuthStep): void;
  /**
   * Aborting stops the wait for the callback and releases the port; the call then raises the
   * non-blocking {@link AuthChallenge}.
   */
  signal?: AbortSignal;
  /** How long to wait for the browser (default: the connector's `timeoutMs`). */
  timeoutMs?: number;
}

const DEFAULT_SCOPE = "openid profile email offline_access";

/** The loopback connector. */
export class OAuthLoopbackConnector implements AuthPort {
  #o: OAuthLoopbackOptions;
  #as: OAuth.AuthorizationServer;
  #client: OAuth.Client;
  #now: () => number;
  /** Blocking sign-ins in progress (per-call sessions), by scope and URL. */
  #waits = new Map<string, { promise: Promise<AuthResult>; signal?: AbortSignal }>();

  constructor(options: OAuthLoopbackOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    let authorize: URL;
    try {
      authorize = new URL(options.authorizeUrl);
      new URL(options.tokenUrl);
    } catch {
      throw new ConfigError(
        "oauth_url_invalid",
        "The OAuth authorize or token URL is not a valid URL.",
      );
    }
    this.#as = {
      issuer: options.issuer ?? `${authorize.origin}/`,
      authorization_endpoint: options.authorizeUrl,
      token_endpoint: options.tokenUrl,
    };
    this.#client = { client_id: options.clientId };
  }

  /**
   * The redirect URI consent redirects come back to: `http://127.0.0.1:<port>/callback`, the
   * same one login uses on a fixed port.
   * @throws {ConfigError} `oauth_callback_port_required` when the port is 0 (ephemeral): a
   * consent redirect must be a registered Allowed Callback URL, which an ephemeral port is not.
   */
  get callbackUrl(): string {
    if (!this.#o.port) throw this.#fixedPortRequired();
    return this.#urlFor(this.#o.port);
  }

  #urlFor(port: number): string {
    return `http://${this.#o.redirectHost ?? "127.0.0.1"}:${port}${
      this.#o.callbackPath ?? "/callback"
    }`;
  }

  #fixedPortRequired(): ConfigError {
    const setting = this.#o.portSetting ?? {};
    const suggested = setting.suggested ?? 3000;
    const url = this.#urlFor(suggested);
    const how = setting.env && setting.flag
      ? `Set ${setting.env} (or pass ${setting.flag})`
      : setting.env
      ? `Set ${setting.env}`
      : "Configure a fixed callback port";
    return new ConfigError(
      "oauth_callback_port_required",
      "Connecting the account needs a fixed loopback callback port, but it is 0 (ephemeral): " +
        "the consent may only redirect to a registered Allowed Callback URL. " +
        `${how} to a free port, e.g. ${suggested}, and add ${url} to the application's ` +
        "Allowed Callback URLs (that one URL serves both sign-in and consent).",
      {
        details: {
          ...(setting.name ? { setting: setting.name } : {}),
          ...(setting.env ? { env: setting.env } : {}),
          ...(setting.flag ? { flag: setting.flag } : {}),
          callback_url: url,
        },
      },
    );
  }

  /** Non-blocking unless `blocking` is set: a stored result, or a challenge to run the login. */
  async authenticate(request: AuthRequest): Promise<AuthResult> {
    // Say now, not after `mcs auth login` fails, that this consent cannot come back.
    if (request.url !== undefined && !this.#o.port) throw this.#fixedPortRequired();
    if (request.url === undefined) {
      const stored = await this.#o.cache?.get<AuthResult>(this.#key(request.scope));
      if (stored) return stored;
    }
    const blocking = this.#o.blocking;
    const session = typeof blocking === "function" ? blocking() : undefined;
    if (session) return await this.#sessionLogin(request, session);
    if (blocking === true) return await this.login(request);
    throw this.#challenge(request);
  }

  /**
   * A per-call blocking sign-in. Parts of one call (the token and the account identity) and
   * parallel calls ask at once: one callback server and one URL per step, the others join it.
   * A wait its owner stopped (declined, cancelled) is not joined: once it has released the
   * port, the next caller starts its own.
   */
  async #sessionLogin(request: AuthRequest, session: LoopbackSession): Promise<AuthResult> {
    const key = `${request.scope}\n${request.url ?? ""}`;
    for (let current = this.#waits.get(key); current; current = this.#waits.get(key)) {
      try {
        return await current.promise;
      } catch (e) {
        if (!current.signal?.aborted) throw e;
        if (this.#waits.get(key) === current) this.#waits.delete(key);
      }
      if (session.signal?.aborted) throw this.#challenge(request);
    }
    // Stopped, or no callback in time: the call ends with the challenge a later call continues.
    const promise = this.login(request, session).catch((e) => {
      const expired = e instanceof McsError && e.code === "oauth_callback_timeout";
      throw session.signal?.aborted || expired ? this.#challenge(request) : e;
    });
    const entry = { promise, signal: session.signal };
    this.#waits.set(key, entry);
    const forget = () => {
      if (this.#waits.get(key) === entry) this.#waits.delete(key);
    };
    promise.then(forget, forget);
    return await promise;
  }

  /** What a call that cannot wait for the user raises. */
  #challenge(request: AuthRequest): AuthChallenge {
    return new AuthChallenge({
      message: request.url === undefined
        ? `Sign-in required for "${request.scope}": run \`mcs auth login\` and complete the sign-in in a browser.`
        : `Account connection required for "${request.scope}": run \`mcs auth login\` and complete the consent in a browser.`,
      scope: request.scope,
      step: request.step ?? (request.url === undefined ? "login" : "connect"),
    });
  }

  /**
   * Blocking: run the browser flow now (login, or passthrough when `request.url` is set). With
   * a `session`, its `onUrl` gets the URL and its `signal` cancels the wait.
   */
  async login(request: AuthRequest, session?: LoopbackSession): Promise<AuthResult> {
    session?.signal?.throwIfAborted();
    const passthrough = request.url !== undefined;
    if (passthrough && !this.#o.port) throw this.#fixedPortRequired();
    if (passthrough && request.state === undefined) {
      throw new McsError(
        "oauth_state_required",
        "A consent redirect can only be captured with the state value it will carry.",
      );
    }
    // oauth4webapi is a side file of the bundle (lib/build/layout.ts): loaded on first use only.
    const oauth: typeof OAuth = await import("oauth4webapi");
    const state = passthrough ? request.state! : oauth.generateRandomState();
    const server = await startCallbackServer({
      port: this.#o.port,
      path: this.#o.callbackPath,
      redirectHost: this.#o.redirectHost,
      state,
      timeoutMs: session?.timeoutMs ?? this.#o.timeoutMs,
    });
    const cancel = () => server.close().catch(() => {});
    session?.signal?.addEventListener("abort", cancel, { once: true });
    try {
      const verifier = oauth.generateRandomCodeVerifier();
      let target: string;
      if (passthrough) {
        target = request.url!;
      } else {
        const url = new URL(this.#as.authorization_endpoint!);
        const params = {
          response_type: "code",
          client_id: this.#client.client_id,
          redirect_uri: server.redirectUri,
          scope: this.#o.scope ?? DEFAULT_SCOPE,
          state,
          code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: "S256",
          ...this.#o.extraParams,
          ...request.authorizeParams,
        };
        for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
        target = url.href;
      }
      if (session) {
        session.onUrl(target, request.step ?? (passthrough ? "connect" : "login"));
      } else {
        (this.#o.onUrl ??
          ((u) => console.error(`Open this URL in a browser to continue:\n  ${u}`)))(target);
        try {
          await this.#o.openBrowser?.(target);
        } catch {
          // The URL was printed; a missing opener is not an error.
        }
      }
      const params = await server.result;
      if (passthrough) return this.#captured(params, request);
      return await this.#exchange(request, params, state, server.redirectUri, verifier);
    } finally {
      session?.signal?.removeEventListener("abort", cancel);
      await server.close();
    }
  }

  async invalidate(scope: string): Promise<void> {
    await this.#o.cache?.delete(this.#key(scope));
  }

  #captured(params: URLSearchParams, request: AuthRequest): AuthResult {
    if (params.has("error")) {
      throw new McsError(
        "oauth_consent_denied",
        `The consent was not granted (${
          summarizeUpstream({
            error: params.get("error"),
            error_description: params.get("error_description") ?? undefined,
          })
        }).`,
      );
    }
    const out: Record<string, string> = {};
    const names = request.callbackParams?.length ? request.callbackParams : ["code"];
    for (const name of names) {
      const value = params.get(name);
      if (value) out[name] = value;
    }
    if (Object.keys(out).length === 0) {
      throw new McsError(
        "oauth_callback_incomplete",
        `The consent redirect carried none of ${names.join(", ")}.`,
      );
    }
    return { kind: "callback", params: out };
  }

  async #exchange(
    request: AuthRequest,
    callback: URLSearchParams,
    state: string,
    redirectUri: string,
    verifier: string,
  ): Promise<AuthResult> {
    const oauth: typeof OAuth = await import("oauth4webapi");
    let tokens: OAuth.TokenEndpointResponse;
    try {
      const params = oauth.validateAuthResponse(this.#as, this.#client, callback, state);
      const fetchImpl = this.#o.fetch ?? ((input, init) => globalThis.fetch(input, init));
      const response = await oauth.authorizationCodeGrantRequest(
        this.#as,
        this.#client,
        this.#o.clientSecret ? oauth.ClientSecretPost(this.#o.clientSecret) : oauth.None(),
        params,
        redirectUri,
        verifier,
        {
          [oauth.customFetch]: (url, init) =>
            fetchImpl(url, { ...init, idempotent: false, retries: 0 } as RequestInit),
          [oauth.allowInsecureRequests]: isLoopbackHttp(this.#as.token_endpoint!),
        },
      );
      tokens = await oauth.processAuthorizationCodeResponse(this.#as, this.#client, response);
    } catch (e) {
      if (e instanceof oauth.AuthorizationResponseError) {
        throw new McsError(
          "oauth_authorization_failed",
          `The sign-in was not completed (${
            summarizeUpstream({ error: e.error, error_description: e.error_description })
          }).`,
          "runtime",
          { cause: e },
        );
      }
      if (e instanceof oauth.ResponseBodyError) {
        throw new McsError(
          "oauth_token_exchange_failed",
          `The authorization code could not be exchanged (${
            summarizeUpstream({ error: e.error, error_description: e.error_description })
          }).`,
          "runtime",
          { cause: e, details: { status: e.status } },
        );
      }
      if (e instanceof McsError) throw e;
      throw new McsError(
        "oauth_token_exchange_failed",
        "The authorization code could not be exchanged (invalid token response).",
        "runtime",
        { cause: e, retryable: true },
      );
    }
    let result: AuthResult;
    if ((this.#o.credential ?? "refresh_token") === "refresh_token") {
      if (!tokens.refresh_token) {
        throw new McsError(
          "oauth_no_refresh_token",
          "The sign-in succeeded but no refresh token was issued. Request the offline_access scope and enable 'Allow Offline Access' on the Auth0 API.",
        );
      }
      result = {
        kind: "credential",
        credential: { kind: "refresh_token", value: tokens.refresh_token },
      };
    } else {
      const expiresAt = typeof tokens.expires_in === "number"
        ? this.#now() + tokens.expires_in * 1000
        : undefined;
      result = {
        kind: "credential",
        credential: {
          kind: "access_token",
          value: tokens.access_token,
          expiresAt,
          scopes: tokens.scope?.split(" ").filter(Boolean),
        },
        expiresIn: tokens.expires_in,
      };
    }
    const exp = result.credential.kind === "access_token" ? result.credential.expiresAt : undefined;
    await this.#o.cache?.set(this.#key(request.scope), result, { expiresAt: exp });
    return result;
  }

  #key(scope: string): string {
    return `oauth/result/login.${encodeURIComponent(scope)}`;
  }
}

function isLoopbackHttp(url: string): boolean {
  const u = new URL(url);
  return u.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
}
