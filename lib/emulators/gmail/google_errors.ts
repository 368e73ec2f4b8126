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
  unauthenticated(): ErrorResponse {
    return {
      status: 401,
      headers: {
        "www-authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
      },
      body: {
        error: {
          code: 401,
          message:
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
          errors: [{
            message: "Invalid Credentials",
            domain: "global",
            reason: "authError",
            location: "Authorization",
            locationType: "header",
          }],
          status: "UNAUTHENTICATED",
        },
      },
    };
  },
  insufficientScope(method: string): ErrorResponse {
    return {
      status: 403,
      headers: {
        "www-authenticate":
          'Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="https://mail.google.com/"',
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
            metadata: { service: "gmail.googleapis.com", method },
          }],
        },
      },
    };
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
          details: [
            {
              "@type": "type.googleapis.com/google.rpc.Help",
              links: [{ description: "Google developers console API activation", url }],
            },
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
        "Too many concurrent requests for user.",
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
  failedPrecondition(message: string): ErrorResponse {
    return simple(400, "FAILED_PRECONDITION", "failedPrecondition", message);
  },
  conflict(message: string): ErrorResponse {
    return simple(409, "ALREADY_EXISTS", "duplicate", message);
  },
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
