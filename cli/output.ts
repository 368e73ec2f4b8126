/**
 * The agent contract: turn a result or any thrown value into exactly one JSON document and an
 * exit code, plus a one-line human hint for stderr.
 *
 * | outcome | stdout | exit |
 * | --- | --- | --- |
 * | success | `{"ok":true,"result":...}` | 0 |
 * | runtime failure | `{"ok":false,"error":{"code","message","retryable"}}` | 1 |
 * | invalid arguments | same, `error.code` e.g. `invalid_arguments` | 2 |
 * | configuration (missing setting, unwritable cache) | same | 3 |
 * | permission denied by Deno (`permission_denied`, names the flag) | same | 1 |
 * | the user must act | `{"ok":false,"auth_required":true,"message","url","code","scope","step","expires_at","retry_after_s"}` | 4 |
 *
 * @example
 * ```ts
 * import { failure } from "./output.ts";
 * const { doc, exitCode } = failure(new Error("boom"), false);
 * // doc = { ok: false, error: { code: "internal_error", ... } }, exitCode = 1
 * ```
 * @module
 */

import { AuthChallenge } from "../lib/auth/types.ts";
import { McsError, redact } from "../lib/errors.ts";

/** Exit codes. */
export const EXIT = { ok: 0, runtime: 1, usage: 2, config: 3, auth: 4 } as const;

/** The JSON document for an auth challenge. */
export interface AuthRequiredDoc {
  ok: false;
  auth_required: true;
  message: string;
  url: string | null;
  code: string | null;
  scope: string | null;
  step: "login" | "connect";
  expires_at: string | null;
  retry_after_s: number | null;
}

/** The JSON document for any other failure. */
export interface ErrorDoc {
  ok: false;
  error: {
    code: string;
    message: string;
    retryable: boolean;
    details?: Record<string, unknown>;
    stack?: string;
  };
}

/** A failure, rendered. */
export interface Failure {
  doc: AuthRequiredDoc | ErrorDoc;
  exitCode: number;
  /** One line for stderr. */
  hint: string;
}

/** The permission a NotCapable error names, if recognisable. */
function permissionOf(message: string): string | undefined {
  const m = /Requires (\w+) access(?: to "?([^",]+)"?)?/.exec(message);
  return m ? `--allow-${m[1]}${m[2] ? `=${m[2]}` : ""}` : undefined;
}

/**
 * The stderr line for an auth challenge: what to open (and the code to enter) when there is a
 * URL, else the challenge's own message, which says what to do (e.g. "run mcs auth login").
 */
function challengeHint(e: AuthChallenge): string {
  const what = e.step === "connect" ? "connect Gmail" : "sign in";
  if (e.url) {
    return `mcs: authorization needed (${what}): open ${e.url}${
      e.userCode ? ` and enter code ${e.userCode}` : ""
    }, then run the same command again.`;
  }
  const message = redact(e.message).trim();
  return `mcs: authorization needed (${what}): ${message}${/[.!?]$/.test(message) ? "" : "."}`;
}

/** Convert any thrown value into the contract. `debug` adds a stack to internal errors. */
export function failure(e: unknown, debug: boolean): Failure {
  if (e instanceof AuthChallenge) {
    const doc: AuthRequiredDoc = {
      ok: false,
      auth_required: true,
      message: e.message,
      url: e.url ?? null,
      code: e.userCode ?? null,
      scope: e.scope ?? null,
      step: e.step,
      expires_at: e.expiresAt ? new Date(e.expiresAt).toISOString() : null,
      retry_after_s: e.retryAfterS ?? null,
    };
    return { doc, exitCode: EXIT.auth, hint: challengeHint(e) };
  }
  if (e instanceof McsError) {
    const exitCode = e.category === "usage"
      ? EXIT.usage
      : e.category === "config"
      ? EXIT.config
      : EXIT.runtime;
    const message = redact(e.message);
    return {
      doc: {
        ok: false,
        error: {
          code: e.code,
          message,
          retryable: e.retryable,
          ...(e.details ? { details: e.details } : {}),
        },
      },
      exitCode,
      hint: `mcs: ${message}`,
    };
  }
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    const perm = permissionOf((e as Error).message);
    const message = `Permission denied${perm ? `: run with ${perm}` : ""} (${
      redact((e as Error).message.split("\n")[0])
    }).`;
    return {
      doc: {
        ok: false,
        error: {
          code: "permission_denied",
          message,
          retryable: false,
          ...(perm ? { details: { permission: perm } } : {}),
        },
      },
      // Same category as the network layer's PermissionDeniedError: exit 1.
      exitCode: EXIT.runtime,
      hint: `mcs: ${message}`,
    };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const message = `Internal error: ${redact(err.message.split("\n")[0])}${
    debug ? "" : " (set MCS_DEBUG=1 for details)"
  }`;
  return {
    doc: {
      ok: false,
      error: {
        code: "internal_error",
        message,
        retryable: false,
        ...(debug && err.stack ? { stack: redact(err.stack) } : {}),
      },
    },
    exitCode: EXIT.runtime,
    hint: `mcs: ${message}`,
  };
}

/** The success document. */
export function success(result: unknown): { ok: true; result: unknown } {
  return { ok: true, result };
}

/** Serialise a document as one line of JSON with a trailing newline. */
export function jsonLine(doc: unknown): string {
  return JSON.stringify(doc) + "\n";
}
