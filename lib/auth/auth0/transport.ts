/**
 * HTTP transport of the Auth0 provider. Token-endpoint requests (Token Vault exchange, refresh /
 * MRRT) go through `oauth4webapi` (form-encoded body, `client_secret_post`, RFC 6749 error
 * parsing); My Account API calls are JSON with a bearer token. Every request goes either to the
 * injected {@link FetchLike} or, when opted in, through an {@link HttpRelay} (LinkAuth
 * `/v1/proxy`). Failures become {@link Auth0Failure} with status, error code and the names of
 * invalid fields only: upstream bodies are never kept verbatim. Typed errors of the network
 * layer or the relay (an `McsError`: permission denied, proxy or broker allowlist refusal) pass
 * through unchanged, since they already name the fix.
 *
 * @example
 * ```ts
 * import { Auth0Transport } from "./transport.ts";
 * import { resolveTenant } from "./tenant.ts";
 * const t = new Auth0Transport({ tenant: resolveTenant("tenant.us.auth0.com"), clientId: "id", clientSecret: "s" });
 * // await t.token("token_vault", GRANT, { subject_token: "...", ... });
 * ```
 * @module
 */
import type * as OAuth from "oauth4webapi";
import { McsError } from "../../errors.ts";
import { nextRetry, parseRetryAfter, RETRY_POLICY, sleep } from "../../net/retry.ts";
import type { HttpRelay } from "../types.ts";
import type { FetchLike } from "../../net/types.ts";
import { type Auth0Endpoint, Auth0Failure } from "./checklist.ts";
import type { Tenant } from "./tenant.ts";

/** Options of {@link Auth0Transport}. */
export interface TransportOptions {
  tenant: Tenant;
  clientId: string;
  clientSecret: string;
  /** Network function (default `globalThis.fetch`). */
  fetch?: FetchLike;
  /** Route every Auth0 call through this relay instead (opt-in; it sees the secrets). */
  relay?: HttpRelay;
  /** Client authentication method at the token endpoint (default `client_secret_post`). */
  clientAuth?: "client_secret_post" | "client_secret_basic";
  /** Per-request timeout in ms, retries included (default 15000). */
  timeoutMs?: number;
  /** Sleep between retries (injectable for tests; default a timer). */
  sleep?: (ms: number) => Promise<void>;
}

/** A successful token endpoint response (fields mcs uses). */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  scope?: string;
  refresh_token?: string;
  issued_token_type?: string;
}

/**
 * Milliseconds to wait: `Retry-After` (delta-seconds or HTTP-date; required on My Account API
 * 429s), else `x-ratelimit-reset` (UNIX seconds; generic `/oauth/token` 429s carry only that).
 */
function retryAfterMs(res: Response): number | undefined {
  const ms = parseRetryAfter(res.headers.get("retry-after"));
  if (ms !== undefined) return ms;
  const reset = res.headers.get("x-ratelimit-reset");
  if (reset && /^\d+$/.test(reset.trim())) {
    return Math.max(0, Number(reset.trim()) * 1000 - Date.now());
  }
  return undefined;
}

/** Seconds to wait ({@link retryAfterMs}), for `retry_after_s`. */
function retryAfter(res: Response): number | undefined {
  const ms = retryAfterMs(res);
  return ms === undefined ? undefined : Math.ceil(ms / 1000);
}

/**
 * Statuses by which `/oauth/token` says a grant was not processed (so a refresh did not rotate
 * and an exchange issued nothing): safe to repeat although a POST.
 */
const TOKEN_UNPROCESSED: readonly number[] = [429, 503];

/**
 * A request that got no HTTP answer. Typed errors of the network layer or the relay (permission
 * denied, proxy refused, broker allowlist, TLS) already say what to fix: they pass unchanged.
 * Anything else (a bare TypeError, a timeout) becomes a status-0 failure ("Auth0 unavailable").
 */
