/**
 * The network layer: the only way mcs talks to the network. {@link createNet} returns a
 * `fetch`-compatible function that
 *
 * - routes every request by the documented proxy semantics of `proxy.ts` (never by Deno's own
 *   env handling: the standard proxy variables are read once, then removed from this
 *   process's environment before any HTTP client exists, and every request carries an
 *   explicit `Deno.HttpClient`, proxied or direct, cached per proxy);
 * - trusts extra CAs (`caPem`, e.g. from `MCS_CA_FILE`) on every route;
 * - applies a total timeout (default 30 s, covering retries and the body read; `timeoutMs: 0`
 *   disables it) combined with the caller's `signal`;
 * - retries by the program's one policy (`retry.ts`): idempotent requests (GET/HEAD/OPTIONS/
 *   PUT/DELETE or `idempotent: true`) on 429, 500, 502, 503, 504 and connection resets; a
 *   non-idempotent one (POST, PATCH) only on a status saying it was not processed (429, or the
 *   caller's `unprocessed`); a `Retry-After` longer than the policy or the deadline allows is
 *   not waited for: the response is returned at once (its error then carries `retry_after_s`);
 * - turns transport failures into {@link NetworkError}s naming the host and the (redacted)
 *   proxy, and permission denials into {@link PermissionDeniedError}s; a non-idempotent request
 *   whose answer was lost (timeout, reset) fails as `outcome_unknown`, not retryable; a direct
 *   route that fails while a proxy is set but skipped by a `NO_PROXY` entry fails as
 *   `direct_route_failed`, naming the `MCS_PROXY_FORCE` fix;
 * - streams response bodies (never buffers them).
 *
 * @example
 * ```ts
 * import { createNet } from "./http.ts";
 * using net = createNet({ caPem: [] });
 * console.log(net.explain("https://gmail.googleapis.com/").reason);
 * const res = await net("https://gmail.googleapis.com/gmail/v1/users/me/profile", {
 *   headers: { authorization: "Bearer …" },
 *   timeoutMs: 10_000,
 * });
 * ```
 * @module
 */
import { ConfigError } from "../errors.ts";
import { probeConnectStatus } from "./diagnose.ts";
import { NetworkError, type NetworkErrorCode, PermissionDeniedError } from "./errors.ts";
import {
  nextRetry,
  parseRetryAfter,
  RETRY_POLICY,
  type RetryPolicy,
  sleep as policySleep,
} from "./retry.ts";
import {
  PROXY_ENV_NAMES,
  type ProxyEnv,
  type ProxyServer,
  type ProxySettings,
  readProxySettings,
  type ResolvedRoute,
  resolveRoute,
  type RouteDecision,
  STANDARD_PROXY_ENV_NAMES,
} from "./proxy.ts";
import type { FetchLike, NetInit } from "./types.ts";

/** Options of {@link createNet}. */
export interface NetOptions {
  /** Proxy environment; default: a snapshot of this process's variables ({@link snapshotProxyEnv}). */
  env?: ProxyEnv;
  /** Extra trusted CA certificates (PEM), e.g. the contents of `MCS_CA_FILE`. */
  caPem?: string[];
  /** Default total timeout per request in ms (default 30 000; 0 disables). */
  timeoutMs?: number;
  /** Maximum retries (default: the program's policy, {@link RETRY_POLICY}). */
  retries?: number;
  /** First backoff delay in ms (default from {@link RETRY_POLICY}); doubles per attempt. */
  backoffBaseMs?: number;
  /** Largest backoff delay in ms (default from {@link RETRY_POLICY}). */
  backoffMaxMs?: number;
  /** Largest `Retry-After` honoured, in ms (default from {@link RETRY_POLICY}). */
  maxRetryAfterMs?: number;
  /** Sleep used between retries (injectable for tests). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Random source in [0, 1) for jitter (injectable for tests). */
  random?: () => number;
  /**
   * Remove the standard proxy variables from this process's environment before creating
   * clients, so Deno's own proxy handling cannot interfere (default true). Child processes
   * then do not inherit them.
   */
  scrubProcessEnv?: boolean;
}

