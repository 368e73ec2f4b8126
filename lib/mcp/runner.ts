/**
 * The tool runner a long-running MCP server uses: one {@link App} (connections, tokens) and one
 * Gmail client (label map in memory) built on the first call and kept, with the cache store as
 * the source of truth shared with other processes (an `mcs exec` sign-in serves the server, and
 * the other way round).
 *
 * Guarantees:
 * - Arguments are validated against the catalogue before the configuration is read (a bad
 *   argument is reported even with no configuration).
 * - A failed build (missing setting, unwritable cache) is not remembered, so fixing the setting
 *   and calling again works without restarting the host.
 * - Cancellation: every Gmail request of a call carries that call's `signal` (through an
 *   `AsyncLocalStorage` the shared client's fetch reads), so a cancelled call aborts its requests
 *   in flight and starts no new ones, while parallel calls keep theirs. The call then ends at
 *   once with `call_cancelled` (not retryable): nothing retries for a caller who is gone, so a
 *   server's per-user slot is free again as soon as the client disconnects.
 * - The call's other hooks travel the same way: `progress` gets the Gmail client's progress
 *   (metadata batches, attachment downloads) of this call only, and `signIn` makes an
 *   `auth0-oauth` step of this call wait for the loopback callback in this process (the
 *   connector's per-call blocking mode) instead of raising the challenge at once.
 *
 * The Gmail client is built here like `buildApp` builds it (same credentials, network, API base
 * and label cache), with that fetch wrapper added.
 *
 * @example
 * ```ts
 * import { toolRunner } from "./runner.ts";
 * import { resolveConfig } from "../config/resolve.ts";
 * const runner = toolRunner(() => resolveConfig());
 * const labels = await runner.call("list_labels", {}); // may throw AuthChallenge
 * runner.close();
 * ```
 * @module
 */

import type { AsyncLocalStorage } from "node:async_hooks";
import type { App } from "../app/mod.ts";
import type { CacheStore } from "../cache/types.ts";
import type { Config } from "../config/resolve.ts";
import type { GmailClient } from "../gmail/client.ts";
import type { GmailProgress } from "../gmail/http.ts";
import type { LoopbackSession } from "../auth/oauth/connector.ts";
import type { NetInit } from "../net/types.ts";
import type { Net } from "../net/http.ts";
import { McsError } from "../errors.ts";
import { prepareToolCall, runValidated } from "../tools/run.ts";

/** The error a call ends with once its signal aborted (the client cancelled or went away). */
export function callCancelled(cause?: unknown): McsError {
  return new McsError("call_cancelled", "The call was cancelled before it finished.", "runtime", {
    retryable: false,
    cause,
  });
}

/** Per-call hooks beyond the cancel signal (see the module doc). */
export interface CallHooks {
  /** Progress of this call's long Gmail operations. */
  progress?: (p: GmailProgress) => void;
  /** Let an `auth0-oauth` step of this call wait for the user (URL to `onUrl`). */
  signIn?: LoopbackSession;
}

/** What one call carries through the shared App and client. */
interface CallScope extends CallHooks {
  signal?: AbortSignal;
}

/** A runner shared by every session of one server process. */
export interface ToolRunner {
  /**
   * Validate and run one tool; `signal` aborts its Gmail requests.
   * @throws McsError, AuthChallenge
   */
  call(name: string, args: unknown, signal?: AbortSignal, hooks?: CallHooks): Promise<unknown>;
  /** Release the App's connections. */
  close(): void;
}

interface Built {
  app: App;
  gmail: GmailClient;
  /** The calling tool's signal and hooks, read by the shared client and connector. */
  scope: AsyncLocalStorage<CallScope>;
}

/** Options of {@link toolRunner}. */
export interface ToolRunnerOptions {
  /** The root store (a shared Redis store); default: the file store in the cache directory. */
  store?: CacheStore;
  /**
   * The network layer to share (a server's, across its users' runners; see `BuildOptions.net`):
   * the runner's App uses it and {@link ToolRunner.close} leaves it open. Default: the App's own.
   */
  net?: () => Promise<Net>;
}

/** A runner over the configuration `config` resolves. */
export function toolRunner(
  config: () => Promise<Config>,
  options: ToolRunnerOptions = {},
): ToolRunner {
  let built: Promise<Built> | undefined;
  const build = async (): Promise<Built> => {
    // Loaded here, not at the top: a one-file bundle hoists a static `node:` import to the top
    // of mcs.js, and node:async_hooks pulls in Deno's Node compat layer (~10 ms of CPU) on every
    // command, `mcs exec` included.
    const { AsyncLocalStorage } = await import("node:async_hooks");
    const scope = new AsyncLocalStorage<CallScope>();
    const { buildApp } = await import("../app/mod.ts");
    const app = await buildApp(await config(), {
      store: options.store,
      net: await options.net?.(),
      loopbackSession: () => scope.getStore()?.signIn,
    });
    const fetch = async (input: string | URL | Request, init: NetInit = {}) => {
      const own = scope.getStore()?.signal;
      if (own?.aborted) throw callCancelled(own.reason);
      const signal = own && init.signal ? AbortSignal.any([own, init.signal]) : own ?? init.signal;
      try {
        return await app.net(input, signal ? { ...init, signal } : init);
      } catch (e) {
        // The network layer throws the signal's reason (any value); as a typed final error no
        // layer above retries a request for a caller who is gone (and holds its slot meanwhile).
        if (own?.aborted) throw callCancelled(e);
        throw e;
      }
    };
    const gmail = await app.gmail(fetch, (p) => scope.getStore()?.progress?.(p));
    return { app, gmail, scope };
  };
  const get = (): Promise<Built> => {
    if (!built) {
      const p = build();
      built = p;
      p.catch(() => {
        if (built === p) built = undefined;
      });
    }
    return built;
  };
  return {
    async call(name, args, signal, hooks) {
      const valid = prepareToolCall(name, args);
      const { gmail, scope } = await get();
      if (signal?.aborted) throw callCancelled(signal.reason);
      try {
        return await scope.run({ signal, ...hooks }, () => runValidated(name, valid, { gmail }));
      } catch (e) {
        // Whatever broke after the abort (a body read cut short) is the cancellation.
        if (signal?.aborted && !(e instanceof McsError && e.code === "call_cancelled")) {
          throw callCancelled(e);
        }
        throw e;
      }
    },
    close() {
      built?.then((b) => b.app.close(), () => {});
    },
  };
}
