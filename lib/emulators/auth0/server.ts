/**
 * Auth0 tenant emulator: a loopback HTTP(S) server that behaves like a tenant configured for
 * Token Vault (Universal Login stand-in, `/oauth/token` with the authorization-code, refresh
 * (MRRT) and Token Vault grants, the My Account API Connected Accounts flow), with switches that
 * reproduce every checklist misconfiguration and hooks for tests and `mcs dev`.
 *
 * @example
 * ```ts
 * import { startAuth0Emulator } from "./server.ts";
 * const emu = await startAuth0Emulator();
 * const rt = emu.issueRefreshToken();          // a pre-stored refresh token for ada@example.com
 * emu.connectAccount();                        // skip the consent step
 * emu.config.tokenVaultGrant = false;          // reproduce checklist item 2
 * await emu.close();
 * ```
 * @module
 */
import { GoogleTokenRegistry } from "../google_tokens.ts";
import {
  callbackAllowed,
  createSigner,
  type Ctx,
  type EmulatedClient,
  json,
  problem,
  readParams,
} from "./context.ts";
import { connectApprove, connectPage, handleMyAccount, html } from "./my_account.ts";
import { errorPage, loginPage } from "./pages.ts";
import { TokenBucket } from "./rate_limit.ts";
import {
  ADA,
  type ConnectedAccount,
  defaultGuesses,
  defaultTenantConfig,
  type EmulatedUser,
  type GuessVariants,
  type LoggedRequest,
  randomAlnum,
  randomId,
  type TenantConfig,
  TenantState,
  TOKEN_VAULT_GRANT,
} from "./state.ts";
import { handleRevoke, handleToken, mintGoogle } from "./token.ts";

export { ADA, defaultGuesses, defaultTenantConfig, TOKEN_VAULT_GRANT };
export type { ConnectedAccount, EmulatedUser, GuessVariants, LoggedRequest, TenantConfig };

/** Options of {@link startAuth0Emulator}. */
export interface Auth0EmulatorOptions {
  /** Listen address (default `127.0.0.1`). */
  hostname?: string;
  /** Port (default 0: ephemeral). */
  port?: number;
  /** Serve HTTPS with this PEM certificate and key (e.g. from `createTestCA().issue(...)`). */
  tls?: { cert: string; key: string };
  /** The application's client id (default `mcs-emulator-client`). */
  clientId?: string;
  /** The application's client secret (default `mcs-emulator-secret`). */
  clientSecret?: string;
  /** Exact Allowed Callback URLs (loopback URLs match on any port, RFC 8252). */
  allowedCallbackUrls?: string[];
  /** Accept any loopback `http://127.0.0.1:<port>/<path>` callback (default true). */
  allowLoopbackCallbacks?: boolean;
  /** Tenant switches (defaults: a correctly configured tenant). Mutable later via `config`. */
  config?: Partial<TenantConfig>;
  /** The seeded user (default {@link ADA}, ada@example.com). */
  user?: EmulatedUser;
  /** Variants for what the reference leaves open (GUESSES.md). Mutable later via `guesses`. */
  guesses?: Partial<GuessVariants>;
  /** Shared Google access-token registry (the Gmail emulator validates against it). */
  googleTokens?: GoogleTokenRegistry;
  /** Clock in epoch ms (default `Date.now`); tests advance it to expire tokens and tickets. */
  now?: () => number;
}

/** A request the test hooks can approve like a user clicking "Continue"/"Allow". */
export interface ApproveResult {
  /** The callback URL Auth0 redirected to (carries `code`/`connect_code` and `state`). */
  location: string;
  /** Its query parameters. */
  params: Record<string, string>;
}

