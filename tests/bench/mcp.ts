/**
 * The MCP server's warm path and session setup, measured from an MCP client: `mcs serve` (HTTP)
 * and `mcs mcp` (stdio) run from source as child processes (auth path `auth0`, a pre-stored
 * refresh token, the local stack's emulators over plain HTTP), driven by the SDK's own `Client`
 * in this process.
 *
 * What it measures:
 * - Warm `search_emails` of 20 with metadata (`{"query":"in:inbox","limit":20}`): after one
 *   call that fills the server's memory (token exchange, label map), every call must make
 *   exactly the floor's two Gmail requests (the list and one batch of metadata gets) and no
 *   Auth0 request; the bench checks that on every call, prints the counts and exits 1
 *   otherwise. Per-call latency at 20 ms per Gmail response and at 0 ms, against two measures
 *   of "the network": an in-process floor making the same two requests (interleaved call by
 *   call; the figure held to the ≤ 10 ms target is the median of call − floor), and the nominal
 *   latency × 2 (call − 40 ms, which also counts the injected sleeps' lateness on a busy
 *   machine). Both are upper bounds of the server's own time: they also hold the MCP round trip
 *   and this process's SDK client (it validates `structuredContent` against the tool's
 *   `outputSchema`), shown apart as the `ping` column (an MCP request the server answers
 *   without work).
 * - Session setup as Open WebUI does it for every chat request: `initialize`,
 *   `notifications/initialized`, a GET event stream, `tools/list`, then DELETE of the session,
 *   on the wire with plain fetch (target ≤ 20 ms); the same through the TypeScript SDK's
 *   `Client`, for reference (its `listTools` compiles every tool's `outputSchema` into a
 *   validator: client time, not the server's); and a stateless `tools/list` POST (no session),
 *   for hosts that skip the handshake.
 *
 * No TLS: the warm server keeps its connections, so a handshake is not on the warm path, and
 * Deno.serve's own TLS stalls each response on the client's delayed ACK (see
 * tests/bench/search_floor.ts), which would hide the server's cost.
 *
 * ```sh
 * deno task bench:mcp                              # 41 calls per row
 * deno run -A tests/bench/mcp.ts --runs 101 --json
 * deno run -A tests/bench/mcp.ts --transport http  # or stdio; default both
 * ```
 *
 * @example
 * ```sh
 * deno run -A tests/bench/mcp.ts --runs 21
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { startStack } from "../../lib/emulators/stack.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { httpClient, stdioClient } from "../mcp/_mcp.ts";
import { startServe } from "../serve/_serve.ts";

const ARGS = { query: "in:inbox", limit: 20 };
/** Injected latency per Gmail response, ms. */
const LATENCIES = [20, 0];
/** Targets, ms of server time. */
const WARM_TARGET_MS = 10;
const SETUP_TARGET_MS = 20;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.ceil(i)] - s[lo]) * (i - lo);
}

/**
 * The floor of a warm search in this process: the same two Gmail requests mcs makes
 * (`messages.list`, then one batch of `messages.get?format=metadata`), on this process's kept
 * connections, as tests/bench/floor_search.ts makes them. Its time is "the network" as this
 * machine delivers it (an injected 20 ms sleep ends a little late on a busy machine).
 */
async function floorSearch(base: string, token: string): Promise<number> {
  const authorization = `Bearer ${token}`;
  const users = "/gmail/v1/users/me";
  const list = await fetch(
    `${base}${users}/messages?${new URLSearchParams({ q: ARGS.query, maxResults: "20" })}`,
    { headers: { authorization } },
  );
  if (!list.ok) throw new Error(`messages.list: HTTP ${list.status}`);
  const ids = ((await list.json()).messages ?? []).map((m: { id: string }) => m.id) as string[];
  const boundary = "floor_batch_boundary";
  const meta = "format=metadata&metadataHeaders=From&metadataHeaders=To" +
    "&metadataHeaders=Subject&metadataHeaders=Date";
  const body =
    ids.map((id, i) =>
      `--${boundary}\r\nContent-Type: application/http\r\nContent-ID: <item${i}>\r\n\r\n` +
      `GET ${users}/messages/${id}?${meta} HTTP/1.1\r\n\r\n\r\n`
    ).join("") + `--${boundary}--\r\n`;
  const batch = await fetch(`${base}/batch/gmail/v1`, {
    method: "POST",
    headers: { authorization, "content-type": `multipart/mixed; boundary=${boundary}` },
    body,
  });
  if (!batch.ok) throw new Error(`batch: HTTP ${batch.status}`);
  const parts = (await batch.text()).split("Content-ID").length - 1;
  if (parts !== 20) throw new Error(`floor: expected 20 batch parts, got ${parts}`);
  return ids.length;
}