/** The network layer's fetch, plus introspection and cleanup. */
export interface Net extends FetchLike {
  /** How a request to `url` would be routed (credentials redacted). */
  explain(url: string | URL): RouteDecision;
  /** The proxy settings in force. */
  readonly settings: ProxySettings;
  /** Problems found while setting up (e.g. the env could not be scrubbed). */
  readonly warnings: readonly string[];
  /** Close every cached HTTP client. */
  close(): void;
  [Symbol.dispose](): void;
}

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** Read the proxy-related variables ({@link PROXY_ENV_NAMES}) from this process. */
export function snapshotProxyEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PROXY_ENV_NAMES) {
    try {
      const v = Deno.env.get(name);
      if (v !== undefined) out[name] = v;
    } catch { /* no --allow-env for this variable: treat as unset */ }
  }
  return out;
}

/**
 * Remove the standard proxy variables from this process's environment, so that clients
 * created afterwards (Deno reads them at client creation) do not apply them. Returns the
 * names that could not be removed (no env permission).
 */
export function scrubProcessProxyEnv(): string[] {
  const failed: string[] = [];
  for (const name of STANDARD_PROXY_ENV_NAMES) {
    try {
      if (Deno.env.get(name) !== undefined) Deno.env.delete(name);
    } catch {
      failed.push(name);
    }
  }
  return failed;
}

/** The innermost message of an error chain (Deno puts the detail in `cause`). */
function innermostMessage(e: unknown): string {
  let cur: unknown = e;
  let msg = "";
  for (let i = 0; i < 5 && cur instanceof Error; i++) {
    msg = cur.message;
    cur = cur.cause;
  }
  return msg;
}

/** Remove the URL (which may carry a query with secrets) from a Deno error message. */
function safeDetail(message: string, url: URL): string {
  return message
    .split(url.href).join(`${url.origin}${url.pathname}`)
    .replace(/^error sending request for url \([^)]*\):\s*/, "")
    .replace(/^client error \((\w+)\):\s*/, "")
    .replace(/(bearer\s+)\S+/gi, "$1[redacted]");
}

interface Ctx {
  url: URL;
  route: ResolvedRoute;
}

function via(ctx: Ctx): string {
  return ctx.route.route === "proxy" ? ` via proxy ${ctx.route.proxy}` : "";
}

function netError(
  ctx: Ctx,
  code: NetworkErrorCode,
  message: string,
  retryable: boolean,
  cause?: string,
) {
  return new NetworkError(code, message, {
    host: ctx.url.host,
    proxy: ctx.route.route === "proxy" ? ctx.route.proxy : undefined,
    retryable,
    cause: cause === undefined ? undefined : new Error(cause),
  });
}

/** Map a transport failure to a typed error (no I/O). */
function classify(e: unknown, ctx: Ctx): Error {
  if (e instanceof Deno.errors.NotCapable) {
    const m = /access to "([^"]+)"/.exec(e.message);
    const what = m ? m[1] : ctx.url.host;
    return new PermissionDeniedError(
      `network access to ${what} is not allowed by this build's permissions (--allow-net)`,
      "--allow-net",
    );
  }
  const detail = safeDetail(innermostMessage(e), ctx.url);
  const host = ctx.url.host;
  const proxied = ctx.route.route === "proxy";
  const proxy = ctx.route.proxy;
  // Deno 2.9 reports a CONNECT answered 407 as "proxy authentication required".
  if (proxied && /proxy auth/i.test(detail)) return proxyAuthError(ctx);
  const bypass = ctx.route.proxyBypassed;
  if (
    bypass &&
    /dns error|failed to lookup address|tcp connect error|connection refused|network is unreachable|no route to host/i
      .test(detail)
  ) {
    const what = /dns error|failed to lookup address/i.test(detail)
      ? `Cannot resolve the host name ${ctx.url.hostname}`
      : `Cannot connect to ${host}`;
    return new NetworkError(
      "direct_route_failed",
      `${what} on a direct route: the proxy ${bypass.proxy} (${bypass.proxySource}) was not used ` +
        `because ${bypass.entrySource} entry '${bypass.entry}' matches. Where the proxy is the ` +
        `only way out (a sandbox), set ${bypass.fix} to send this host through it.`,
      {
        host,
        retryable: false,
        cause: new Error(detail),
        details: {
          route: "direct",
          skipped_proxy: bypass.proxy,
          no_proxy_entry: bypass.entry,
          no_proxy_source: bypass.entrySource,
          fix: bypass.fix,
        },
      },
    );
  }
  if (
    /tcp connect error|connection refused|network is unreachable|no route to host/i.test(detail)
  ) {
    const why = detail.replace(/^.*tcp connect error:\s*/i, "");
    return proxied
      ? netError(
        ctx,
        "proxy_unreachable",
        `Cannot connect to the proxy ${proxy} (from ${ctx.route.server?.source}) to reach ${host}: ${why}. ` +
          `Check that the proxy is running, or fix ${ctx.route.server?.source}.`,
        true,
        detail,
      )
      : netError(ctx, "network_unreachable", `Cannot connect to ${host}: ${why}.`, true, detail);
  }
  if (/dns error|failed to lookup address/i.test(detail)) {
    return proxied
      ? netError(
        ctx,
        "proxy_unreachable",
        `Cannot resolve the proxy ${proxy} (from ${ctx.route.server?.source}) to reach ${host}.`,
        true,
        detail,
      )
      : netError(
        ctx,
        "dns_error",
        `Cannot resolve the host name ${ctx.url.hostname}.`,
        true,
        detail,
      );
  }
  if (/certificate|tls|handshake|InvalidContentType|corrupt message/i.test(detail)) {
    return netError(
      ctx,
      "tls_error",
      `TLS with ${host} failed${via(ctx)}: ${detail}. If a TLS-inspecting proxy or a local ` +
        `emulator is in the way, point MCS_CA_FILE at its CA certificate (PEM).`,
      false,
      detail,
    );
  }
  if (
    /reset|connection closed|broken pipe|incomplete ?message|unexpected eof|end of file/i.test(
      detail,
    )
  ) {
    return netError(
      ctx,
      "connection_reset",
      `The connection to ${host}${via(ctx)} was reset: ${detail}.`,
      true,
      detail,
    );
  }
  return netError(
    ctx,
    "network_error",
    `Request to ${host}${via(ctx)} failed: ${detail || "unknown error"}.`,
    true,
    detail,
  );
}

