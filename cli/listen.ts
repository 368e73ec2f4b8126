/**
 * What `mcs serve` and `mcs broker serve` share to open their port: the `--port` option's
 * parser and {@link listen}, which turns a missing net grant into an error that says which grant
 * to add (a least-privilege build may listen only on the addresses it was built with).
 *
 * @example
 * ```ts
 * import { listen, parsePort } from "./listen.ts";
 * const port = parsePort("8765", 8765);
 * const server = listen("127.0.0.1", port, (addr) => `Run deno with --allow-net=${addr}.`, () =>
 *   Deno.serve({ hostname: "127.0.0.1", port }, () => new Response("ok")));
 * await server.shutdown();
 * ```
 * @module
 */

import { PermissionDeniedError, UsageError } from "../lib/errors.ts";

/** The `--port` value, or `fallback` when the option is absent. @throws {UsageError} `invalid_option` */
export function parsePort(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || n > 65535) {
    throw new UsageError(
      "invalid_option",
      `--port must be a number from 0 to 65535, got ${value}.`,
    );
  }
  return n;
}

/**
 * Run `serve()`, turning a missing net grant (`NotCapable`/`PermissionDenied`) into a
 * `permission_denied` error whose message is "This mcs may not listen on <addr>" plus
 * `howToFix(addr)`.
 * @throws {PermissionDeniedError} `permission_denied`, with `details.listen` and `details.permission`
 */
export function listen<T>(
  host: string,
  port: number,
  howToFix: (addr: string) => string,
  serve: () => T,
): T {
  try {
    return serve();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied)) {
      throw e;
    }
    const addr = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    throw new PermissionDeniedError(
      `This mcs may not listen on ${addr}${howToFix(addr)}`,
      `--allow-net=${addr}`,
      { details: { listen: addr } },
    );
  }
}
