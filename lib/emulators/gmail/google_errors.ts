/**
 * Google API error bodies exactly as Gmail returns them (`{ error: { code, message, errors[],
 * status, details? } }`), for the emulator.
 *
 * @example
 * ```ts
 * import { googleError } from "./google_errors.ts";
 * const { status, body } = googleError.notFound();
 * ```
 * @module
 */

import { RPC_PREFIX } from "./access.ts";

/** An error response: status, JSON body, extra headers. */
export interface ErrorResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function simple(
  code: number,
  status: string,
  reason: string,
  message: string,
  domain = "global",
): ErrorResponse {
  return {
    status: code,
    body: { error: { code, message, errors: [{ message, domain, reason }], status } },
  };
}

/** Builders for every error the emulator produces. */
export const googleError = {
  /**
   * 401. `missing`: no bearer token at all (Google answers "Login Required" / reason `required`
   * with an ErrorInfo `CREDENTIALS_MISSING`; the reference only documents the `authError`
   * variant, so this shape is from observed responses). `invalid`: unknown, expired or revoked
   * token — reference §4.3 `authError` "Invalid Credentials".
   */
  unauthenticated(kind: "missing" | "invalid" = "invalid", rpc = "Unknown"): ErrorResponse {
    const missing = kind === "missing";
    return {
      status: 401,
      headers: {
        "www-authenticate": missing
          ? 'Bearer realm="https://accounts.google.com/"'
          : 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
      },
      body: {
        error: {
          code: 401,
          message: `${
            missing
              ? "Request is missing required authentication credential."
              : "Request had invalid authentication credentials."
          } Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.`,
          errors: [{
            message: missing ? "Login Required." : "Invalid Credentials",
            domain: "global",
            reason: missing ? "required" : "authError",
            location: "Authorization",
            locationType: "header",
          }],
          status: "UNAUTHENTICATED",
          ...(missing
            ? {
              details: [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                reason: "CREDENTIALS_MISSING",
                domain: "googleapis.com",
                metadata: { method: RPC_PREFIX + rpc, service: "gmail.googleapis.com" },
              }],
            }
            : {}),
        },
      },
    };
  },
  /**
   * 403 insufficient scope (reference §4.3: `insufficientPermissions` +
   * `ACCESS_TOKEN_SCOPE_INSUFFICIENT`). `WWW-Authenticate` lists the scopes that would do,
   * space-separated, as RFC 6750 §3 asks.
   */
  insufficientScope(rpc: string, scopes: readonly string[]): ErrorResponse {
    return {
      status: 403,
      headers: {
        "www-authenticate":
          `Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="${
            scopes.join(" ")
          }"`,
      },
      body: {
        error: {
          code: 403,
          message: "Request had insufficient authentication scopes.",
          errors: [{
            message: "Insufficient Permission",
            domain: "global",
            reason: "insufficientPermissions",
          }],
          status: "PERMISSION_DENIED",
          details: [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            domain: "googleapis.com",
            metadata: { service: "gmail.googleapis.com", method: RPC_PREFIX + rpc },
          }],
        },
      },
    };
  },
  /**
   * 403 `forbidden`: a valid token that may not do this (metadata scope with `q` or
   * `format=full|raw`; another user's mailbox: "Delegation denied for <token's user>"). The
   * reference says only that these are forbidden; reason and message are from observed
   * responses.
   */
  forbidden(message: string): ErrorResponse {
    return simple(403, "PERMISSION_DENIED", "forbidden", message);
  },
  serviceDisabled(project: string): ErrorResponse {
    const url =
      `https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=${project}`;
    const message =
      `Gmail API has not been used in project ${project} before or it is disabled. Enable it by visiting ${url} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.`;
    return {
      status: 403,
      body: {
        error: {
          code: 403,
          message,
          errors: [{
            message,
            domain: "usageLimits",
            reason: "accessNotConfigured",
            extendedHelp: "https://console.developers.google.com",
          }],
          status: "PERMISSION_DENIED",
          // Reference §4.3 marks the exact shape unverified; newer bodies put the ErrorInfo
          // first, then a LocalizedMessage, then the Help link.
          details: [
            {
              "@type": "type.googleapis.com/google.rpc.ErrorInfo",
              reason: "SERVICE_DISABLED",
              domain: "googleapis.com",
              metadata: {
                service: "gmail.googleapis.com",
                consumer: `projects/${project}`,
                activationUrl: url,
                serviceTitle: "Gmail API",
                containerInfo: project,
              },
            },
            {
              "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
              locale: "en-US",
              message,
            },
            {
              "@type": "type.googleapis.com/google.rpc.Help",
              links: [{ description: "Google developers console API activation", url }],
            },
          ],
        },
      },
    };
  },
  rateLimited(status: 429 | 403, retryAfterS?: number): ErrorResponse {
    const r = status === 429
      ? simple(
        429,
        "RESOURCE_EXHAUSTED",
        "rateLimitExceeded",
        "Too many concurrent requests for user",
        "global",
      )
      : simple(
        403,
        "PERMISSION_DENIED",
        "userRateLimitExceeded",
        "User-rate limit exceeded.",
        "usageLimits",
      );
    if (retryAfterS !== undefined) r.headers = { "retry-after": String(retryAfterS) };
    return r;
  },
  /**
   * 429 for the per-user quota (15,000 units/min, reference §4.3). Google names the time in the
   * message; the `Retry-After` header is the emulator's addition (the reference says to honour
   * it "if present").
   */
  userQuota(retryAt: number): ErrorResponse {
    const message = `User-rate limit exceeded.  Retry after ${new Date(retryAt).toISOString()}`;
    const r = simple(429, "RESOURCE_EXHAUSTED", "rateLimitExceeded", message, "usageLimits");
    r.headers = { "retry-after": String(Math.max(1, Math.ceil((retryAt - Date.now()) / 1000))) };
    return r;
  },
  backend(status: 500 | 503): ErrorResponse {
    return status === 500
      ? simple(500, "INTERNAL", "backendError", "Internal error encountered.")
      : simple(503, "UNAVAILABLE", "backendError", "The service is currently unavailable.");
  },
  notFound(): ErrorResponse {
    return simple(404, "NOT_FOUND", "notFound", "Requested entity was not found.");
  },
  invalidArgument(message: string): ErrorResponse {
    return simple(400, "INVALID_ARGUMENT", "invalidArgument", message);
  },
  /**
   * 400 for a request Google's front end cannot bind (unknown query parameter or JSON field,
   * bad enum, boolean or number): INVALID_ARGUMENT with a `google.rpc.BadRequest` detail. The
   * message texts are Google's as seen in public reports; `reason: "invalid"` and the detail's
   * shape are not in the reference (GUESSES.md). `errors[].reason` is `invalidArgument` like the
   * emulator's other 400s (a guess: Google may send `invalid` or `badRequest` here).
   */
  badRequestField(message: string, field?: string): ErrorResponse {
    return {
      status: 400,
      body: {
        error: {
          code: 400,
          message,
          errors: [{ message, domain: "global", reason: "invalidArgument" }],
          status: "INVALID_ARGUMENT",
          details: [{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            fieldViolations: [{ ...(field ? { field } : {}), description: message }],
          }],
        },
      },
    };
  },
  /**
   * 400 for a batch body Google cannot parse. "0 items. Received batch body: (N) bytes
   * redacted" is observed (skaut-google-drive-gallery#2155); the other reasons are guesses.
   */
  badBatch(reason: string): ErrorResponse {
    return simple(
      400,
      "INVALID_ARGUMENT",
      "badRequest",
      `Failed to parse batch request, error: ${reason}`,
    );
  },
  failedPrecondition(message: string): ErrorResponse {
    return simple(400, "FAILED_PRECONDITION", "failedPrecondition", message);
  },
  conflict(message: string): ErrorResponse {
    return simple(409, "ALREADY_EXISTS", "duplicate", message);
  },
  /** 413 (reference §4.1 quotes "Request payload size exceeds the limit: 1048576 bytes"). */
  tooLarge(limit: number): ErrorResponse {
    return simple(
      413,
      "INVALID_ARGUMENT",
      "badRequest",
      `Request payload size exceeds the limit: ${limit} bytes.`,
    );
  },
  methodNotAllowed(): ErrorResponse {
    return simple(405, "INVALID_ARGUMENT", "badRequest", "Method not allowed.");
  },
};
