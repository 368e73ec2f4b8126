/**
 * `LinkAuthRelay`: an {@link HttpRelay} over the broker's `POST /v1/proxy`.
 *
 * The request is serialised as `{method, url, headers, body, timeout}`; the broker's wrapper
 * `{status_code, headers, body}` (always HTTP 200, even for upstream errors) becomes a real
 * `Response`. Broker-level failures (API key, proxy disabled, host not allowlisted, SSRF block,
 * upstream timeout or unreachable) become typed errors. The broker sees everything relayed,
 * tokens included: use the relay only where direct egress is impossible.
 *
 * @example
 * ```ts
 * import { LinkAuthRelay } from "./relay.ts";
 * const relay = new LinkAuthRelay({ brokerUrl: "https://broker.example", apiKey: "k" });
 * const res = await relay.relay(new Request("https://tenant.auth0.com/oauth/token", { method: "POST" }));
 * ```
 * @module
 */

import { ConfigError, McsError, UsageError } from "../../errors.ts";
import type { FetchLike } from "../../net/types.ts";
import type { HttpRelay } from "../types.ts";
import {
  apiKeyError,
  brokerUnreachable,
  describeBrokerError,
  type ProxyWrapper,
  readBrokerError,
} from "./wire.ts";

/** Options. */
export interface LinkAuthRelayOptions {
  brokerUrl: string;
  apiKey?: string;
  fetch?: FetchLike;
  /** Upstream timeout the broker applies, seconds (1–120; the broker caps it). Default 30. */
  timeoutS?: number;
}

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
/** Headers describing the original (compressed) body, which the broker has already decoded. */
const STALE = new Set(["content-encoding", "content-length", "transfer-encoding", "connection"]);

/** The `/v1/proxy` client. */
export class LinkAuthRelay implements HttpRelay {
  #broker: string;
  #opts: LinkAuthRelayOptions;
  #fetch: FetchLike;

  constructor(options: LinkAuthRelayOptions) {
    this.#broker = options.brokerUrl.replace(/\/+$/, "");
    this.#opts = options;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Send `request` through the broker and return the upstream response. */
  async relay(request: Request): Promise<Response> {
    const method = request.method.toUpperCase();
    if (!METHODS.has(method)) {
      throw new UsageError("linkauth_proxy_method", `The LinkAuth proxy cannot relay ${method}.`);
    }
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => (headers[name] = value));
    let body: string | null = null;
    if (request.body) {
      const bytes = new Uint8Array(await request.arrayBuffer());
      try {
        body = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        throw new UsageError(
          "linkauth_proxy_binary_body",
          "The LinkAuth proxy carries text bodies only; this request body is binary.",
        );
      }
    }
    const timeout = Math.min(120, Math.max(1, Math.round(this.#opts.timeoutS ?? 30)));
    let res: Response;
    try {
      res = await this.#fetch(`${this.#broker}/v1/proxy`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(this.#opts.apiKey ? { "x-api-key": this.#opts.apiKey } : {}),
        },
        body: JSON.stringify({ method, url: request.url, headers, body, timeout }),
        signal: request.signal,
        timeoutMs: (timeout + 5) * 1000,
        idempotent: false,
        retries: 0,
        redirect: "manual",
      });
    } catch (cause) {
      if (cause instanceof McsError) throw cause;
      throw brokerUnreachable(this.#broker, cause);
    }
    if (res.status !== 200) throw await this.#error(res, new URL(request.url).host);
    let wrapper: ProxyWrapper;
    try {
      wrapper = await res.json();
    } catch (cause) {
      throw new McsError(
        "linkauth_proxy_invalid",
        "The LinkAuth proxy answer is not JSON.",
        "runtime",
        {
          cause,
        },
      );
    }
    if (
      typeof wrapper?.status_code !== "number" || wrapper.status_code < 100 ||
      wrapper.status_code > 599
    ) {
      throw new McsError(
        "linkauth_proxy_invalid",
        "The LinkAuth proxy answer has no valid status_code.",
      );
    }
    const out = new Headers();
    for (const [name, value] of Object.entries(wrapper.headers ?? {})) {
      if (typeof value === "string" && !STALE.has(name.toLowerCase())) out.set(name, value);
    }
    const noBody = NULL_BODY.has(wrapper.status_code) || method === "HEAD";
    return new Response(noBody ? null : (wrapper.body ?? ""), {
      status: wrapper.status_code,
      headers: out,
    });
  }

  async #error(res: Response, host: string): Promise<McsError> {
    const err = await readBrokerError(res);
    const details = { status: res.status, title: err.title };
    if (err.shape === "api_key" || res.status === 401) {
      return apiKeyError(!!this.#opts.apiKey, details);
    }
    if (res.status === 403 && err.title === "Proxy Disabled") {
      return new ConfigError(
        "linkauth_proxy_disabled",
        "The LinkAuth broker's proxy is disabled.",
        { details },
      );
    }
    if (res.status === 403 && err.title === "Domain Not Allowed") {
      return new ConfigError(
        "linkauth_proxy_host_not_allowed",
        `The LinkAuth broker does not relay to ${host}; add it to the broker's proxy allowlist.`,
        { details },
      );
    }
    if (res.status === 403) {
      return new ConfigError(
        "linkauth_proxy_blocked",
        `The LinkAuth broker refused to relay to ${host} (${describeBrokerError(err)}).`,
        { details },
      );
    }
    if (res.status === 504) {
      return new McsError(
        "linkauth_proxy_timeout",
        `${host} did not answer the LinkAuth proxy in time.`,
        "runtime",
        { retryable: true, details },
      );
    }
    if (res.status === 502) {
      return new McsError(
        "linkauth_proxy_unreachable",
        `The LinkAuth broker could not reach ${host}.`,
        "runtime",
        { retryable: true, details },
      );
    }
    return new McsError(
      "linkauth_proxy_failed",
      `The LinkAuth proxy failed (${describeBrokerError(err)}).`,
      "runtime",
      { retryable: res.status >= 500, details },
    );
  }
}
