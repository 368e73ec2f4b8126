/**
 * A one-shot loopback redirect receiver (RFC 8252 section 7.3) on 127.0.0.1.
 *
 * Only `GET <path>` is served (other paths 404, other methods 405), so a favicon request or a
 * stray probe cannot consume it. A callback whose `state` does not match is answered 400 and
 * ignored (the real one can still arrive). The server closes itself once the callback arrived,
 * on timeout, or on `close()`.
 *
 * @example
 * ```ts
 * import { startCallbackServer } from "./callback_server.ts";
 * const cb = await startCallbackServer({ path: "/callback", state: "xyz", timeoutMs: 60_000 });
 * console.log(cb.redirectUri); // http://127.0.0.1:<port>/callback
 * const params = await cb.result; // URLSearchParams of the redirect
 * ```
 * @module
 */

import { ConfigError, McsError } from "../../errors.ts";

/** Options. */
export interface CallbackServerOptions {
  /** Port on 127.0.0.1 (default 0: ephemeral). */
  port?: number;
  /** Callback path (default `/callback`). */
  path?: string;
  /** Host name written into the redirect URI (default `127.0.0.1`; it always binds 127.0.0.1). */
  redirectHost?: "127.0.0.1" | "localhost";
  /** The `state` the redirect must carry. */
  state: string;
  /** Give up after this many ms (default 300 000). */
  timeoutMs?: number;
}

/** A running receiver. */
export interface CallbackServer {
  readonly redirectUri: string;
  /** Resolves with the callback's query parameters; rejects on timeout or close. */
  readonly result: Promise<URLSearchParams>;
  close(): Promise<void>;
}

const PAGE = (title: string, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><p>${text}</p>`;

/** Start the receiver. */
export function startCallbackServer(options: CallbackServerOptions): Promise<CallbackServer> {
  const path = options.path ?? "/callback";
  let resolve!: (p: URLSearchParams) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<URLSearchParams>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  result.catch(() => {}); // the caller may close before awaiting
  let done = false;
  let server: Deno.HttpServer<Deno.NetAddr>;
  const headers = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
  };
  const finish = () => {
    done = true;
    clearTimeout(timer);
    // Let the response go out first.
    setTimeout(() => server.shutdown().catch(() => {}), 0);
  };
  try {
    server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
      (req) => {
        const url = new URL(req.url);
        if (url.pathname !== path) {
          return new Response(PAGE("Not found", ""), { status: 404, headers });
        }
        if (req.method !== "GET") {
          return new Response(PAGE("Method not allowed", ""), {
            status: 405,
            headers: { ...headers, allow: "GET" },
          });
        }
        if (done) {
          return new Response(PAGE("Already done", "You can close this window."), {
            status: 410,
            headers,
          });
        }
        if (url.searchParams.get("state") !== options.state) {
          return new Response(
            PAGE(
              "Invalid request",
              "This sign-in response does not belong to the pending sign-in.",
            ),
            {
              status: 400,
              headers,
            },
          );
        }
        resolve(url.searchParams);
        finish();
        const failed = url.searchParams.has("error");
        return new Response(
          failed
            ? PAGE("Sign-in was not completed", "Return to the terminal for details.")
            : PAGE("Done", "You can close this window and return to the terminal."),
          { status: failed ? 400 : 200, headers },
        );
      },
    );
  } catch (cause) {
    if (cause instanceof Deno.errors.AddrInUse) {
      return Promise.reject(
        new ConfigError(
          "oauth_callback_port_in_use",
          `Port ${options.port} on 127.0.0.1 is in use; stop what uses it or configure another callback port.`,
          { cause },
        ),
      );
    }
    return Promise.reject(cause);
  }
  const timer = setTimeout(() => {
    reject(
      new McsError(
        "oauth_callback_timeout",
        "No sign-in response arrived in time; run the command again.",
        "runtime",
        { retryable: true },
      ),
    );
    finish();
  }, options.timeoutMs ?? 300_000);
  const host = options.redirectHost ?? "127.0.0.1";
  return Promise.resolve({
    redirectUri: `http://${host}:${server.addr.port}${path}`,
    result,
    close: async () => {
      if (!done) {
        reject(new McsError("oauth_callback_cancelled", "The sign-in was cancelled."));
        done = true;
        clearTimeout(timer);
        await server.shutdown();
      }
      await server.finished;
    },
  });
}
