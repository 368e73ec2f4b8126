/**
 * The MCP server: the agent tools over the Model Context Protocol (the official SDK's low-level
 * `Server`, protocol 2025-11-25, negotiating down to 2025-06-18 and 2025-03-26), transport-free
 * (`mcs mcp` connects it to stdio, `mcs serve` to Streamable HTTP).
 *
 * Guarantees:
 * - `tools/list` is the catalogue `mcs tools` prints (see `./tools.ts`), computed once.
 * - Every tool outcome is a tool result, never a JSON-RPC error: success is `structuredContent`
 *   (the same `result` object `mcs exec` prints) plus a text copy; a failure is `isError: true`
 *   with the CLI contract's error document (`{ok:false,error:{code,message,retryable}}`) as
 *   `structuredContent` and a sentence as text. JSON-RPC errors are for protocol problems only
 *   (an unknown tool name, malformed params).
 * - Sign-in: when a call needs the user (an {@link AuthChallenge}), a client that declared the
 *   `elicitation.url` capability gets `elicitation/create` in URL mode; the server then polls
 *   (runs the call again every `retry_after_s`), sends `notifications/elicitation/complete` when
 *   the step is done, elicits the next step (the Connected Accounts consent) the same way, and
 *   returns the tool's real result: one tool call for the model. A decline, a cancel or an
 *   expired step ends the call with the fallback below. For `auth0-oauth` (a loopback redirect,
 *   no broker to poll) the call itself waits: the connector starts the callback server, its
 *   authorize URL (then the consent URL) is elicited the same way, and each step's callback
 *   completes it; a decline, a cancelled elicitation or a cancelled request stops the wait and
 *   releases the port. Parallel calls share one sign-in (the provider runs one flight): the
 *   first call's client is asked, the others wait for it, and one whose shared sign-in ended
 *   without it runs again with its own. Any other client gets the fallback at once: `isError: true`, the `auth_required` document as `structuredContent`, and text saying
 *   what to show the user and to call the tool again. Flow state lives in the CLI's cache store,
 *   so the next call (or an `mcs exec`) continues where this one stopped.
 * - Every result's text stands on its own, for hosts that ignore `structuredContent`.
 * - Calls run in parallel; a cancelled call (`notifications/cancelled`) gets its `signal`
 *   aborted (the runner aborts its Gmail requests) and no response. With a `progressToken`, the
 *   call reports `notifications/progress`: when it starts (progress 0), when a sign-in wait
 *   starts and then while it lasts ("still waiting for the user to sign in: ...", saying what
 *   the user should do: at every check of a polled step, every `stillWaitingMs` of a loopback
 *   one), so a client can keep extending its timeout while the user signs in; about every tenth
 *   of a metadata fetch (a search, a thread list: every strategy; a batch, each chunk) and each
 *   step of an attachment download (with `total`). Progress rises strictly within a call.
 *   Without a token nothing is reported and the Gmail client gets no hook at all.
 *
 * @example
 * ```ts
 * import { createMcpServer } from "./server.ts";
 * const server = await createMcpServer({
 *   version: "0.1.0",
 *   legacy: false,
 *   call: (name, args) => Promise.resolve({ name, args }),
 *   describe: (e) => ({ ok: false, error: { code: "x", message: String(e), retryable: false } }),
 * });
 * // await server.connect(transport);
 * ```
 * @module
 */

