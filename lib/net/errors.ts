/**
 * Typed network errors. Transport failures (no HTTP response) are {@link NetworkError}s;
 * HTTP status responses are returned to callers as `Response`s, and {@link HttpStatusError}
 * helps callers turn one into an error. Messages name the host and, when a proxy was used,
 * the proxy with credentials redacted; they never contain URLs' query strings, headers,
 * tokens or request bodies.
 *
 * @example
 * ```ts
 * import { HttpStatusError, NetworkError } from "./errors.ts";
 * try {
 *   const res = await net("https://gmail.googleapis.com/gmail/v1/users/me/profile");
 *   if (!res.ok) throw await HttpStatusError.fromResponse(res);
 * } catch (e) {
 *   if (e instanceof NetworkError && e.retryable) console.error("try again later:", e.message);
 * }
 * ```
 * @module
 */
import { McsError, type McsErrorOptions, summarizeUpstream } from "../errors.ts";

/** Stable codes of {@link NetworkError}. */
export type NetworkErrorCode =
  /** The host could not be reached directly (connection refused, no route). */
  | "network_unreachable"
  /** The host name could not be resolved. */
  | "dns_error"
  /** The proxy could not be reached. */
  | "proxy_unreachable"
  /** The proxy asked for (other) credentials: HTTP 407. */
  | "proxy_auth_required"
  /** The proxy refused or failed to open a tunnel to the host. */
  | "proxy_tunnel_failed"
  /** TLS handshake or certificate verification failed. */
  | "tls_error"
  /** The request took longer than its timeout. */
  | "timeout"
  /** The connection was reset or closed mid-request. */
  | "connection_reset"
  /** Any other transport failure. */
  | "network_error"
  /**
   * A non-idempotent request (a send, a POST) was written but its answer was lost (timeout,
   * reset): it may or may not have taken effect. Never retryable: check first.
   */
  | "outcome_unknown"
  /**
   * The host could not be reached directly, and the route was direct only because a `NO_PROXY`
   * entry matched although a proxy is set; `details.fix` names the `MCS_PROXY_FORCE` setting.
   */
  | "direct_route_failed";

/** Options of {@link NetworkError}. */
export interface NetworkErrorOptions extends McsErrorOptions {
  /** Target `host[:port]`. */
  host: string;
  /** The proxy used (credentials redacted), if any. */
  proxy?: string;
}

/** A transport failure: no HTTP response was received from the target. */
export class NetworkError extends McsError {
  /** Target `host[:port]`. */
  readonly host: string;
  /** The proxy used (credentials redacted), if any. */
  readonly proxy?: string;
  declare readonly code: NetworkErrorCode;

  constructor(code: NetworkErrorCode, message: string, options: NetworkErrorOptions) {
    super(code, message, "runtime", {
      ...options,
      details: { ...options.details, host: options.host, proxy: options.proxy },
    });
    this.name = "NetworkError";
    this.host = options.host;
    this.proxy = options.proxy;
  }
}

export { PermissionDeniedError } from "../errors.ts";

export { isRetryableStatus, parseRetryAfter } from "./retry.ts";
import { isRetryableStatus, parseRetryAfter, retryAfterSeconds } from "./retry.ts";

/** Default stable code for an HTTP status. */
export function codeForStatus(status: number): string {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 408:
      return "timeout";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 429:
      return "rate_limited";
    default:
      return status >= 500 ? "upstream_unavailable" : "http_error";
  }
}

/** Options of {@link HttpStatusError}. */
export interface HttpStatusErrorOptions extends McsErrorOptions {
  /** Target host. */
  host?: string;
  /** Overrides {@link codeForStatus}. */
  code?: string;
  /** Overrides the default message. */
  message?: string;
  /** Short, already-safe summary of the upstream error (see `summarizeUpstream`). */
  summary?: string;
  /** Seconds to wait before retrying, from `Retry-After`. */
  retryAfterS?: number;
}

/** An HTTP error status, for callers that decide a response is a failure. */
export class HttpStatusError extends McsError {
  /** The HTTP status. */
  readonly status: number;
  /** Target host, if known. */
  readonly host?: string;
  /** Seconds to wait before retrying, when the server said so. */
  readonly retryAfterS?: number;

  constructor(status: number, options: HttpStatusErrorOptions = {}) {
    const where = options.host ? ` from ${options.host}` : "";
    const message = options.message ??
      `HTTP ${status}${where}${options.summary ? `: ${options.summary}` : ""}`;
    super(options.code ?? codeForStatus(status), message, "runtime", {
      retryable: options.retryable ?? isRetryableStatus(status),
      cause: options.cause,
      details: {
        ...options.details,
        status,
        host: options.host,
        retry_after_s: options.retryAfterS,
      },
    });
    this.name = "HttpStatusError";
    this.status = status;
    this.host = options.host;
    this.retryAfterS = options.retryAfterS;
  }

  /**
   * Build from a response: reads (at most 64 KiB of) the body and keeps only a redacted
   * summary of well-known error fields.
   */
  static async fromResponse(
    res: Response,
    options: Omit<HttpStatusErrorOptions, "summary" | "retryAfterS"> = {},
  ): Promise<HttpStatusError> {
    let summary = "";
    try {
      const text = (await res.text()).slice(0, 65536);
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch { /* not JSON */ }
      summary = typeof body === "string" ? "" : summarizeUpstream(body);
    } catch { /* body unreadable: no summary */ }
    const retryAfter = parseRetryAfter(res.headers.get("retry-after"));
    let host = options.host;
    if (!host && res.url) {
      try {
        host = new URL(res.url).host;
      } catch { /* no URL */ }
    }
    return new HttpStatusError(res.status, {
      ...options,
      host,
      summary: summary || undefined,
      retryAfterS: retryAfter === undefined ? undefined : retryAfterSeconds(retryAfter),
    });
  }
}