/** Like {@link classify}, but asks the proxy for its CONNECT status on a refused tunnel. */
async function classifyWithProbe(e: unknown, ctx: Ctx): Promise<Error> {
  const detail = innermostMessage(e);
  const server = ctx.route.server;
  if (!server || !/unsuccessful tunnel/i.test(detail)) return classify(e, ctx);
  const target = `${ctx.url.hostname}:${
    ctx.url.port || (ctx.url.protocol === "https:" ? 443 : 80)
  }`;
  const status = await probeConnectStatus(server, target);
  const host = ctx.url.host;
  // 407 is the standard answer; some proxies (tinyproxy with wrong credentials) send 401.
  if (status === 407 || status === 401) return proxyAuthError(ctx, status);
  const said = status === undefined ? "" : ` (it answered HTTP ${status})`;
  const hint = status === 403
    ? " The proxy's allow-list probably does not include this host."
    : status !== undefined && status >= 500
    ? ` The proxy could not reach ${host}.`
    : "";
  return netError(
    ctx,
    "proxy_tunnel_failed",
    `The proxy ${ctx.route.proxy} refused to open a tunnel to ${host}${said}.${hint}`,
    status === undefined || status >= 500,
    safeDetail(detail, ctx.url),
  );
}

/** The error for a request that may have taken effect but whose answer was lost. */
function outcomeUnknown(ctx: Ctx, method: string, what: string): NetworkError {
  return new NetworkError(
    "outcome_unknown",
    `The ${method} to ${ctx.url.host}${via(ctx)} may or may not have taken effect: the request ` +
      `was sent but its answer was lost (${
        what || "connection lost"
      }). Do not repeat it blindly: ` +
      `check whether it took effect first.`,
    {
      host: ctx.url.host,
      proxy: ctx.route.route === "proxy" ? ctx.route.proxy : undefined,
      retryable: false,
      details: { method },
    },
  );
}

function proxyAuthError(ctx: Ctx, status = 407): NetworkError {
  const server = ctx.route.server;
  const message = server?.basicAuth
    ? `The proxy ${ctx.route.proxy} rejected the credentials in ${server.source} (HTTP ${status}) ` +
      `for ${ctx.url.host}. Fix the user:password in ${server.source}.`
    : `The proxy ${ctx.route.proxy} requires authentication (HTTP ${status}) for ${ctx.url.host}. ` +
      `Put user:password@ in ${server?.source ?? "the proxy URL"}.`;
  return netError(ctx, "proxy_auth_required", message, false);
}

