/**
 * `mcs serve [--host 127.0.0.1] [--port 8765]`: the agent tools as an MCP server over Streamable
 * HTTP at `/mcp` (on `Deno.serve`), for remote hosts and hosts that speak HTTP only. Runs until
 * SIGINT or SIGTERM. See `lib/mcp/http.ts` for the gates (Origin, `MCS_SERVE_API_KEY`).
 *
 * @example
 * ```sh
 * MCS_SERVE_API_KEY=$(openssl rand -hex 32) mcs serve --host 0.0.0.0 --port 8765
 * ```
 * @module
 */

import { PermissionDeniedError, UsageError } from "../../lib/errors.ts";
import type { CommandOutput, Context } from "../context.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { serverOptions } from "./mcp.ts";

/** The `--port` value (default 8765). @throws {UsageError} */
export function parsePort(value: unknown): number {
  if (value === undefined) return 8765;
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
 * Run `serve()`, turning a missing net grant into an error that says how to get one: a
 * least-privilege build (`deno task bundle` / `compile` without `--generic`) may listen only on
 * the addresses it was built with.
 * @throws {PermissionDeniedError} `permission_denied`, with `details.listen` and `details.permission`
 */
export function listen<T>(host: string, port: number, serve: () => T): T {
  try {
    return serve();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied)) {
      throw e;
    }
    const addr = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    throw new PermissionDeniedError(
      `This mcs may not listen on ${addr}: its network grant does not include that address. ` +
        `Rebuild it with \`deno task bundle --allow-host ${addr}\` (or \`deno task compile ` +
        `--allow-host ${addr}\`), use a release binary (they allow any host), pass a --host/--port ` +
        `the build allows, or, from source, run deno with --allow-net=${addr}.`,
      `--allow-net=${addr}`,
      { details: { listen: addr } },
    );
  }
}

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const host = typeof ctx.options.host === "string" ? ctx.options.host : "127.0.0.1";
  const port = parsePort(ctx.options.port);
  const apiKey = ctx.io.env.get("MCS_SERVE_API_KEY")?.trim() || undefined;
  const allowedOrigins = (ctx.io.env.get("MCS_SERVE_ALLOWED_ORIGINS") ?? "").split(",")
    .map((s) => s.trim()).filter(Boolean);
  const { checkBind, mcpHttpHandler } = await import("../../lib/mcp/http.ts");
  checkBind(host, apiKey);
  const { createMcpServer } = await import("../../lib/mcp/server.ts");
  const { runner, options } = await serverOptions(ctx, "mcs serve");
  const http = mcpHttpHandler({
    newServer: () => createMcpServer(options),
    apiKey,
    allowedOrigins,
    log: (t) => ctx.io.err(`mcs serve: ${t}\n`),
  });
  const server = listen(host, port, () =>
    Deno.serve({
      hostname: host,
      port,
      onListen: (addr) => {
        const shown = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
        ctx.io.err(
          `mcs serve ${denoJson.version}: MCP on http://${shown}:${addr.port}/mcp` +
            `${apiKey ? " (key required)" : ""}\n`,
        );
      },
    }, http.handler));
  const stop = () => server.shutdown();
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, stop);
  try {
    await server.finished;
  } finally {
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(sig, stop);
    await http.close();
    runner.close();
  }
  return { result: null, printed: true };
}