import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { CallToolRequest, CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { AuthChallenge } from "../auth/types.ts";
import { toolByName } from "../tools/catalog.ts";
import type { LoopbackSession } from "../auth/oauth/connector.ts";
import type { GmailProgress } from "../gmail/http.ts";
import type { CallHooks } from "./runner.ts";
import { mcpTools } from "./tools.ts";

// The SDK's values come through one dynamic import (lib/mcp/sdk.ts): the bundle keeps them in
// a file that only `mcs mcp` and `mcs serve` read.
const sdk = await import("mcp-sdk");

/** What the server needs from its host (the CLI command). */
export interface McpServerOptions {
  /** The program version (serverInfo). */
  version: string;
  /** Also list the original SDK's nine tool names. */
  legacy: boolean;
  /**
   * Validate and run one tool; throws on failure (an {@link AuthChallenge} when the user must
   * act). `signal` aborts when the client cancels the request; `hooks` carry the call's progress
   * reporter and, for a client with URL elicitation, its in-call sign-in.
   */
  call(name: string, args: unknown, signal: AbortSignal, hooks?: CallHooks): Promise<unknown>;
  /** The CLI contract's document for a thrown value (`failure(e).doc`). */
  describe(e: unknown): Record<string, unknown>;
  /** A log line (stderr); the server also sends it as `notifications/message`. */
  log?(level: "info" | "warning" | "error", text: string): void;
  /** Clock (epoch ms) and sleep, for tests. */
  now?(): number;
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  /** Longest wait for one sign-in step when the challenge names no expiry (default 15 min). */
  stepTimeoutMs?: number;
  /**
   * How often a call waiting for the user's `auth0-oauth` sign-in reports "still waiting"
   * progress (default 10 s; tests shorten it).
   */
  stillWaitingMs?: number;
}

/** What the SDK passes a request handler (the part used here). */
interface CallExtra {
  signal: AbortSignal;
  requestId: string | number;
  sendNotification(n: { method: string; params?: Record<string, unknown> }): Promise<void>;
}

/** `notifications/progress` of one call (all no-ops unless the client sent a progressToken). */
interface Progress {
  /** Whether the client asked for progress. */
  readonly active: boolean;
  /** A step (progress rises by one). */
  step(message: string): void;
  /** The Gmail client's report of one operation, offset so that progress keeps rising. */
  readonly gmail?: (p: GmailProgress) => void;
}

function progressOf(token: unknown, extra: CallExtra): Progress {
  if (typeof token !== "string" && typeof token !== "number") {
    return { active: false, step: () => {} };
  }
  let last = -1;
  let base = 0;
  let opDone: number | undefined;
  const send = (progress: number, message: string, total?: number) => {
    last = progress;
    extra.sendNotification({
      method: "notifications/progress",
      params: {
        progressToken: token,
        progress,
        ...(total !== undefined ? { total } : {}),
        message,
      },
    }).catch(() => {});
  };
  return {
    active: true,
    step: (message) => send(last + 1, message),
    gmail: (p) => {
      // A new operation (its count starts again) continues from the last value sent.
      if (opDone === undefined || p.done <= opDone) base = Math.max(last, 0);
      opDone = p.done;
      send(base + p.done, p.message, p.total === undefined ? undefined : base + p.total);
    },
  };
}

/** The `auth_required` document's fields used here (see cli/output.ts). */
interface AuthDoc {
  url?: string | null;
  code?: string | null;
  step?: string;
  expires_at?: string | null;
  message?: string;
}

function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Reject as soon as `signal` aborts (the underlying work may finish later, unobserved). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The text a model sees for a step the user must do (stands on its own). */
export function challengeText(tool: string, doc: AuthDoc): string {
  const what = doc.step === "connect"
    ? "connect their Gmail account (Connected Accounts consent)"
    : "sign in";
  const lines = [`Authorization needed: the user must ${what} before ${tool} can run.`];
  if (doc.url) {
    lines.push(
      `Show the user this link and ask them to open it${
        doc.code ? ` and confirm the code ${doc.code}` : ""
      }: ${doc.url}`,
    );
  } else {
    // No link to show (auth0-oauth: a loopback redirect only a local `mcs auth login` receives
    // when the client cannot open the link for this call, or the user declined it).
    if (doc.message) lines.push(doc.message);
    lines.push(
      "To continue, the user runs `mcs auth login` in a terminal on the computer where this mcs " +
        "server runs (same settings and profile) and completes the sign-in and the Gmail consent " +
        "in the browser it opens.",
    );
  }
  if (doc.expires_at) lines.push(`The link expires at ${doc.expires_at}.`);
  lines.push(
    `When the user says they are done, call ${tool} again with the same arguments; it continues ` +
      "the sign-in (a second step may follow, shown the same way).",
  );
  return lines.join("\n");
}

/** The text of a failed call. */
function errorText(doc: Record<string, unknown>): string {
  const e = doc.error as { code?: string; message?: string; retryable?: boolean } | undefined;
  if (!e) return JSON.stringify(doc);
  return `Error ${e.code}: ${e.message}${e.retryable ? " (retryable: try again later)" : ""}`;
}

/** A success result: the tool's result object, and the same as JSON text. */
export function okResult(result: unknown): CallToolResult {
  const structured = result && typeof result === "object" && !Array.isArray(result)
    ? result as Record<string, unknown>
    : { result };
  return {
    content: [{ type: "text", text: JSON.stringify(result) }],
    structuredContent: structured,
  };
}

/** Build a server; connect it to a transport with `server.connect(transport)`. */
export function createMcpServer(options: McpServerOptions): Server {
  const tools = mcpTools({ legacy: options.legacy });
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortable;
  const server = new sdk.Server(
    { name: "mcs", title: "mcs: Gmail for agents", version: options.version },
    {
      capabilities: { tools: { listChanged: false }, logging: {} },
      instructions:
        "Gmail tools (search, read, send, drafts, labels, attachments). When a result says " +
        "'Authorization needed', show the user the link and code, then call the same tool again.",
    },
  );
  const log = (level: "info" | "warning" | "error", text: string) => {
    options.log?.(level, text);
    server.sendLoggingMessage({ level, logger: "mcs", data: text }).catch(() => {});
  };

  const failed = (tool: string, e: unknown): CallToolResult => {
    const doc = options.describe(e);
    if (doc.auth_required === true) {
      return {
        isError: true,
        content: [{ type: "text", text: challengeText(tool, doc as AuthDoc) }],
        structuredContent: doc,
      };
    }
    return {
      isError: true,
      content: [{ type: "text", text: errorText(doc) }],
      structuredContent: doc,
    };
  };

  /**
   * URL-mode elicitation for `first` and every step after it: elicit, poll until the step's code
   * changes, notify completion, repeat; the tool's result at the end, or the fallback.
   */
  const signInThenRun = async (
    tool: string,
    args: unknown,
    first: AuthChallenge,
    extra: CallExtra,
    progress: Progress,
  ): Promise<CallToolResult> => {
    let challenge = first;
    for (;;) {
      if (!challenge.url) return failed(tool, challenge);
      const elicitationId = crypto.randomUUID();
      const deadline = challenge.expiresAt ?? now() + (options.stepTimeoutMs ?? 15 * 60_000);
      const step = challenge.step === "connect" ? "connect Gmail" : "sign in";
      const message = `mcs needs you to ${step}${
        challenge.userCode ? `: confirm the code ${challenge.userCode} on the page` : ""
      }. Open the link to continue ${tool}.`;
      log("info", `${tool}: asking the client to open the ${challenge.step} URL`);
      const answer = await server.elicitInput(
        { mode: "url", message, url: challenge.url, elicitationId },
        {
          relatedRequestId: extra.requestId,
          signal: extra.signal,
          timeout: Math.max(1_000, deadline - now()),
        },
      ).catch(() => ({ action: "cancel" as const }));
      if (answer.action !== "accept") return failed(tool, challenge);
      const complete = server.createElicitationCompletionNotifier(elicitationId, {
        relatedRequestId: extra.requestId,
      });
      progress.step(`waiting for the user to ${step}`);
      // Poll: run the call again until the step's code changes (done) or it expires.
      for (;;) {
        if (now() >= deadline) return failed(tool, challenge);
        await sleep(Math.max(1, challenge.retryAfterS ?? 2) * 1000, extra.signal);
        progress.step(
          `still waiting for the user to ${step}${
            challenge.userCode ? ` and confirm the code ${challenge.userCode}` : ""
          } at the link; checking whether they have finished`,
        );
        try {
          const result = await raceAbort(
            options.call(tool, args, extra.signal, { progress: progress.gmail }),
            extra.signal,
          );
          await complete().catch(() => {});
          return okResult(result);
        } catch (e) {
          if (extra.signal.aborted) throw e;
          if (!(e instanceof AuthChallenge)) {
            await complete().catch(() => {});
            return failed(tool, e);
          }
          if (e.userCode === challenge.userCode && e.url === challenge.url) continue;
          await complete().catch(() => {});
          challenge = e;
          break;
        }
      }
    }
  };

  /**
   * The in-call sign-in of a connector that waits for the user itself (`auth0-oauth`): each URL
   * it hands over is elicited in URL mode; the previous step is complete when the next URL comes
   * (its callback arrived) or the call succeeds. A decline or a failed elicitation aborts the
   * session (the connector releases its port and raises its challenge), as does a cancelled
   * request. `end` must be called once the call is over (`end()` for success).
   */
  const loopbackSignIn = (tool: string, extra: CallExtra, progress: Progress) => {
    const stop = new AbortController();
    const over = new AbortController(); // ends the elicitations still open when the call ends
    const onCancel = () => stop.abort(extra.signal.reason);
    extra.signal.addEventListener("abort", onCancel, { once: true });
    let open: { complete: () => Promise<void> } | undefined;
    let ticker: ReturnType<typeof setInterval> | undefined;
    let ended = false;
    let asked = false;
    /** The open step is done: tell the client. */
    const completeOpen = () => {
      const step = open;
      open = undefined;
      clearInterval(ticker);
      step?.complete().catch(() => {});
    };
    const timeoutMs = options.stepTimeoutMs ?? 15 * 60_000;
    const session: LoopbackSession = {
      signal: stop.signal,
      timeoutMs,
      onUrl(url, step) {
        asked = true;
        completeOpen();
        const elicitationId = crypto.randomUUID();
        open = {
          complete: server.createElicitationCompletionNotifier(elicitationId, {
            relatedRequestId: extra.requestId,
          }),
        };
        const what = step === "connect" ? "connect Gmail" : "sign in";
        log("info", `${tool}: asking the client to open the ${step} URL`);
        server.elicitInput(
          {
            mode: "url",
            message: `mcs needs you to ${what}. Open the link in a browser on the computer ` +
              `mcs runs on (it returns to a 127.0.0.1 address) to continue ${tool}.`,
            url,
            elicitationId,
          },
          {
            relatedRequestId: extra.requestId,
            signal: AbortSignal.any([stop.signal, over.signal]),
            timeout: timeoutMs,
          },
        ).then(
          (answer: { action: string }) => {
            if (answer.action !== "accept") stop.abort(new Error(`elicitation ${answer.action}`));
          },
          (e: unknown) => stop.abort(e),
        );
        progress.step(`waiting for the user to ${what}`);
        if (progress.active) {
          ticker = setInterval(
            () =>
              progress.step(
                `still waiting for the user to ${what}: open the link in a browser on the ` +
                  "computer mcs runs on",
              ),
            options.stillWaitingMs ?? 10_000,
          );
        }
      },
    };
    return {
      session,
      /** Whether no URL came through this session and it was not stopped. */
      unused: () => !asked && !stop.signal.aborted,
      /** Whether the session was stopped (declined, failed or cancelled elicitation). */
      cancelled: () => stop.signal.aborted,
      /** The call is over: `end()` after success (the open step is complete), else `end(error)`. */
      end(error?: unknown) {
        if (ended) return;
        ended = true;
        extra.signal.removeEventListener("abort", onCancel);
        over.abort();
        if (error === undefined) completeOpen();
        else {
          clearInterval(ticker);
          open = undefined;
        }
      },
    };
  };

  server.setRequestHandler(sdk.ListToolsRequestSchema, () => ({ tools }));
  server.setRequestHandler(
    sdk.CallToolRequestSchema,
    async (request: CallToolRequest, extra: CallExtra): Promise<CallToolResult> => {
      const { name, arguments: args = {} } = request.params;
      if (!toolByName(name)) {
        throw new sdk.McpError(sdk.ErrorCode.InvalidParams, `Unknown tool: ${name}`);
      }
      const progress = progressOf(request.params._meta?.progressToken, extra);
      progress.step(`running ${name}`);
      const signIn = server.getClientCapabilities()?.elicitation?.url
        ? loopbackSignIn(name, extra, progress)
        : undefined;
      let ok = false;
      try {
        const hooks: CallHooks = { progress: progress.gmail, signIn: signIn?.session };
        const run = () => raceAbort(options.call(name, args, extra.signal, hooks), extra.signal);
        const result = okResult(
          await run().catch((e) => {
            // This call joined a parallel call's sign-in (the provider runs one flight), which
            // ended without it (declined, cancelled): that flight is over, run with our own.
            if (e instanceof AuthChallenge && !e.url && signIn?.unused()) return run();
            throw e;
          }),
        );
        ok = true;
        return result;
      } catch (e) {
        if (extra.signal.aborted) throw e;
        signIn?.end(e);
        if (signIn?.cancelled()) return failed(name, e);
        if (e instanceof AuthChallenge && server.getClientCapabilities()?.elicitation?.url) {
          return await signInThenRun(name, args, e, extra, progress);
        }
        const result = failed(name, e);
        if (!(e instanceof AuthChallenge)) {
          log("warning", `${name}: ${(result.content[0] as { text: string }).text}`);
        }
        return result;
      } finally {
        if (ok) signIn?.end();
        signIn?.end(extra.signal.reason ?? new Error("ended"));
      }
    },
  );
  return server;
}
