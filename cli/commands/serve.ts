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

import { UsageError } from "../../lib/errors.ts";
import type { CommandOutput, Context } from "../context.ts";
import type { CallHooks } from "../../lib/mcp/runner.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { listen, parsePort } from "../listen.ts";
import { serverOptions } from "./mcp.ts";

/** How to get a grant to listen on `addr`, for {@link listen}. */
export const serveListenAdvice = (addr: string): string =>
  `: its network grant does not include that address. ` +
  `Rebuild it with \`deno task bundle --allow-host ${addr}\` (or \`deno task compile ` +
  `--allow-host ${addr}\`), use a release binary (they allow any host), pass a --host/--port ` +
  `the build allows, or, from source, run deno with --allow-net=${addr}.`;

/** A positive integer setting from the environment, or `fallback`. @throws {UsageError} */
export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value.trim());
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(
      "invalid_setting",
      `${name} must be a positive whole number, got ${value}.`,
      {
        details: { env: name },
      },
    );
  }
  return n;
}

function list(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

/** How long SIGTERM waits for calls in flight before closing anyway. */
const DRAIN_MS = 30_000;

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const env = (name: string) => ctx.io.env.get(name)?.trim() || undefined;
  const host = typeof ctx.options.host === "string" ? ctx.options.host : "127.0.0.1";
  const port = parsePort(ctx.options.port, 8765);
  const policy = {
    apiKey: env("MCS_SERVE_API_KEY"),
    jwtSecret: env("MCS_SERVE_USER_JWT_SECRET"),
    userHeader: env("MCS_SERVE_USER_HEADER")?.toLowerCase(),
  };
  const allowedOrigins = list(env("MCS_SERVE_ALLOWED_ORIGINS"));
  const corsOrigins = list(env("MCS_SERVE_CORS_ORIGINS"));
  const maxConcurrent = positiveInt("MCS_SERVE_MAX_CONCURRENT", env("MCS_SERVE_MAX_CONCURRENT"), 8);
  const maxBodyBytes = positiveInt(
    "MCS_SERVE_MAX_BODY_BYTES",
    env("MCS_SERVE_MAX_BODY_BYTES"),
    4 * 1024 * 1024,
  );
  const maxUsers = positiveInt("MCS_SERVE_MAX_USERS", env("MCS_SERVE_MAX_USERS"), 200);
  const { checkBind, mcpHttpHandler } = await import("../../lib/mcp/http.ts");
  checkBind(host, policy.apiKey);
  const { checkTeamConfig, teamMode } = await import("../../lib/serve/identity.ts");
  checkTeamConfig(policy);
  const { serveApp } = await import("../../lib/serve/app.ts");
  const { probeStore, userStore } = await import("../../lib/serve/store.ts");
  const { createMcpServer } = await import("../../lib/mcp/server.ts");
  const { mcpTools } = await import("../../lib/mcp/tools.ts");
  const { toolRunner } = await import("../../lib/mcp/runner.ts");
  const { FileCacheStore, MemoryCacheStore } = await import("../../lib/cache/mod.ts");
  const { buildNet, cacheDirOf } = await import("../../lib/app/mod.ts");
  const config = await ctx.config();
  const mode = config.authMode();
  if (teamMode(policy) && (mode === "static" || mode === "auth0")) {
    ctx.io.err(
      `mcs serve: warning: team mode with auth path ${mode}: every user acts as the one ` +
        "configured account (no per-user sign-in). Use auth0-linkauth or linkauth for a team.\n",
    );
  }
  if (teamMode(policy) && mode === "auth0-oauth") {
    ctx.io.err(
      "mcs serve: warning: team mode with auth path auth0-oauth: each user's sign-in ends at a " +
        "callback on 127.0.0.1 of this machine, so only a person at this machine can complete " +
        "it. Use auth0-linkauth for a team.\n",
    );
  }
  // With MCS_STORE, serverOptions opens the shared (Redis) store; it is the root of every user's
  // state. Otherwise the root is the file store in the cache directory; without one (no
  // MCS_CACHE_DIR, no HOME) only the static path works, and it keeps nothing: memory will do,
  // and the calls of a path that needs a cache still fail with the cache directory's error.
  const { options, store: shared, runner: sharedRunner } = await serverOptions(ctx, "mcs serve");
  const root = shared?.store ?? await cacheDirOf(config).then(
    (dir) => new FileCacheStore(dir),
    () => new MemoryCacheStore(),
  );
  // One network layer for every user's App: one HTTP client (and connection pool) per route
  // instead of one per user, and the CA bundle parsed once. It holds no credential: each
  // request carries its user's own token. Built on first use; a failed build is not kept.
  let net: Promise<import("../../lib/net/http.ts").Net> | undefined;
  const sharedNet = () => {
    if (!net) {
      const p = ctx.config().then(buildNet);
      net = p;
      p.catch(() => {
        if (net === p) net = undefined;
      });
    }
    return net;
  };
  const app = serveApp({
    version: denoJson.version,
    tools: mcpTools({ legacy: options.legacy }),
    policy,
    corsOrigins,
    allowedOrigins,
    maxBodyBytes,
    maxConcurrent,
    maxUsers,
    scope: (user) => {
      // Single-user mode: the same root as `mcs mcp` and the CLI (shared store or default).
      const runner = toolRunner(
        () => ctx.config(),
        { store: user === undefined ? shared?.store : userStore(root, user), net: sharedNet },
      );
      // Every tool call, OpenAPI or MCP, counts for the SIGTERM drain.
      const call = (name: string, args: unknown, signal: AbortSignal, hooks?: CallHooks) =>
        app.track(runner.call(name, args, signal, hooks));
      const mcp = mcpHttpHandler({
        newServer: () => createMcpServer({ ...options, call }),
        allowedOrigins: [...allowedOrigins, ...corsOrigins],
        log: (t) => ctx.io.err(`mcs serve: ${t}\n`),
      });
      return {
        call,
        mcp: mcp.handler,
        close: async () => {
          await mcp.close();
          runner.close();
        },
      };
    },
    describe: options.describe,
    probe: async () => {
      await shared?.check();
      await probeStore(root);
    },
    log: (line) => ctx.io.err(line + "\n"),
    warn: (text) => ctx.io.err(`mcs serve: ${text}\n`),
  });
  const server = listen(host, port, serveListenAdvice, () =>
    Deno.serve({
      hostname: host,
      port,
      onListen: (addr) => {
        const shown = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
        const base = `http://${shown}:${addr.port}`;
        ctx.io.err(
          `mcs serve ${denoJson.version}: MCP on ${base}/mcp, OpenAPI on ${base}/openapi.json` +
            `${policy.apiKey ? " (key required)" : ""}` +
            `${teamMode(policy) ? " (team mode: one sign-in per user)" : ""}\n`,
        );
      },
    }, app.handler));
  // SIGTERM/SIGINT: stop accepting, let the calls in flight finish (at most DRAIN_MS), close.
  let stopped: Promise<void> | undefined;
  let onStopped = () => {};
  const done = new Promise<void>((r) => (onStopped = r));
  const stop = () => {
    stopped ??= (async () => {
      ctx.io.err("mcs serve: stopping: finishing the calls in flight\n");
      const shut = server.shutdown();
      const drained = await app.drain(DRAIN_MS);
      if (!drained) ctx.io.err("mcs serve: calls still running after the drain time: closing\n");
      // Let the answers of those calls flush (MCP answers travel on event streams that end
      // after the call); then close what stays open (MCP sessions' standalone GET streams).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = (ms: number) => new Promise((r) => (timer = setTimeout(r, ms)));
      await Promise.race([shut, grace(2_000)]);
      clearTimeout(timer);
      await app.close();
      await Promise.race([shut, grace(2_000)]);
      clearTimeout(timer);
    })().finally(onStopped);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, stop);
  try {
    await Promise.race([server.finished, done]);
  } finally {
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(sig, stop);
    await app.close();
    sharedRunner.close(); // closes the shared store's connection
    net?.then((n) => n.close(), () => {});
  }
  return { result: null, printed: true };
}