/** A running emulator. */
export interface Auth0Emulator {
  /** Base URL, e.g. `http://127.0.0.1:41234` (use as `domain`: a full URL is accepted). */
  readonly url: string;
  /** `${url}/` as in the `iss` claim. */
  readonly issuer: string;
  /** Host and port (what a real tenant's `domain` setting would hold). */
  readonly domain: string;
  /** The My Account API audience, `${url}/me/`. */
  readonly meAudience: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The seeded user. */
  readonly user: EmulatedUser;
  /** Tenant switches, mutable at runtime (`emu.config.tokenVaultGrant = false`). */
  readonly config: TenantConfig;
  /** The variant of each guess, mutable at runtime (`emu.guesses.connectRefusal = "forbidden"`). */
  readonly guesses: GuessVariants;
  /** The shared Google token registry. */
  readonly googleTokens: GoogleTokenRegistry;
  /** Every request served, in order (method, path, grant type, status). */
  readonly requests: readonly LoggedRequest[];
  /** Count requests, optionally only those matching a path and/or grant type. */
  countRequests(filter?: { path?: string; grantType?: string; method?: string }): number;
  /** Forget the request log. */
  resetRequests(): void;
  /**
   * Add an exact Allowed Callback URL at runtime (as editing the application's settings in the
   * dashboard), e.g. a broker's callback known only once the broker listens.
   */
  addCallbackUrl(url: string): void;
  /**
   * Approve an `/authorize` URL or a `connect_uri?ticket=` URL in one step, as if the user had
   * clicked the button; returns the callback location. Throws if the emulator refused it.
   */
  approve(url: string, options?: { deny?: boolean }): Promise<ApproveResult>;
  /**
   * Mint a refresh token for the seeded user directly (the `auth0` pre-stored token path).
   * `authTime` (epoch ms, default now) is when the user logged in.
   */
  issueRefreshToken(
    options?: { scopes?: string[]; audience?: string; authTime?: number; user?: EmulatedUser },
  ): string;
  /** Create a connected account directly (skips /connect and consent). */
  connectAccount(
    options?: { connection?: string; scopes?: string[]; offline?: boolean; user?: EmulatedUser },
  ): ConnectedAccount;
  /** Add another tenant user (for tests with several accounts); logins stay the seeded user's. */
  addUser(user: EmulatedUser): void;
  /** The seeded user's connected accounts. */
  accounts(): readonly ConnectedAccount[];
  /** Revoke every refresh token (the next use gives `invalid_grant`). */
  revokeRefreshTokens(): void;
  /** Drop stored Google access tokens so the next exchange mints (or, if online-only, fails). */
  expireGoogleTokens(): void;
  /**
   * Answer the next `times` requests to `path` with this response instead (e.g. a 429 with
   * `retry-after`, a 503).
   */
  injectResponse(
    path: string,
    response: { status: number; body?: unknown; headers?: Record<string, string> },
    times?: number,
  ): void;
  /**
   * Fail the next `times` token-endpoint requests (optionally only those of `grantType`, e.g.
   * the Token Vault grant or `refresh_token`) with `status` (429 or 5xx), an OAuth error body
   * and, when given, a `retry-after` of `retryAfter` (delta-seconds text, e.g. `"1"`, or an
   * HTTP-date). Requests it answers are logged like any other (status included).
   */
  failTokenRequests(
    options: { times: number; status: number; retryAfter?: string; grantType?: string },
  ): void;
  close(): Promise<void>;
}

const DEFAULT_SCOPES = ["openid", "profile", "email"];

