/**
 * Test helpers for the MCP server: the real CLI (`mcs mcp`; `mcs serve` via `../serve/_serve.ts`)
 * in its own process, driven by the MCP SDK's own `Client` over stdio or Streamable HTTP.
 *
 * @example
 * ```ts
 * import { stdioClient } from "./_mcp.ts";
 * await using c = await stdioClient({ MCS_AUTH: "static" });
 * const { tools } = await c.client.listTools();
 * ```
 * @module
 */

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  type CallToolResult,
  type ClientCapabilities,
  type ElicitationCompleteNotification,
  ElicitationCompleteNotificationSchema,
  type ElicitRequest,
  ElicitRequestSchema,
  type JSONRPCMessage,
  type MessageExtraInfo,
} from "@modelcontextprotocol/sdk/types.js";
import { mcsArgs, mcsEnv, ROOT_PATH, sleep } from "../cli/_mcs.ts";
import { assert, assertEquals } from "../support/assert.ts";

/** An SDK client connected to `mcs mcp` over stdio; stderr is collected. */
export async function stdioClient(
  env: Record<string, string>,
  capabilities: ClientCapabilities = {},
) {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: mcsArgs(["mcp"]),
    env: mcsEnv(env),
    cwd: ROOT_PATH,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (c: Uint8Array) => (stderr += new TextDecoder().decode(c)));
  const client = new Client({ name: "mcs-test", version: "1.0.0" }, { capabilities });
  await client.connect(transport);
  return {
    client,
    get stderr() {
      return stderr;
    },
    async [Symbol.asyncDispose]() {
      await client.close();
    },
  };
}

/** An SDK client over Streamable HTTP, with extra request headers (the bearer key). */
export async function httpClient(
  url: string,
  headers: Record<string, string> = {},
  capabilities: ClientCapabilities = {},
) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers },
  });
  const client = new Client({ name: "mcs-test", version: "1.0.0" }, { capabilities });
  await client.connect(transport);
  return {
    client,
    transport,
    async [Symbol.asyncDispose]() {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** A Google access token the stack's Gmail accepts (auth path `static`). */
export function staticEnv(stack: {
  googleTokens: {
    issue(o: { sub: string; email: string; scopes: string[]; ttlS: number }): { token: string };
  };
  auth0: { user: { googleSub: string; email: string } };
  env: Record<string, string>;
}): Record<string, string> {
  const { token } = stack.googleTokens.issue({
    sub: stack.auth0.user.googleSub,
    email: stack.auth0.user.email,
    scopes: ["https://mail.google.com/"],
    ttlS: 3600,
  });
  return {
    MCS_AUTH: "static",
    MCS_GMAIL_TOKEN: token,
    MCS_GMAIL_API_BASE: stack.env.MCS_GMAIL_API_BASE,
    // A stack without TLS has no CA file.
    ...(stack.env.MCS_CA_FILE ? { MCS_CA_FILE: stack.env.MCS_CA_FILE } : {}),
  };
}

/** One URL-mode elicitation the server sent. */
export interface Elicited {
  url: string;
  message: string;
  id: string;
}

/**
 * Record the elicitations `client` receives (each checked to be URL mode) in `asked` and the
 * ids of the `notifications/elicitation/complete` it receives in `completed`; `answer` sets what
 * the client answers (again to change it).
 */
export function elicitations(client: Client) {
  const asked: Elicited[] = [];
  const completed: string[] = [];
  client.setNotificationHandler(
    ElicitationCompleteNotificationSchema,
    (n: ElicitationCompleteNotification) => void completed.push(n.params.elicitationId),
  );
  const answer = (reply: (e: Elicited) => Promise<{ action: "accept" | "decline" }>) =>
    client.setRequestHandler(ElicitRequestSchema, (req: ElicitRequest) => {
      const p = req.params as {
        mode?: string;
        url: string;
        message: string;
        elicitationId: string;
      };
      assertEquals(p.mode, "url");
      const e = { url: p.url, message: p.message, id: p.elicitationId };
      asked.push(e);
      return reply(e);
    });
  return { asked, completed, answer };
}

/** The `auth_required` fields of a sign-in tool result that {@link callThroughSignIn} uses. */
export interface Challenge {
  auth_required?: boolean;
  url: string;
  code: string;
  step: string;
  retry_after_s: number | null;
}

/**
 * A client without URL elicitation signing in: call (`call(round)`) until a result is not an
 * error, at most `rounds` times; each error must be a sign-in challenge (`challenge` checks it
 * and returns its fields; by default only `auth_required`), whose step the user completes once
 * (`stack.userCompletes`), waiting its `retry_after_s` (at least 1 s) before the next call.
 * Returns the steps in order, the last result and the round it came in.
 */
export async function callThroughSignIn(
  stack: { userCompletes(url: string, code: string): Promise<unknown> },
  call: (round: number) => Promise<CallToolResult>,
  o: { rounds: number; challenge?: (r: CallToolResult) => Challenge },
): Promise<{ steps: string[]; last: CallToolResult; round: number }> {
  const challenge = o.challenge ?? ((r: CallToolResult) => {
    const d = r.structuredContent as unknown as Challenge;
    assertEquals(d.auth_required, true, JSON.stringify(r));
    return d;
  });
  const steps: string[] = [];
  const done = new Set<string>();
  let last: CallToolResult | undefined;
  let round = 0;
  for (; round < o.rounds; round++) {
    last = await call(round);
    if (!last.isError) break;
    const d = challenge(last);
    if (!done.has(d.code)) {
      steps.push(d.step);
      done.add(d.code);
      await stack.userCompletes(d.url, d.code);
    }
    await sleep(Math.max(1, d.retry_after_s ?? 1) * 1000);
  }
  return { steps, last: last!, round };
}

/** One `notifications/progress` as sent. */
export type Progress = {
  progressToken: number;
  progress: number;
  total?: number;
  message?: string;
};

/**
 * The progress notifications `c` receives, read off the wire: the SDK client drops a progress
 * notification that arrives in the same read as the response (its handler is gone by then).
 * `call` runs a tool with a progressToken and checks that its notifications carry one token and
 * rise strictly; `counted` are those with a `total`.
 */
export function progressWire(c: { client: Client }) {
  const wire: Progress[] = [];
  const transport = c.client.transport!;
  const deliver = transport.onmessage!;
  transport.onmessage = <T extends JSONRPCMessage>(m: T, extra?: MessageExtraInfo) => {
    if ("method" in m && m.method === "notifications/progress") {
      wire.push(m.params as Progress);
    }
    deliver.call(transport, m, extra);
  };
  const call = async (name: string, args: Record<string, unknown>) => {
    const from = wire.length;
    const r = await c.client.callTool({ name, arguments: args }, undefined, {
      onprogress: () => {},
    }) as CallToolResult;
    assert(!r.isError, JSON.stringify(r));
    const seen = wire.slice(from);
    assert(seen.every((p) => p.progressToken === seen[0].progressToken));
    for (let i = 1; i < seen.length; i++) {
      assert(seen[i].progress > seen[i - 1].progress, `rising: ${JSON.stringify(seen)}`);
    }
    return { r, seen, counted: seen.filter((p) => p.total !== undefined) };
  };
  return { wire, call };
}