/**
 * Open WebUI's wire pattern for one chat request, with plain fetch: initialize (its response
 * read), `notifications/initialized`, a GET event stream opened as SDK clients do, tools/list,
 * then DELETE of the session. Returns the milliseconds from the first byte sent to the DELETE's
 * answer.
 */
async function wireSession(url: string): Promise<number> {
  const h = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  const t0 = performance.now();
  const init = await fetch(url, {
    method: "POST",
    headers: h,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "bench", version: "1" },
      },
    }),
  });
  await init.text();
  const sid = init.headers.get("mcp-session-id");
  if (!sid) throw new Error(`initialize opened no session (HTTP ${init.status})`);
  const hs = { ...h, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" };
  const note = await fetch(url, {
    method: "POST",
    headers: hs,
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await note.body?.cancel();
  const stream = fetch(url, { method: "GET", headers: { ...hs, accept: "text/event-stream" } });
  const list = await fetch(url, {
    method: "POST",
    headers: hs,
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
  });
  const text = await list.text();
  if (!text.includes('"search_emails"')) throw new Error(`tools/list: ${text.slice(0, 200)}`);
  const del = await fetch(url, { method: "DELETE", headers: hs });
  await del.body?.cancel();
  const ms = performance.now() - t0;
  await (await stream).body?.cancel();
  if (del.status !== 200) throw new Error(`DELETE: HTTP ${del.status}`);
  return ms;
}

/** One row of the warm table. */
export interface WarmRow {
  transport: "http" | "stdio";
  latencyMs: number;
  runs: number;
  medianMs: number;
  p90Ms: number;
  /** Median of the in-process floor (the same two requests), interleaved with the calls. */
  floorMedianMs: number;
  /** Per-pair call − floor: median and p90. */
  overFloorMedianMs: number;
  overFloorP90Ms: number;
  /** Call latency minus latency × Gmail requests: median and p90. */
  beyondMedianMs: number;
  beyondP90Ms: number;
  /** Distinct Gmail request counts seen per warm call (2 expected). */
  gmailRequests: number[];
  /** Distinct Auth0 request counts seen per warm call (0 expected). */
  auth0Requests: number[];
  /** Median of an MCP ping on the same connection (client + transport, no server work). */
  pingMedianMs: number;
}

/** The session-setup figures. */
export interface SetupRow {
  name: string;
  /** Whether the row is held to the 20 ms target (the SDK client row is informational). */
  target: boolean;
  runs: number;
  medianMs: number;
  p90Ms: number;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "41" },
      transport: { type: "string", default: "both" },
      json: { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  const transports = values.transport === "both"
    ? ["http", "stdio"] as const
    : [values.transport as "http" | "stdio"];
  const tmp = await Deno.makeTempDir({ prefix: "mcs-bench-mcp-" });
  const stack = await startStack({ tls: false, stateDir: tmp });
  // A Gmail emulator of our own, sharing the stack's Google tokens, with quota metering off:
  // hundreds of searches a minute would exceed Gmail's per-user quota (as they would at Google).
  const gmail = await startGmailEmulator({
    googleTokens: stack.googleTokens,
    seed: true,
    userUnitsPerMinute: false,
  });
  const warm: WarmRow[] = [];
  const setup: SetupRow[] = [];
  const firstCall: Record<string, { gmail: number; auth0: number }> = {};
  try {
    stack.auth0.connectAccount();
    const env = (cache: string): Record<string, string> => ({
      MCS_AUTH: "auth0",
      MCS_AUTH0_DOMAIN: stack.env.MCS_AUTH0_DOMAIN,
      MCS_AUTH0_CLIENT_ID: stack.env.MCS_AUTH0_CLIENT_ID,
      MCS_AUTH0_CLIENT_SECRET: stack.env.MCS_AUTH0_CLIENT_SECRET,
      MCS_AUTH0_REFRESH_TOKEN: stack.auth0.issueRefreshToken(),
      MCS_GMAIL_API_BASE: gmail.url,
      MCS_CACHE_DIR: join(tmp, cache),
    });

    const search = async (client: Client) => {
      const g0 = gmail.requestCount;
      const a0 = stack.auth0.countRequests();
      const t0 = performance.now();
      const r = await client.callTool({ name: "search_emails", arguments: ARGS }) as CallToolResult;
      const ms = performance.now() - t0;
      if (r.isError) throw new Error(`search_emails failed: ${JSON.stringify(r)}`);
      const n = (r.structuredContent as { messages: unknown[] }).messages.length;
      if (n !== 20) throw new Error(`expected 20 messages, got ${n}`);
      return {
        ms,
        gmail: gmail.requestCount - g0,
        auth0: stack.auth0.countRequests() - a0,
      };
    };

    const { token } = stack.googleTokens.issue({
      sub: stack.auth0.user.googleSub,
      email: stack.auth0.user.email,
      scopes: ["https://mail.google.com/"],
      ttlS: 3600,
    });
    const gmailBase = gmail.url.replace(/\/+$/, "");
    const floor = async () => {
      const t0 = performance.now();
      await floorSearch(gmailBase, token);
      return performance.now() - t0;
    };

    const measureWarm = async (transport: "http" | "stdio", client: Client) => {
      gmail.setLatency(0);
      const first = await search(client);
      firstCall[transport] = { gmail: first.gmail, auth0: first.auth0 };
      for (let i = 0; i < 5; i++) await search(client) && await floor(); // JIT, connections
      for (const latencyMs of LATENCIES) {
        gmail.setLatency(latencyMs);
        const ms: number[] = [];
        const beyond: number[] = [];
        const gmailSeen = new Set<number>();
        const auth0 = new Set<number>();
        const ping: number[] = [];
        const floors: number[] = [];
        const over: number[] = [];
        for (let i = 0; i < runs; i++) {
          // Alternate which goes first, so a busy moment hits both alike.
          let f = i % 2 ? await floor() : 0;
          const r = await search(client);
          if (i % 2 === 0) f = await floor();
          floors.push(f);
          over.push(r.ms - f);
          ms.push(r.ms);
          beyond.push(r.ms - latencyMs * r.gmail);
          gmailSeen.add(r.gmail);
          auth0.add(r.auth0);
          const p0 = performance.now();
          await client.ping();
          ping.push(performance.now() - p0);
        }
        warm.push({
          transport,
          latencyMs,
          runs,
          medianMs: quantile(ms, 0.5),
          p90Ms: quantile(ms, 0.9),
          floorMedianMs: quantile(floors, 0.5),
          overFloorMedianMs: quantile(over, 0.5),
          overFloorP90Ms: quantile(over, 0.9),
          beyondMedianMs: quantile(beyond, 0.5),
          beyondP90Ms: quantile(beyond, 0.9),
          gmailRequests: [...gmailSeen].sort(),
          auth0Requests: [...auth0].sort(),
          pingMedianMs: quantile(ping, 0.5),
        });
      }
      gmail.setLatency(0);
    };

    if (transports.includes("http")) {
      await using srv = await startServe(env("cache-http"));
      {
        await using c = await httpClient(srv.url);
        await measureWarm("http", c.client);
      }
      // Open WebUI's pattern: a new session per chat request. On the wire (the figure against
      // the target), then through the TypeScript SDK's Client (adds the client's own work: on
      // tools/list it compiles every tool's outputSchema into a validator).
      const wire: number[] = [];
      const sdkClient: number[] = [];
      for (let i = 0; i < runs + 5; i++) {
        const w = await wireSession(srv.url);
        const t0 = performance.now();
        const c = await httpClient(srv.url); // initialize + notifications/initialized
        const { tools } = await c.client.listTools();
        await c.transport.terminateSession(); // DELETE
        const ms = performance.now() - t0;
        await c.client.close();
        if (tools.length === 0) throw new Error("tools/list returned no tools");
        if (i >= 5) {
          wire.push(w);
          sdkClient.push(ms);
        }
      }
      setup.push({
        name: "initialize + initialized + GET stream + tools/list + DELETE (fetch)",
        target: true,
        runs,
        medianMs: quantile(wire, 0.5),
        p90Ms: quantile(wire, 0.9),
      });
      setup.push({
        name:
          "the same through the TypeScript SDK Client (client-side validator compilation included)",
        target: false,
        runs,
        medianMs: quantile(sdkClient, 0.5),
        p90Ms: quantile(sdkClient, 0.9),
      });
      const stateless: number[] = [];
      for (let i = 0; i < runs + 5; i++) {
        const t0 = performance.now();
        const r = await fetch(srv.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
          },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
        });
        const body = await r.json();
        const ms = performance.now() - t0;
        if (!body.result?.tools?.length) throw new Error(`stateless tools/list: ${body}`);
        if (i >= 5) stateless.push(ms);
      }
      setup.push({
        name: "stateless tools/list (no session, fetch)",
        target: true,
        runs,
        medianMs: quantile(stateless, 0.5),
        p90Ms: quantile(stateless, 0.9),
      });
    }
    if (transports.includes("stdio")) {
      await using c = await stdioClient(env("cache-stdio"));
      await measureWarm("stdio", c.client);
    }

    if (values.json) {
      console.log(JSON.stringify({ firstCall, warm, setup }));
      return 0;
    }
    console.log(
      `MCP server, warm search_emails of 20 with metadata (${runs} calls per row; ` +
        `auth path auth0, emulators over HTTP)\n`,
    );
    for (const [t, f] of Object.entries(firstCall)) {
      console.log(
        `first call (${t}): ${f.gmail} Gmail requests, ${f.auth0} Auth0 requests ` +
          `(token exchange and label map, then kept in memory)`,
      );
    }
    console.log(
      "\n| transport | latency per response | Gmail / Auth0 req per call | call median / p90 ms " +
        "| floor median ms | call − floor median / p90 ms | call − latency×2 median / p90 ms " +
        "| × 10 ms target (median) | MCP ping ms |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---|---:|");
    for (const r of warm) {
      const over = r.overFloorMedianMs;
      console.log(
        `| ${r.transport} | ${r.latencyMs} ms | ${r.gmailRequests.join(",")} / ${
          r.auth0Requests.join(",")
        } | ${r.medianMs.toFixed(1)} / ${r.p90Ms.toFixed(1)} | ${r.floorMedianMs.toFixed(1)} | ${
          over.toFixed(1)
        } / ${r.overFloorP90Ms.toFixed(1)} | ${r.beyondMedianMs.toFixed(1)} / ${
          r.beyondP90Ms.toFixed(1)
        } | ${(over / WARM_TARGET_MS).toFixed(2)}× ${over <= WARM_TARGET_MS ? "✓" : "✗"} | ${
          r.pingMedianMs.toFixed(1)
        } |`,
      );
    }
    if (setup.length) {
      console.log("\n| session setup (HTTP) | median ms | p90 ms | target ≤ 20 ms |");
      console.log("|---|---:|---:|---|");
      for (const s of setup) {
        const mark = s.medianMs <= SETUP_TARGET_MS ? "✓" : "✗";
        console.log(
          `| ${s.name} | ${s.medianMs.toFixed(1)} | ${s.p90Ms.toFixed(1)} | ${
            s.target
              ? `${(s.medianMs / SETUP_TARGET_MS).toFixed(2)}× ${mark} (p90 ${
                (s.p90Ms / SETUP_TARGET_MS).toFixed(2)
              }×)`
              : "(client-side, for reference)"
          } |`,
        );
      }
    }
    const bad = warm.filter((r) =>
      r.gmailRequests.some((n) => n !== 2) || r.auth0Requests.some((n) => n !== 0)
    );
    if (bad.length) {
      console.log(
        "\nWarm calls made other than 2 Gmail requests and 0 Auth0 requests: " +
          bad.map((r) => `${r.transport} ${r.latencyMs} ms`).join(", "),
      );
      return 1;
    }
    console.log("\nEvery warm call: exactly 2 Gmail requests, 0 Auth0 requests.");
    return 0;
  } finally {
    await gmail.close();
    await stack.close();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