/** Start the emulator. */
export async function startAuth0Emulator(
  options: Auth0EmulatorOptions = {},
): Promise<Auth0Emulator> {
  const now = options.now ?? Date.now;
  const state = new TenantState({ ...defaultTenantConfig(), ...options.config }, now);
  state.guesses = { ...defaultGuesses(), ...options.guesses };
  const user = options.user ?? ADA;
  state.users = [user];
  const client: EmulatedClient = {
    clientId: options.clientId ?? "mcs-emulator-client",
    clientSecret: options.clientSecret ?? "mcs-emulator-secret",
    name: "mcs",
    allowedCallbackUrls: [...(options.allowedCallbackUrls ?? [])],
    allowLoopbackCallbacks: options.allowLoopbackCallbacks ?? true,
  };
  const googleTokens = options.googleTokens ?? new GoogleTokenRegistry(now);
  const injected = new Map<
    string,
    { status: number; body?: unknown; headers?: Record<string, string>; times: number }
  >();
  let tokenFailures:
    | { times: number; status: number; retryAfter?: string; grantType?: string }
    | undefined;
  /** Answer from `failTokenRequests` when this request is one to fail. */
  const failure = async (req: Request, path: string): Promise<[Response, string?] | undefined> => {
    if (path !== "/oauth/token" || !tokenFailures || tokenFailures.times <= 0) return undefined;
    const grant = (await readParams(req.clone()))?.grant_type;
    if (tokenFailures.grantType && grant !== tokenFailures.grantType) return undefined;
    tokenFailures.times--;
    const { status, retryAfter } = tokenFailures;
    const body = status === 429
      ? { error: "too_many_requests", error_description: "Rate limit exceeded." }
      : { error: "server_error", error_description: "Internal error." };
    return [json(status, body, retryAfter ? { "retry-after": retryAfter } : {}), grant];
  };
  const authBucket = new TokenBucket(() => state.config.rateLimit, now);
  const meBucket = new TokenBucket(() => state.config.myAccountRateLimit, now);
  let issuerValue = "";
  const signer = await createSigner(() => issuerValue, now);
  // deno-lint-ignore prefer-const
  let ctx: Ctx;

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname;
    if (state.config.latencyMs > 0) await new Promise((r) => setTimeout(r, state.config.latencyMs));
    let grantType: string | undefined;
    let res: Response;
    const failed = await failure(req, path);
    const inj = failed ? undefined : injected.get(path);
    const bucket = path === "/oauth/token" || path === "/oauth/revoke"
      ? authBucket
      : path.startsWith("/me/")
      ? meBucket
      : undefined;
    const limit = failed || (inj && inj.times > 0) ? undefined : bucket?.take();
    if (failed) {
      [res, grantType] = failed;
    } else if (inj && inj.times > 0) {
      inj.times--;
      res = json(inj.status, inj.body ?? {}, inj.headers);
    } else if (limit && !limit.allowed) {
      res = bucket === meBucket
        // The My Account API's 429 carries a required `retry-after` (auth0.md 6; OAS).
        ? problem(429, "Too Many Requests", "Rate limit exceeded.", {}, {
          "retry-after": String(limit.retryAfterS),
        })
        // Generic /oauth/token 429s are not documented to carry Retry-After: clients fall back
        // to x-ratelimit-reset.
        : json(429, {
          error: "too_many_requests",
          error_description: "Rate limit exceeded. Please retry after some time.",
        });
    } else {
      try {
        [res, grantType] = await route(req, url, path);
      } catch {
        res = json(500, { error: "server_error", error_description: "Internal emulator error." });
      }
    }
    for (const [k, v] of Object.entries(limit?.headers ?? {})) res.headers.set(k, v);
    state.requests.push({ method: req.method, path, grantType, status: res.status, at: now() });
    return res;
  };

  const route = async (req: Request, url: URL, path: string): Promise<[Response, string?]> => {
    if (path === "/oauth/token" && req.method === "POST") return await handleToken(ctx, req);
    if (path === "/oauth/revoke" && req.method === "POST") return [await handleRevoke(ctx, req)];
    if (path === "/authorize" && req.method === "GET") return [authorizePage(url)];
    if (path === "/authorize/approve") return [await authorizeApprove(req, url)];
    if (path === "/connect" && req.method === "GET") return [connectPage(ctx, url)];
    if (path === "/connect/approve") return [connectApprove(ctx, url)];
    if (path === "/.well-known/jwks.json") return [json(200, ctx.signer.jwks())];
    if (path === "/.well-known/openid-configuration") return [json(200, discovery())];
    const me = await handleMyAccount(ctx, req, path);
    if (me) return [me];
    // Not in the reference: the device flow (/oauth/device/code), CIBA (/bc-authorize) and the
    // Management API are not emulated (mcs uses none of them); the body shape is a guess.
    return [json(404, { error: "not_found", error_description: "Not found" })];
  };

  const discovery = () => ({
    issuer: ctx.issuer,
    authorization_endpoint: `${ctx.base}/authorize`,
    token_endpoint: `${ctx.base}/oauth/token`,
    revocation_endpoint: `${ctx.base}/oauth/revoke`,
    jwks_uri: `${ctx.base}/.well-known/jwks.json`,
    response_types_supported: ["code"],
    code_challenge_methods_supported: ["S256"],
    grant_types_supported: ["authorization_code", "refresh_token", TOKEN_VAULT_GRANT],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    id_token_signing_alg_values_supported: ["RS256"],
  });

  /** Validate an authorize request; an error page (no redirect) for a bad client/callback. */
  const checkAuthorize = (q: URLSearchParams): Response | undefined => {
    if (q.get("client_id") !== client.clientId) {
      return html(
        400,
        errorPage("Unknown client", "The client_id is not registered in this tenant."),
      );
    }
    const redirectUri = q.get("redirect_uri") ?? "";
    if (!callbackAllowed(client, redirectUri)) {
      return html(
        400,
        errorPage(
          "Callback URL mismatch",
          `${redirectUri} is not in the list of allowed callback URLs.`,
        ),
      );
    }
    return undefined;
  };

  const redirectError = (q: URLSearchParams, error: string, description: string): Response => {
    const back = new URL(q.get("redirect_uri")!);
    back.searchParams.set("error", error);
    back.searchParams.set("error_description", description);
    if (q.get("state")) back.searchParams.set("state", q.get("state")!);
    return new Response(null, { status: 302, headers: { location: back.href } });
  };

  const authorizePage = (url: URL): Response => {
    const q = url.searchParams;
    const bad = checkAuthorize(q);
    if (bad) return bad;
    if (q.get("response_type") !== "code") {
      return redirectError(q, "unsupported_response_type", "Only response_type=code is supported.");
    }
    if (q.get("prompt") === "none") return redirectError(q, "login_required", "Login required");
    const approve = `/authorize/approve?${q}`;
    return html(
      200,
      loginPage({
        clientName: client.name,
        email: q.get("login_hint") || user.email,
        approveUrl: approve,
        denyUrl: `${approve}&deny=1`,
        connection: q.get("connection") ?? undefined,
        scopes: (q.get("scope") ?? "").split(" ").filter(Boolean),
      }),
    );
  };

  const authorizeApprove = async (req: Request, url: URL): Promise<Response> => {
    const q = new URLSearchParams(url.searchParams);
    if (req.method === "POST") {
      const body = await readParams(req);
      for (const [k, v] of Object.entries(body ?? {})) if (!q.has(k)) q.set(k, v);
    }
    const bad = checkAuthorize(q);
    if (bad) return bad;
    if (q.get("deny")) {
      return redirectError(q, "access_denied", "User did not authorize the request");
    }
    if (q.get("response_type") !== "code") {
      return redirectError(q, "unsupported_response_type", "Only response_type=code is supported.");
    }
    const challenge = q.get("code_challenge") ?? undefined;
    if (challenge && (q.get("code_challenge_method") ?? "plain") !== "S256") {
      return redirectError(q, "invalid_request", "code_challenge_method must be S256");
    }
    const code = randomAlnum(32);
    state.codes.set(code, {
      clientId: client.clientId,
      redirectUri: q.get("redirect_uri")!,
      userId: user.userId,
      scopes: (q.get("scope") ?? DEFAULT_SCOPES.join(" ")).split(" ").filter(Boolean),
      audience: q.get("audience") ?? undefined,
      codeChallenge: challenge,
      expiresAt: now() + state.config.codeTtlS * 1000,
    });
    const back = new URL(q.get("redirect_uri")!);
    back.searchParams.set("code", code);
    if (q.get("state")) back.searchParams.set("state", q.get("state")!);
    return new Response(null, { status: 302, headers: { location: back.href } });
  };

  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
    ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
  }, handler);
  const host = options.hostname ?? "127.0.0.1";
  const domain = `${host.includes(":") ? `[${host}]` : host}:${server.addr.port}`;
  const base = `${options.tls ? "https" : "http"}://${domain}`;
  const issuer = `${base}/`;
  issuerValue = issuer;
  ctx = {
    state,
    client,
    googleTokens,
    signer,
    base,
    issuer,
    meAudience: `${base}/me/`,
  };

  const approve = async (target: string, opts: { deny?: boolean } = {}): Promise<ApproveResult> => {
    const u = new URL(target, base);
    const path = u.pathname === "/authorize"
      ? "/authorize/approve"
      : u.pathname === "/connect"
      ? "/connect/approve"
      : undefined;
    if (!path) throw new Error(`not an /authorize or /connect URL: ${u.pathname}`);
    const approveUrl = new URL(`${path}?${u.searchParams}${opts.deny ? "&deny=1" : ""}`, base);
    const res = await handler(new Request(approveUrl, { method: "POST" }));
    await res.body?.cancel();
    const location = res.headers.get("location");
    if (res.status !== 302 || !location) {
      throw new Error(`emulator refused the approval (HTTP ${res.status})`);
    }
    return { location, params: Object.fromEntries(new URL(location).searchParams) };
  };

  return {
    url: base,
    issuer,
    domain,
    meAudience: ctx.meAudience,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    user,
    get config() {
      return state.config;
    },
    get guesses() {
      return state.guesses;
    },
    googleTokens,
    get requests() {
      return state.requests;
    },
    countRequests(filter = {}) {
      return state.requests.filter((r) =>
        (!filter.path || r.path === filter.path) &&
        (!filter.grantType || r.grantType === filter.grantType) &&
        (!filter.method || r.method === filter.method)
      ).length;
    },
    resetRequests() {
      state.requests.length = 0;
    },
    addCallbackUrl(url) {
      if (!client.allowedCallbackUrls.includes(url)) client.allowedCallbackUrls.push(url);
    },
    approve,
    issueRefreshToken(opts = {}) {
      return state.issueRefreshToken({
        clientId: client.clientId,
        userId: (opts.user ?? user).userId,
        scopes: opts.scopes ?? ["openid", "profile", "email", "offline_access"],
        audience: opts.audience,
        authTime: opts.authTime,
      });
    },
    connectAccount(opts = {}) {
      const connection = opts.connection ?? "google-oauth2";
      const owner = opts.user ?? user;
      state.accounts = state.accounts.filter((a) =>
        a.connection !== connection || a.userId !== owner.userId
      );
      const account: ConnectedAccount = {
        id: "cac_" + randomAlnum(20),
        userId: owner.userId,
        connection,
        scopes: opts.scopes ?? ["openid", "profile", "https://mail.google.com/"],
        createdAt: now(),
        offline: opts.offline ?? state.config.connectionOfflineAccess,
      };
      mintGoogle(ctx, account);
      state.accounts.push(account);
      return account;
    },
    accounts: () => state.accounts.filter((a) => a.userId === user.userId),
    addUser(extra) {
      if (!state.user(extra.userId)) state.users.push(extra);
    },
    revokeRefreshTokens() {
      for (const r of state.refreshTokens.values()) r.revoked = true;
    },
    expireGoogleTokens() {
      for (const a of state.accounts) a.googleExpiresAt = 0;
    },
    injectResponse(path, response, times = 1) {
      injected.set(path, { ...response, times });
    },
    failTokenRequests(opts) {
      tokenFailures = { ...opts };
    },
    async close() {
      await server.shutdown();
    },
  };
}

/** Random URL-safe id (re-exported for tests that need unguessable values). */
export { randomId };
