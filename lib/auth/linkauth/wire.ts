/**
 * LinkAuth v0.2 wire types and the broker's three error body shapes (reference section 2.2):
 * top-level Problem Details, API-key failures nested under `detail`, and FastAPI's 422 list.
 *
 * @example
 * ```ts
 * import { readBrokerError } from "./wire.ts";
 * const res = new Response('{"detail":{"title":"Invalid API Key","status":403}}', { status: 403 });
 * const err = await readBrokerError(res); // { shape: "api_key", title: "Invalid API Key", ... }
 * ```
 * @module
 */

import { ConfigError, McsError, summarizeUpstream } from "../../errors.ts";

/** `POST /v1/sessions` request body (only the fields mcs sends). */
export interface CreateSessionBody {
  public_key: string;
  template?: string | null;
  display_name?: string | null;
  oauth_provider?: string | null;
  oauth_scopes?: string[] | null;
  oauth_extra_params?: Record<string, string> | null;
  custom_authorize_url?: string | null;
  custom_callback_params?: string[] | null;
  custom_state?: string | null;
  ttl?: number | null;
}

/** `POST /v1/sessions` 201 body, field names exactly as the broker returns them. */
export interface CreatedSession {
  session_id: string;
  code: string;
  url: string;
  poll_token: string;
  expires_at: string;
  interval: number;
  callback_secret: string | null;
  webhook_url: string | null;
}

/** `GET /v1/sessions/{id}` 200 body. */
export interface PollBody {
  status: "pending" | "confirmed" | "ready" | "consumed" | string;
  expires_at: string;
  interval: number | null;
  ciphertext: string | null;
  algorithm: string | null;
}

/** `POST /v1/proxy` 200 body. */
export interface ProxyWrapper {
  status_code: number;
  headers: Record<string, string>;
  body: string;
}

/** A broker error, normalised from whichever of the three shapes it came in. */
export interface BrokerError {
  status: number;
  shape: "problem" | "api_key" | "validation" | "unknown";
  type?: string;
  title?: string;
  detail?: string;
  /** The `interval` member of a slow_down problem. */
  interval?: number;
}

/** The slow_down problem type (RFC 8628 error code as a URN). */
export const SLOW_DOWN_TYPE = "urn:ietf:params:oauth:error:slow_down";

const str = (v: unknown) => (typeof v === "string" ? v : undefined);

/** Read a non-2xx broker response into a {@link BrokerError}; never throws. */
export async function readBrokerError(res: Response): Promise<BrokerError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return { status: res.status, shape: "unknown" };
  }
  if (!body || typeof body !== "object") return { status: res.status, shape: "unknown" };
  const b = body as Record<string, unknown>;
  if (Array.isArray(b.detail)) {
    const first = b.detail[0] as Record<string, unknown> | undefined;
    const loc = Array.isArray(first?.loc) ? first.loc.join(".") : undefined;
    return {
      status: res.status,
      shape: "validation",
      title: "Validation Error",
      detail: [loc, str(first?.msg)].filter(Boolean).join(": ") || undefined,
    };
  }
  if (b.detail && typeof b.detail === "object") {
    const p = b.detail as Record<string, unknown>;
    return {
      status: res.status,
      shape: "api_key",
      type: str(p.type),
      title: str(p.title),
      detail: str(p.detail),
    };
  }
  if (typeof b.title === "string" || typeof b.type === "string") {
    return {
      status: res.status,
      shape: "problem",
      type: str(b.type),
      title: str(b.title),
      detail: str(b.detail),
      interval: typeof b.interval === "number" ? b.interval : undefined,
    };
  }
  return { status: res.status, shape: "unknown", detail: str(b.detail) };
}

/** The broker did not answer at all (network, TLS, timeout): retryable. */
export function brokerUnreachable(brokerUrl: string, cause: unknown): McsError {
  return new McsError(
    "linkauth_broker_unreachable",
    `The LinkAuth broker at ${brokerUrl} could not be reached; check the network and try again.`,
    "runtime",
    { retryable: true, cause },
  );
}

/**
 * The broker refused the API key: `rejected` when a key was sent and refused, else missing.
 * @param details non-secret facts (status, title) for the error's details.
 */
export function apiKeyError(rejected: boolean, details: Record<string, unknown>): ConfigError {
  return rejected
    ? new ConfigError(
      "linkauth_api_key_invalid",
      "The LinkAuth broker rejected the API key: check MCS_LINKAUTH_API_KEY.",
      { details },
    )
    : new ConfigError(
      "linkauth_api_key_missing",
      "The LinkAuth broker requires an API key: set MCS_LINKAUTH_API_KEY.",
      { details },
    );
}

/** One line describing a broker error: its title and detail, redacted and shortened. */
export function describeBrokerError(e: BrokerError): string {
  const text = summarizeUpstream([e.title, e.detail].filter(Boolean).join(": "));
  return text ? `HTTP ${e.status} ${text}` : `HTTP ${e.status}`;
}