function transportFailure(endpoint: Auth0Endpoint, err: unknown): Error {
  if (err instanceof McsError) return err;
  return new Auth0Failure(endpoint, 0, undefined, err instanceof Error ? err.name : undefined);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The transport. */
export class Auth0Transport {
  readonly #opts: TransportOptions;
  readonly #as: OAuth.AuthorizationServer;
  readonly #client: OAuth.Client;

  constructor(opts: TransportOptions) {
    this.#opts = opts;
    this.#as = { issuer: opts.tenant.issuer, token_endpoint: opts.tenant.tokenEndpoint };
    this.#client = { client_id: opts.clientId };
  }

  /** Whether calls go through the relay. */
  get relayed(): boolean {
    return this.#opts.relay !== undefined;
  }

  /**
   * One call with the program's retry policy (`lib/net/retry.ts`), whatever carries it (the
   * network layer or the relay): a GET on 429/5xx, a token grant on 429/503 (not processed),
   * a My Account POST on 429 only. A `Retry-After` over the budget is not waited for: the
   * response is returned at once and its failure carries `retry_after_s`.
   */
  #send = async (url: string, init: RequestInit): Promise<Response> => {
    const budget = this.#opts.timeoutMs ?? 15_000;
    const deadline = Date.now() + budget;
    const signal = AbortSignal.timeout(budget);
    const method = (init.method ?? "GET").toUpperCase();
    const idempotent = method === "GET";
    const unprocessed = url === this.#opts.tenant.tokenEndpoint ? TOKEN_UNPROCESSED : undefined;
    const wait = this.#opts.sleep ?? ((ms: number) => sleep(ms, signal));
    for (let attempt = 0;; attempt++) {
      const res = await this.#attempt(url, init, signal, idempotent);
      const d = nextRetry({
        attempt,
        status: res.status,
        idempotent,
        unprocessed,
        retryAfterMs: retryAfterMs(res),
        policy: RETRY_POLICY,
        remainingMs: deadline - Date.now(),
      });
      if (!d.retry) return res;
      await res.body?.cancel().catch(() => {});
      await wait(d.delayMs);
    }
  };

  async #attempt(
    url: string,
    init: RequestInit,
    signal: AbortSignal,
    idempotent: boolean,
  ): Promise<Response> {
    if (this.#opts.relay) {
      return await this.#opts.relay.relay(new Request(url, { ...init, signal }));
    }
    const f = this.#opts.fetch ?? globalThis.fetch;
    // The retries happen in #send; a lost answer to a grant is not an unknown outcome worth
    // reporting (no side effect to check), so it stays a transport failure.
    return await f(url, {
      ...init,
      signal,
      idempotent,
      retries: 0,
      outcomeMatters: false,
      timeoutMs: this.#opts.timeoutMs,
    });
  }

  #options(oauth: typeof OAuth): OAuth.TokenEndpointRequestOptions {
    return {
      [oauth.customFetch]: (url: string, init: OAuth.CustomFetchOptions<"POST", URLSearchParams>) =>
        this.#send(url, init as RequestInit),
      [oauth.allowInsecureRequests]: this.#opts.tenant.insecure,
    };
  }

  /** A grant at `/oauth/token`. `refresh_token` uses the refresh helper (MRRT parameters). */
  async token(
    endpoint: Auth0Endpoint,
    grantType: string,
    params: Record<string, string>,
  ): Promise<TokenResponse> {
    // oauth4webapi is a side file of the bundle (lib/build/layout.ts): loaded on first use only.
    const oauth = await import("oauth4webapi");
    const auth = this.#opts.clientAuth === "client_secret_basic"
      ? oauth.ClientSecretBasic(this.#opts.clientSecret)
      : oauth.ClientSecretPost(this.#opts.clientSecret);
    let res: Response;
    try {
      if (grantType === "refresh_token") {
        const { refresh_token, ...rest } = params;
        res = await oauth.refreshTokenGrantRequest(
          this.#as,
          this.#client,
          auth,
          refresh_token,
          {
            ...this.#options(oauth),
            additionalParameters: rest,
          },
        );
      } else {
        res = await oauth.genericTokenEndpointRequest(
          this.#as,
          this.#client,
          auth,
          grantType,
          params,
          this.#options(oauth),
        );
      }
    } catch (err) {
      throw transportFailure(endpoint, err);
    }
    try {
      const body = grantType === "refresh_token"
        ? await oauth.processRefreshTokenResponse(this.#as, this.#client, res)
        : await oauth.processGenericTokenEndpointResponse(this.#as, this.#client, res);
      return body as unknown as TokenResponse;
    } catch (err) {
      throw await this.#failure(oauth, endpoint, res, err);
    }
  }

  async #failure(
    oauth: typeof OAuth,
    endpoint: Auth0Endpoint,
    res: Response,
    err: unknown,
  ): Promise<Auth0Failure> {
    if (err instanceof oauth.ResponseBodyError) {
      return new Auth0Failure(
        endpoint,
        err.status,
        err.error,
        err.error_description,
        [],
        retryAfter(res),
      );
    }
    if (err instanceof oauth.WWWAuthenticateChallengeError) {
      let body: Record<string, unknown> = {};
      try {
        body = await err.response.json();
      } catch { /* no JSON body */ }
      const c = err.cause[0]?.parameters;
      return new Auth0Failure(
        endpoint,
        err.status,
        str(body.error) ?? c?.error,
        str(body.error_description) ?? c?.error_description,
      );
    }
    await res.body?.cancel().catch(() => {});
    // Not a conform error response (5xx, HTML from a proxy, malformed success body).
    return new Auth0Failure(
      endpoint,
      res.status === 200 ? -1 : res.status,
      undefined,
      undefined,
      [],
      retryAfter(res),
    );
  }

  /** A My Account API call with a bearer token; returns the parsed JSON (or undefined on 204). */
  async myAccount(
    endpoint: Auth0Endpoint,
    method: "GET" | "POST" | "DELETE",
    path: string,
    token: string,
    body?: unknown,
  ): Promise<unknown> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      accept: "application/json",
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.#send(`${this.#opts.tenant.meApi}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw transportFailure(endpoint, err);
    }
    if (res.status === 204) {
      await res.body?.cancel();
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = await res.json();
    } catch {
      parsed = undefined;
    }
    if (res.ok && parsed !== undefined) return parsed;
    const p = (parsed && typeof parsed === "object" ? parsed : {}) as Record<string, unknown>;
    const fields = Array.isArray(p.validation_errors)
      ? p.validation_errors.map((v) => str((v as Record<string, unknown>)?.field)).filter((
        x,
      ): x is string => !!x)
      : [];
    return Promise.reject(
      new Auth0Failure(
        endpoint,
        res.ok ? -1 : res.status,
        str(p.error) ?? str(p.title),
        str(p.detail) ?? str(p.error_description),
        fields,
        retryAfter(res),
      ),
    );
  }
}
