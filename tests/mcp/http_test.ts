/**
 * `mcs serve` in its own process, driven by the MCP SDK's client over Streamable HTTP against
 * the Gmail emulator: sessions (initialize, calls, DELETE), stateless requests, the bearer key
 * (401 without it or with a wrong one), a foreign `Origin` refused with 403, and a non-loopback
 * address without a key refused at start (exit 3).
 * @module
 */

import {
  type CallToolResult,
  type ElicitationCompleteNotification,
  ElicitationCompleteNotificationSchema,
  type ElicitRequest,
  ElicitRequestSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { startStack } from "../../lib/emulators/stack.ts";
import { mcs } from "../cli/_mcs.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { startServe } from "../serve/_serve.ts";
import { httpClient, staticEnv } from "./_mcp.ts";

const KEY = "test-serve-key-0123456789";
const LIST = { jsonrpc: "2.0", id: 7, method: "tools/list" };

Deno.test("mcs serve: the SDK client over HTTP with the key; 401 without; foreign Origin 403", async () => {
  const stack = await startStack({ pollInterval: 1 });
  try {
    await using srv = await startServe({ ...staticEnv(stack), MCS_SERVE_API_KEY: KEY });
    const auth = { authorization: `Bearer ${KEY}` };
    {
      await using c = await httpClient(srv.url, auth);
      const { tools } = await c.client.listTools();
      assert(tools.some((t: Tool) => t.name === "search_emails"));
      assert(c.transport.sessionId, "initialize opened a session");
      const labels = await c.client.callTool({
        name: "list_labels",
        arguments: {},
      }) as CallToolResult;
      assert(!labels.isError, JSON.stringify(labels));
      const names = (labels.structuredContent as { labels: { id: string }[] }).labels;
      assert(names.some((l) => l.id === "INBOX"));
      // Parallel calls on one session.
      const [a, b] = await Promise.all([
        c.client.callTool({ name: "search_emails", arguments: { limit: 2 } }),
        c.client.callTool({ name: "list_drafts", arguments: {} }),
      ]) as CallToolResult[];
      assert(!a.isError && !b.isError, JSON.stringify([a, b]));
      // DELETE ends the session: its id is unknown afterwards.
      const sid = c.transport.sessionId!;
      await c.transport.terminateSession();
      const after = await srv.rpc(LIST, { ...auth, "mcp-session-id": sid });
      await after.body?.cancel();
      assertEquals(after.status, 404);
    }

    // No key, a wrong key: 401 before anything else.
    const variants: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, {
      authorization: KEY,
    }];
    for (const headers of variants) {
      const r = await srv.rpc(LIST, headers);
      assertEquals(r.status, 401, JSON.stringify(headers));
      assertStringIncludes(r.headers.get("www-authenticate") ?? "", "Bearer");
      await r.body?.cancel();
    }
    // A foreign Origin (DNS rebinding) is refused even with the key; a loopback one is served.
    const foreign = await srv.rpc(LIST, { ...auth, origin: "http://evil.example" });
    assertEquals(foreign.status, 403);
    await foreign.body?.cancel();
    const own = await srv.rpc(LIST, { ...auth, origin: new URL(srv.url).origin });
    assertEquals(own.status, 200);
    // A stateless request (no initialize, no session): served.
    const listed = await own.json();
    assertEquals(listed.id, 7);
    assert(listed.result.tools.length > 0, JSON.stringify(listed));
    assertStringIncludes(srv.stderr, "evil.example", "the refusal is logged on stderr");
  } finally {
    await stack.close();
  }
});

Deno.test("mcs serve: a stateless tools/call without a key on loopback; auth_required as a result", async () => {
  const stack = await startStack({ pollInterval: 1 });
  const cache = await Deno.makeTempDir({ prefix: "mcs-serve-" });
  try {
    await using srv = await startServe({ ...stack.env, MCS_CACHE_DIR: cache });
    const r = await srv.rpc({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "search_emails", arguments: {} },
    });
    assertEquals(r.status, 200);
    const body = await r.json();
    const result = body.result as CallToolResult;
    assertEquals(result.isError, true);
    const d = result.structuredContent as { auth_required: boolean; url: string; step: string };
    assertEquals([d.auth_required, d.step], [true, "login"]);
    assertStringIncludes((result.content[0] as { text: string }).text, d.url);
  } finally {
    await stack.close();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("mcs serve: URL elicitation over HTTP, one tool call through login and consent", async () => {
  const stack = await startStack({ pollInterval: 1 });
  const cache = await Deno.makeTempDir({ prefix: "mcs-serve-" });
  try {
    await using srv = await startServe({
      ...stack.env,
      MCS_CACHE_DIR: cache,
      MCS_SERVE_API_KEY: KEY,
    });
    await using c = await httpClient(srv.url, { authorization: `Bearer ${KEY}` }, {
      elicitation: { url: {} },
    });
    const steps: string[] = [];
    const completed: string[] = [];
    c.client.setRequestHandler(ElicitRequestSchema, async (req: ElicitRequest) => {
      const p = req.params as { url: string; elicitationId: string };
      steps.push(p.elicitationId);
      await stack.userCompletes(
        p.url,
        decodeURIComponent(new URL(p.url).pathname.split("/").pop()!),
      );
      return { action: "accept" };
    });
    c.client.setNotificationHandler(
      ElicitationCompleteNotificationSchema,
      (n: ElicitationCompleteNotification) => {
        completed.push(n.params.elicitationId);
      },
    );
    const r = await c.client.callTool(
      { name: "list_labels", arguments: {} },
      undefined,
      { timeout: 120_000 },
    ) as CallToolResult;
    assert(!r.isError, JSON.stringify(r));
    assert((r.structuredContent as { labels: unknown[] }).labels.length > 0);
    assertEquals(steps.length, 2, "login, then the Connected Accounts consent");
    assertEquals(completed, steps, "each step completed (notifications/elicitation/complete)");
  } finally {
    await stack.close();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("mcs serve refuses a non-loopback address without MCS_SERVE_API_KEY", async () => {
  const r = await mcs(["serve", "--host", "0.0.0.0", "--port", "0"]);
  assertEquals(r.code, 3, r.stdout + r.stderr);
  assertStringIncludes(r.stderr, "MCS_SERVE_API_KEY");
  const json = await mcs(["serve", "--host", "0.0.0.0", "--port", "0", "--json"]);
  assertEquals(JSON.parse(json.stdout).error.code, "serve_api_key_required");
  const badPort = await mcs(["serve", "--port", "http"]);
  assertEquals(badPort.code, 2, badPort.stderr);
});
