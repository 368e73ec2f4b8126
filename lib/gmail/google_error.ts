/**
 * Map Google API error responses (`{ error: { code, message, errors[], status, details[] } }`)
 * to {@link McsError}s with stable codes and actionable messages.
 *
 * @example
 * ```ts
 * import { mapGoogleError } from "./google_error.ts";
 * const err = mapGoogleError(404, { error: { code: 404, message: "Requested entity was not found." } }, {
 *   description: "read message 42", scopes: ["gmail.readonly"],
 * });
 * err.code; // "not_found"
 * ```
 * @module
 */

import { McsError, redact } from "../errors.ts";

/** What the failed call was trying to do (for messages). */
export interface OperationInfo {
  /** Short description, e.g. "send a message". */
  description: string;
  /** Scopes any one of which authorises the operation (short or full form). */
  scopes: readonly string[];
}

/** The parsed Google error body (fields we branch on). */
export interface GoogleErrorBody {
  code?: number;
  message?: string;
  status?: string;
  errors?: { reason?: string; domain?: string; message?: string }[];
  details?: {
    "@type"?: string;
    reason?: string;
    metadata?: Record<string, string>;
    links?: { description?: string; url?: string }[];
  }[];
}

/** Pull `error` out of a response body, tolerating non-JSON bodies. */
export function googleErrorOf(body: unknown): GoogleErrorBody {
  if (body && typeof body === "object" && "error" in body) {
    const e = (body as { error: unknown }).error;
    if (e && typeof e === "object") return e as GoogleErrorBody;
  }
  return {};
}

/** Reasons (from `errors[].reason` and `details[].reason`) in one list. */
export function googleReasons(e: GoogleErrorBody): string[] {
  return [
    ...(e.errors ?? []).map((x) => x.reason ?? ""),
    ...(e.details ?? []).map((x) => x.reason ?? ""),
  ].filter(Boolean);
}

const RATE_REASONS = new Set(["rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"]);

/** Whether the status/body means "back off and retry". */
export function isRetryable(status: number, e: GoogleErrorBody): boolean {
  if (status === 429 || status >= 500) return true;
  return status === 403 && googleReasons(e).some((r) => RATE_REASONS.has(r));
}

/** Google's message, redacted and shortened, safe to show. */
export function safeGoogleMessage(e: GoogleErrorBody): string {
  const m = redact((e.message ?? "").replace(/\s+/g, " ").trim());
  return m.length > 300 ? `${m.slice(0, 300)}…` : m;
}

function fullScope(s: string): string {
  return s.startsWith("https://") ? s : `https://www.googleapis.com/auth/${s}`;
}

/** How the failed call was retried, so the message tells what actually happened. */
export interface RetryInfo {
  /** Retries made after the first attempt. */
  retries: number;
  /** Whether the call was safe to repeat (5xx are retried only then: a send is not). */
  idempotent: boolean;
}

/** The sentence after "Gmail is unavailable while trying to …". */
function retryWording(status: number, retry?: RetryInfo): string {
  if (retry && retry.retries > 0) {
    return `; gave up after ${retry.retries} ${
      retry.retries === 1 ? "retry" : "retries"
    }. Try again in a minute.`;
  }
  if (retry && !retry.idempotent && status >= 500) {
    return ". It was not retried automatically: repeating it could do it twice (e.g. send the " +
      "message twice). Check whether it took effect (e.g. the Sent folder) before trying again.";
  }
  return ". Try again in a minute.";
}

/**
 * Build the McsError for a final failure. `retry` says how the call was retried (absent: not
 * known, the message then makes no claim about retries).
 */
export function mapGoogleError(
  status: number,
  body: unknown,
  op: OperationInfo,
  retry?: RetryInfo,
): McsError {
  const e = googleErrorOf(body);
  const reasons = googleReasons(e);
  const gm = safeGoogleMessage(e);
  const says = gm ? ` Google says: ${gm}` : "";
  const details: Record<string, unknown> = { httpStatus: status, reasons };
  if (status === 401) {
    return new McsError(
      "gmail_unauthorized",
      `Gmail rejected the access token even after fetching a new one while trying to ${op.description}. Reconnect the Google account (run the login/connect step again).${says}`,
      "runtime",
      { details },
    );
  }
  if (
    status === 403 &&
    reasons.some((r) => r === "accessNotConfigured" || r === "SERVICE_DISABLED")
  ) {
    const info = e.details?.find((d) => d.reason === "SERVICE_DISABLED")?.metadata ?? {};
    const link = info.activationUrl ??
      e.details?.flatMap((d) => d.links ?? []).find((l) => l.url)?.url ??
      /https:\/\/console\.(?:developers|cloud)\.google\.com\/\S+/.exec(e.message ?? "")?.[0]
        ?.replace(/[.,]$/, "");
    const project = info.containerInfo ?? info.consumer?.replace(/^projects\//, "") ??
      /project (\d+)/.exec(e.message ?? "")?.[1];
    return new McsError(
      "gmail_api_disabled",
      `The Gmail API is not enabled in the Google Cloud project${project ? ` ${project}` : ""} ` +
        `behind the Auth0 google-oauth2 connection. Enable it${
          link ? ` at ${link}` : " in Google Cloud Console → APIs & Services → Library → Gmail API"
        }, wait a few minutes, then retry.`,
      "config",
      { details: { ...details, project, activationUrl: link } },
    );
  }
  if (
    status === 403 &&
    (reasons.some((r) =>
      r === "insufficientPermissions" || r === "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    ) ||
      // gmail.metadata grants are refused `q` and format=full/raw with reason `forbidden`.
      (reasons.includes("forbidden") && /metadata scope/i.test(e.message ?? "")))
  ) {
    const needed = op.scopes.map(fullScope);
    return new McsError(
      "gmail_insufficient_scope",
      `The Google token lacks the scope needed to ${op.description}: it needs one of ${
        needed.join(", ")
      }. ` +
        `Add the scope to the Auth0 google-oauth2 connection (and the Token Vault connected account), then reconnect the Google account.`,
      "config",
      { details: { ...details, requiredScopes: needed } },
    );
  }
  if (isRetryable(status, e)) {
    return new McsError(
      status >= 500 ? "gmail_unavailable" : "gmail_rate_limited",
      `Gmail ${
        status >= 500 ? "is unavailable" : "rate limit reached"
      } while trying to ${op.description}${retryWording(status, retry)}${says}`,
      "runtime",
      // A non-idempotent call (a send) that failed with a 5xx may have taken effect: an agent
      // must not blindly repeat it, so it is not marked retryable.
      { retryable: !(retry && !retry.idempotent && status >= 500), details },
    );
  }
  if (status === 404) {
    return new McsError(
      "not_found",
      `Not found while trying to ${op.description}.${says}`,
      "runtime",
      {
        details,
      },
    );
  }
  if (status === 413) {
    return new McsError(
      "gmail_payload_too_large",
      `The request is too large for Gmail while trying to ${op.description}.${says}`,
      "usage",
      { details },
    );
  }
  if (status === 400 && reasons.includes("failedPrecondition")) {
    return new McsError(
      "gmail_failed_precondition",
      `Gmail refused to ${op.description} (the account may have no Gmail service).${says}`,
      "runtime",
      { details },
    );
  }
  if (status === 400) {
    return new McsError(
      "gmail_bad_request",
      `Gmail rejected the request to ${op.description}.${says}`,
      "usage",
      {
        details,
      },
    );
  }
  return new McsError(
    "gmail_error",
    `Gmail returned HTTP ${status} while trying to ${op.description}.${says}`,
    "runtime",
    { details },
  );
}
