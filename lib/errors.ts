/**
 * Typed errors shared by every layer of mcs.
 *
 * Every failure the program reports is an {@link McsError} (or a subclass) with a stable
 * machine-readable `code`, a human `message` that says what to do, a `retryable` flag and a
 * `category` that the CLI maps to an exit code. Messages never contain secrets: callers pass
 * upstream bodies through {@link summarizeUpstream} rather than echoing them.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./errors.ts";
 * throw new ConfigError("missing_setting", "MCS_AUTH0_DOMAIN is not set ...");
 * ```
 * @module
 */

/** What kind of failure this is; the CLI maps it to an exit code. */
export type ErrorCategory =
  /** Bad arguments or input from the caller (exit 2). */
  | "usage"
  /** A missing or invalid setting, an unwritable cache directory (exit 3). */
  | "config"
  /** Anything else: network, upstream API, internal (exit 1). */
  | "runtime";

/** Options shared by every {@link McsError}. */
export interface McsErrorOptions {
  /** Whether running the same command again later may succeed. */
  retryable?: boolean;
  /** The underlying error, kept for debugging; never printed to agents. */
  cause?: unknown;
  /** Extra machine-readable details (no secrets). */
  details?: Record<string, unknown>;
}

/** Base class of every error mcs reports. */
export class McsError extends Error {
  /** Stable machine-readable error code, snake_case (e.g. `token_vault_not_enabled`). */
  readonly code: string;
  /** Whether a later retry of the same operation may succeed. */
  readonly retryable: boolean;
  /** Exit-code family. */
  readonly category: ErrorCategory;
  /** Extra machine-readable details (no secrets). */
  readonly details?: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    category: ErrorCategory = "runtime",
    options: McsErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "McsError";
    this.code = code;
    this.category = category;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

/** A missing or invalid setting, or an unusable cache directory (exit 3). */
export class ConfigError extends McsError {
  constructor(code: string, message: string, options: McsErrorOptions = {}) {
    super(code, message, "config", options);
    this.name = "ConfigError";
  }
}

/** Invalid arguments or input (exit 2). */
export class UsageError extends McsError {
  constructor(code: string, message: string, options: McsErrorOptions = {}) {
    super(code, message, "usage", options);
    this.name = "UsageError";
  }
}

/**
 * Something this build's Deno permissions do not allow (`Deno.errors.NotCapable`): names the
 * permission flag (e.g. `--allow-write`) so the message says exactly what is missing.
 */
export class PermissionDeniedError extends McsError {
  /** The permission flag, e.g. `--allow-net`. */
  readonly permission: string;

  constructor(message: string, permission: string, options: McsErrorOptions = {}) {
    super("permission_denied", message, "runtime", {
      ...options,
      details: { ...options.details, permission },
    });
    this.name = "PermissionDeniedError";
    this.permission = permission;
  }
}

/** Patterns that look like credentials; used to scrub text that may reach a user. */
const SECRET_PATTERNS: RegExp[] = [
  /(bearer\s+)[A-Za-z0-9._~+/=-]+/gi,
  /((?:access|refresh|id|subject|poll|connect|session)_?token["']?\s*[:=]\s*["']?)[^"'&\s,}]+/gi,
  /((?:client_secret|api_key|code_verifier|password|secret)["']?\s*[:=]\s*["']?)[^"'&\s,}]+/gi,
  /\bya29\.[A-Za-z0-9._-]+/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
];

/** Replace anything that looks like a token or secret with `[redacted]`. */
export function redact(text: string): string {
  let out = text;
  for (const re of SECRET_PATTERNS) {
    out = out.replace(
      re,
      (_m, prefix?: string) => typeof prefix === "string" ? `${prefix}[redacted]` : "[redacted]",
    );
  }
  return out;
}

/**
 * Summarise an upstream error body for a message: only well-known, non-secret fields
 * (`error`, `error_description`, `message`, `code`, `status`), redacted and shortened.
 */
export function summarizeUpstream(body: unknown, max = 200): string {
  let text: string;
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    const inner = b.error && typeof b.error === "object" ? b.error as Record<string, unknown> : b;
    const parts = ["error", "error_description", "message", "code", "status"]
      .map((k) => inner[k])
      .filter((v) => typeof v === "string" || typeof v === "number")
      .map(String);
    text = parts.join(": ");
  } else {
    text = typeof body === "string" ? body : "";
  }
  text = redact(text.replace(/\s+/g, " ").trim());
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