/** `body` as a stream that passes chunks through as they come and types its errors. */
function typedStream(
  body: ReadableStream<Uint8Array>,
  mapError: (e: unknown) => unknown,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (e) {
        controller.error(mapError(e));
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

const NATIVE_BODY = Object.getOwnPropertyDescriptor(Response.prototype, "body")!.get! as (
  this: Response,
) => ReadableStream<Uint8Array> | null;

const WHOLE_BODY = ["arrayBuffer", "bytes", "text", "json", "blob", "formData"] as const;

/**
 * Type the errors of reading `res`'s body, keeping it streamed as-is. The response itself is
 * returned (status, headers, `url` unchanged); reading it whole (`arrayBuffer()`, `text()`, ...)
 * takes the runtime's own path (one native read of the body, no chunk-by-chunk JavaScript
 * stream and no 64 KiB buffer per chunk: what most Gmail calls do, measured as the largest
 * item of a warm call under load) with its failure mapped; `body` is a typed pass-through
 * stream, built the first time it is asked for (downloads, `body.cancel()`).
 */
function wrapBody(res: Response, mapError: (e: unknown) => unknown): Response {
  if (!res.body || NULL_BODY_STATUS.has(res.status)) {
    return res;
  }
  let stream: ReadableStream<Uint8Array> | undefined;
  const props: PropertyDescriptorMap = {
    // The body as of now: `clone()` (oauth4webapi reads error bodies from a clone) replaces it.
    body: {
      get: () => stream ??= typedStream(NATIVE_BODY.call(res)!, mapError),
      configurable: true,
    },
  };
  for (const name of WHOLE_BODY) {
    props[name] = {
      configurable: true,
      writable: true,
      value: () =>
        stream
          // Already a typed stream: read it (its errors are typed).
          ? new Response(stream)[name]()
          : (Response.prototype[name] as () => Promise<unknown>).call(res).catch((e) => {
            throw mapError(e);
          }),
    };
  }
  return Object.defineProperties(res, props);
}

/**
 * Create the network layer (see the module docs).
 *
 * @example
 * ```ts
 * using net = createNet({ env: { HTTPS_PROXY: "http://127.0.0.1:3128" }, timeoutMs: 5000 });
 * const res = await net("https://example.com/", { retries: 1 });
 * ```
 */
export function createNet(options: NetOptions = {}): Net {
  const env = options.env ?? snapshotProxyEnv();
  const settings = readProxySettings(env);
  const warnings: string[] = [];
  const defaultTimeout = options.timeoutMs ?? 30_000;
  const policy: RetryPolicy = {
    retries: options.retries ?? RETRY_POLICY.retries,
    baseMs: options.backoffBaseMs ?? RETRY_POLICY.baseMs,
    maxMs: options.backoffMaxMs ?? RETRY_POLICY.maxMs,
    maxRetryAfterMs: options.maxRetryAfterMs ?? RETRY_POLICY.maxRetryAfterMs,
  };
  const sleep = options.sleep ?? policySleep;
  const random = options.random ?? Math.random;
  const caCerts = options.caPem?.length ? [...options.caPem] : undefined;
  const clients = new Map<string, Deno.HttpClient>();
  let closed = false;

  function clientFor(server: ProxyServer | undefined): Deno.HttpClient {
    if (closed) throw new Error("the network layer was closed");
    const key = server
      ? JSON.stringify([server.url, server.transport, server.basicAuth ?? null])
      : "direct";
    let client = clients.get(key);
    if (!client) {
      if (options.scrubProcessEnv !== false) {
        const failed = scrubProcessProxyEnv();
        if (failed.length > 0) {
          const w =
            `could not remove ${failed.join(", ")} from the environment (no --allow-env); ` +
            `Deno's own proxy handling may apply in addition to mcs's`;
          if (!warnings.includes(w)) warnings.push(w);
        }
      }
      client = Deno.createHttpClient({
        caCerts,
        proxy: server
          ? { url: server.url, transport: server.transport, basicAuth: server.basicAuth }
          : undefined,
      });
      clients.set(key, client);
    }
    return client;
  }

  async function netFetch(input: string | URL | Request, init: NetInit = {}): Promise<Response> {
    const {
      timeoutMs,
      idempotent: idempotentOpt,
      retries,
      unprocessed,
      outcomeMatters,
      signal: callerSignal,
      ...rest
    } = init;
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request ? request.url : input.toString());
    const method = (rest.method ?? request?.method ?? "GET").toUpperCase();
    const route = resolveRoute(url, settings);
    if (route.error) {
      throw new ConfigError("proxy_invalid", `${route.error}. Fix or unset it.`);
    }
    const ctx: Ctx = { url, route };
    const client = clientFor(route.server);
    const idempotent = idempotentOpt ?? IDEMPOTENT_METHODS.has(method);
    // A caller-supplied stream can be sent only once: never retried.
    const streamedBody = rest.body instanceof ReadableStream;
    const requestPolicy: RetryPolicy = {
      ...policy,
      retries: streamedBody ? 0 : Math.max(0, retries ?? policy.retries),
    };
    /** A lost answer to this request is `outcome_unknown` (it may have taken effect). */
    const unknownOutcome = outcomeMatters ?? !idempotent;
    const budget = timeoutMs ?? defaultTimeout;
    const deadline = budget > 0 ? Date.now() + budget : Infinity;
    // AbortSignal.timeout rather than setTimeout: in Deno 2.9 the first global setTimeout loads
    // the Node-compat timers (about 6 ms of every cold start). Its timer never keeps the process
    // alive, and firing after the body was read aborts nothing.
    const timeoutSignal = budget > 0 ? AbortSignal.timeout(budget) : undefined;
    const signals = [callerSignal, timeoutSignal].filter((x): x is AbortSignal => x !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    /** The error to throw when the caller aborted or the timeout fired, else undefined. */
    const abortError = (): unknown => {
      if (callerSignal?.aborted) return callerSignal.reason;
      if (timeoutSignal?.aborted) {
        return unknownOutcome
          ? outcomeUnknown(ctx, method, `no answer within ${budget / 1000} s`)
          : netError(
            ctx,
            "timeout",
            `Request to ${url.host}${via(ctx)} timed out after ${budget / 1000} s.`,
            true,
          );
      }
      return undefined;
    };
    /** A lost answer to a request that may have taken effect is never "just retry". */
    const settle = (err: Error): Error =>
      unknownOutcome && err instanceof NetworkError &&
        (err.code === "connection_reset" || err.code === "network_error" ||
          err.code === "timeout")
        ? outcomeUnknown(ctx, method, String(err.cause instanceof Error ? err.cause.message : ""))
        : err;
    const sleepOrThrow = async (ms: number) => {
      try {
        await sleep(ms, signal);
      } catch (e) {
        throw abortError() ?? e;
      }
    };

    for (let attempt = 0;; attempt++) {
      let res: Response;
      try {
        const attemptInput = request && request.body !== null && attempt < requestPolicy.retries
          ? request.clone()
          : request ?? url;
        res = await fetch(attemptInput, { ...rest, client, signal });
      } catch (e) {
        const aborted = abortError();
        if (aborted !== undefined) {
          throw aborted;
        }
        const err = await classifyWithProbe(e, ctx);
        // Only a reset is worth repeating, and only for an idempotent request.
        const d = err instanceof NetworkError && err.code === "connection_reset"
          ? nextRetry({
            attempt,
            idempotent,
            policy: requestPolicy,
            random,
            remainingMs: deadline - Date.now(),
          })
          : undefined;
        if (!d?.retry) throw settle(err);
        await sleepOrThrow(d.delayMs);
        continue;
      }
      if (res.status === 407 && route.route === "proxy") {
        await res.body?.cancel();
        throw proxyAuthError(ctx);
      }
      const d = nextRetry({
        attempt,
        status: res.status,
        idempotent,
        unprocessed,
        retryAfterMs: parseRetryAfter(res.headers.get("retry-after")),
        policy: requestPolicy,
        random,
        remainingMs: deadline - Date.now(),
      });
      if (d.retry) {
        await res.body?.cancel();
        await sleepOrThrow(d.delayMs);
        continue;
      }
      return wrapBody(res, (e) => abortError() ?? settle(classify(e, ctx)));
    }
  }

  const close = () => {
    closed = true;
    for (const c of clients.values()) c.close();
    clients.clear();
  };
  return Object.assign(netFetch, {
    explain(url: string | URL): RouteDecision {
      const { server: _server, ...decision } = resolveRoute(url, settings);
      return decision;
    },
    settings,
    warnings,
    close,
    [Symbol.dispose]: close,
  });
}
