/**
 * `mcs mcp`: the agent tools as an MCP server on stdio, for hosts that start it as a subprocess
 * (Claude Desktop and Code, Cursor, VS Code, ...). stdout carries protocol messages only; logs go
 * to stderr and to the client as `notifications/message`. Runs until stdin ends.
 *
 * The MCP SDK is loaded here, dynamically, so no other command pays for it.
 *
 * @example
 * ```sh
 * MCS_AUTH=auth0-linkauth mcs mcp
 * ```
 * @module
 */

import type { CommandOutput, Context } from "../context.ts";
import { failure } from "../output.ts";
import type { CallHooks } from "../../lib/mcp/runner.ts";
import denoJson from "../../deno.json" with { type: "json" };

/**
 * The server options both `mcs mcp` and `mcs serve` use. With `MCS_STORE` set, the state lives
 * in that shared store (Redis, lib/cache/open.ts), opened here (a bad URL or key fails at once)
 * and closed with the runner; `store` is then that opened store (for readiness checks).
 */
export async function serverOptions(ctx: Context, prefix: string) {
  const { toolRunner } = await import("../../lib/mcp/runner.ts");
  const { legacyToolsWanted } = await import("../../lib/mcp/tools.ts");
  const debug = ctx.io.env.get("MCS_DEBUG") === "1";
  let store: import("../../lib/cache/open.ts").OpenedStore | undefined;
  if (ctx.io.env.get("MCS_STORE")?.trim()) {
    const { openStore } = await import("../../lib/cache/open.ts");
    store = await openStore({
      env: ctx.io.env,
      onWarning: (m) => ctx.io.err(`${prefix}: warning: ${m}\n`),
    });
    ctx.io.err(`${prefix}: state store: ${store.describe}\n`);
  }
  const inner = toolRunner(() => ctx.config(), { store: store?.store });
  const runner = {
    call: inner.call,
    close() {
      inner.close();
      store?.close().catch(() => {});
    },
  };
  return {
    runner,
    store,
    options: {
      version: denoJson.version,
      legacy: legacyToolsWanted(ctx.io.env.get("MCS_MCP_LEGACY_TOOLS")),
      call: (name: string, args: unknown, signal: AbortSignal, hooks?: CallHooks) =>
        runner.call(name, args, signal, hooks),
      describe: (e: unknown) => failure(e, debug).doc as unknown as Record<string, unknown>,
      log: (level: string, text: string) => ctx.io.err(`${prefix}: ${level}: ${text}\n`),
    },
  };
}

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const { createMcpServer } = await import("../../lib/mcp/server.ts");
  const { DenoStdioTransport } = await import("../../lib/mcp/stdio.ts");
  const { runner, options } = await serverOptions(ctx, "mcs mcp");
  const server = createMcpServer(options);
  const transport = new DenoStdioTransport();
  transport.onerror = (e) => ctx.io.err(`mcs mcp: ${e.message}\n`);
  await server.connect(transport);
  ctx.io.err(
    `mcs mcp ${denoJson.version}: MCP server on stdio (protocol messages on stdout only)\n`,
  );
  await transport.closed;
  runner.close();
  return { result: null, printed: true };
}
