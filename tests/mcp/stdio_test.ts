/**
 * `mcs mcp` in its own process, driven by the MCP SDK's client over stdio against the local
 * stack (Auth0, LinkAuth broker and Gmail emulators): the tool list is the catalogue with titles
 * and annotations; tool outcomes are tool results (structured plus a standalone text copy);
 * sign-in is a tool result for clients without URL elicitation (the "user" completes each step
 * over HTTP, the next call continues, and the sign-in is shared with `mcs exec`), and one tool
 * call through both steps for clients with it; stdout carries JSON-RPC only.
 * @module
 */

import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import { type Stack, startStack } from "../../lib/emulators/stack.ts";
import { browserPerson, hasChromium } from "../support/browser.ts";
import { TOOLS } from "../../lib/tools/catalog.ts";
import { doc, mcs, mcsEnv, ROOT_PATH } from "../cli/_mcs.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { callThroughSignIn, elicitations, staticEnv, stdioClient } from "./_mcp.ts";
import { mcsArgs } from "../cli/_mcs.ts";

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

Deno.test("mcs mcp lists the catalogue: titles, schemas, annotations; legacy names on demand", async () => {
  {
    await using c = await stdioClient({});
    const { tools } = await c.client.listTools();
    assertEquals(tools.map((t: Tool) => t.name), TOOLS.filter((t) => !t.legacy).map((t) => t.name));
    for (const t of tools) {
      assert(NAME.test(t.name), t.name);
      const spec = TOOLS.find((s) => s.name === t.name)!;
      assertEquals([t.title, t.description], [spec.title, spec.description]);
      assertEquals(t.inputSchema, spec.parameters as unknown);
      assertEquals(t.annotations?.readOnlyHint, !spec.mutates, t.name);
      assertEquals(t.annotations?.openWorldHint, true);
    }
    const ann = (n: string) => tools.find((t: Tool) => t.name === n)!.annotations!;
    assertEquals([ann("trash_email").destructiveHint, ann("send_email").destructiveHint], [
      true,
      true,
    ]);
    assertEquals([ann("search_emails").destructiveHint, ann("search_emails").idempotentHint], [
      false,
      true,
    ]);
    assertEquals(ann("create_draft").idempotentHint, false);
    assertEquals(c.client.getServerVersion()?.name, "mcs");
  }
  await using legacy = await stdioClient({ MCS_MCP_LEGACY_TOOLS: "1" });
  const names = (await legacy.client.listTools()).tools.map((t: Tool) => t.name);
  assertEquals(names, TOOLS.map((t) => t.name));
  assert(names.includes("list_folders") && names.includes("send_html_message"));
});

Deno.test("mcs mcp: results are structured with a text copy; tool errors are isError results", async () => {
  const stack = await startStack({ pollInterval: 1 });
  try {
    await using c = await stdioClient(staticEnv(stack));
    const found = await c.client.callTool({
      name: "search_emails",
      arguments: { query: "", limit: 3 },
    }) as CallToolResult;
    assert(!found.isError, JSON.stringify(found));
    const result = found.structuredContent as { messages: { id: string }[] };
    assertEquals(result.messages.length, 3);
    const text = found.content[0] as { type: string; text: string };
    assertEquals(text.type, "text");
    assertEquals(JSON.parse(text.text), result, "the text copy stands on its own");

    const read = await c.client.callTool({
      name: "read_email",
      arguments: { id: result.messages[0].id },
    }) as CallToolResult;
    assertEquals((read.structuredContent as { id: string }).id, result.messages[0].id);

    // Validation and Gmail failures: tool results with the CLI contract's error object.
    const bad = await c.client.callTool({ name: "read_email", arguments: {} }) as CallToolResult;
    assertEquals(bad.isError, true);
    const err = (bad.structuredContent as { error: { code: string; retryable: boolean } }).error;
    assertEquals([err.code, err.retryable], ["invalid_arguments", false]);
    assertStringIncludes((bad.content[0] as { text: string }).text, "invalid_arguments");
    const missing = await c.client.callTool({
      name: "read_email",
      arguments: { id: "0000000000000000" },
    }) as CallToolResult;
    assertEquals(missing.isError, true, JSON.stringify(missing));
    assertEquals((missing.structuredContent as { ok: boolean }).ok, false);

    // An unknown tool is a protocol error.
    let code: number | undefined;
    try {
      await c.client.callTool({ name: "no_such_tool", arguments: {} });
    } catch (e) {
      code = (e as { code?: number }).code;
    }
    assertEquals(code, -32602);
  } finally {
    await stack.close();
  }
});

/** The `auth_required` document of a fallback result, checked. */
function challengeOf(r: CallToolResult) {
  assertEquals(r.isError, true);
  const d = r.structuredContent as {
    auth_required: boolean;
    url: string;
    code: string;
    step: string;
    expires_at: string;
    retry_after_s: number | null;
  };
  assertEquals(d.auth_required, true, JSON.stringify(r));
  assert(!Number.isNaN(Date.parse(d.expires_at)), "expires_at is an ISO time");
  const text = (r.content[0] as { text: string }).text;
  assertStringIncludes(text, d.url, "the text names the URL");
  assertStringIncludes(text, d.code, "and the code");
  assertStringIncludes(text, "call search_emails again");
  return d;
}

Deno.test("mcs mcp without URL elicitation: auth_required results, the user acts, the next call continues; shared with mcs exec", async () => {
  const stack = await startStack({ pollInterval: 1 });
  const cache = await Deno.makeTempDir({ prefix: "mcs-mcp-" });
  try {
    const env = { ...stack.env, MCS_CACHE_DIR: cache };
    await using c = await stdioClient(env);
    const { steps, last } = await callThroughSignIn(
      stack,
      () =>
        c.client.callTool({
          name: "search_emails",
          arguments: { query: "from:alice", limit: 2 },
        }) as Promise<CallToolResult>,
      { rounds: 12, challenge: challengeOf },
    );
    assertEquals(steps, ["login", "connect"]);
    assert(!last.isError, JSON.stringify(last));
    assert((last.structuredContent as { messages: unknown[] }).messages.length >= 1);
    // Same store: the CLI needs no sign-in now.
    const r = await mcs(["exec", "list_labels"], { env });
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assert(doc(r).result.labels.length > 0);
  } finally {
    await stack.close();
    await Deno.remove(cache, { recursive: true });
  }
});

/** The person's part of one step: open `url`, confirm `code`, approve. */
type Person = (stack: Stack, url: string, code: string) => Promise<void>;

/** One tool call with URL elicitation through both steps, the person acting on each URL. */
async function elicitedCall(person: Person) {
  const stack = await startStack({ pollInterval: 1 });
  const cache = await Deno.makeTempDir({ prefix: "mcs-mcp-" });
  try {
    await using c = await stdioClient(
      { ...stack.env, MCS_CACHE_DIR: cache },
      { elicitation: { url: {} } },
    );
    const { asked, completed, answer } = elicitations(c.client);
    answer(async (e) => {
      const code = decodeURIComponent(new URL(e.url).pathname.split("/").pop()!);
      assertStringIncludes(e.message, code, "the message names the code");
      await person(stack, e.url, code);
      return { action: "accept" };
    });
    const r = await c.client.callTool(
      { name: "search_emails", arguments: { query: "from:alice", limit: 2 } },
      undefined,
      { timeout: 120_000 },
    ) as CallToolResult;
    assert(!r.isError, JSON.stringify(r));
    assert((r.structuredContent as { messages: unknown[] }).messages.length >= 1);
    assertEquals(asked.length, 2, "login, then the Connected Accounts consent");
    assertStringIncludes(asked[1].message, "connect Gmail");
    assertEquals(completed, asked.map((a) => a.id));
  } finally {
    await stack.close();
    await Deno.remove(cache, { recursive: true });
  }
}

Deno.test("mcs mcp with URL elicitation: one tool call through login and consent", async () => {
  await elicitedCall(async (stack, url, code) => {
    await stack.userCompletes(url, code);
  });
});

Deno.test({
  name: "mcs mcp with URL elicitation, the person in Chromium: one tool call, both steps",
  ignore: !hasChromium,
  async fn() {
    await elicitedCall(async (_stack, url, code) => {
      const seen = await browserPerson({ entry: "link", url, code });
      assert(seen.ok, seen.error);
      assertEquals(seen.shown, code);
    });
  },
});

Deno.test("mcs mcp with URL elicitation: a declined step ends the call with the challenge", async () => {
  const stack = await startStack({ pollInterval: 1 });
  const cache = await Deno.makeTempDir({ prefix: "mcs-mcp-" });
  try {
    await using c = await stdioClient(
      { ...stack.env, MCS_CACHE_DIR: cache },
      { elicitation: { url: {} } },
    );
    const { asked, answer } = elicitations(c.client);
    answer(() => Promise.resolve({ action: "decline" }));
    const r = await c.client.callTool({
      name: "search_emails",
      arguments: {},
    }) as CallToolResult;
    assertEquals(asked.length, 1);
    assertEquals(challengeOf(r).step, "login");
  } finally {
    await stack.close();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("mcs mcp: every stdout line is a JSON-RPC message", async () => {
  const stack = await startStack({ pollInterval: 1 });
  const cache = await Deno.makeTempDir({ prefix: "mcs-mcp-" });
  try {
    const lines = [
      {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "raw", version: "1" },
        },
      },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "list_labels" } },
      { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "read_email" } },
      { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "nope" } },
    ].map((m) => JSON.stringify(m) + "\n").join("") + "this line is not JSON\n";
    const child = new Deno.Command(Deno.execPath(), {
      args: mcsArgs(["mcp"]),
      cwd: ROOT_PATH,
      env: mcsEnv({ ...stack.env, MCS_CACHE_DIR: cache, MCS_DEBUG: "1" }),
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(lines));
    await w.close();
    const out = await child.output();
    assertEquals(out.code, 0);
    const stdout = new TextDecoder().decode(out.stdout);
    const msgs = stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    for (const m of msgs) assertEquals(m.jsonrpc, "2.0", JSON.stringify(m));
    const byId = new Map(msgs.filter((m) => "id" in m).map((m) => [m.id, m]));
    assertEquals([...byId.keys()].filter((k) => k !== null).sort(), [1, 2, 3, 4, 5]);
    assertEquals(byId.get(1).result.protocolVersion, "2025-06-18", "negotiated down");
    assertEquals(byId.get(3).result.structuredContent.auth_required, true);
    assertEquals(byId.get(4).result.isError, true);
    assertEquals(byId.get(5).error.code, -32602);
    assertEquals(byId.get(null)?.error.code, -32700, "the line that is not JSON is answered");
    assert(
      msgs.some((m) => m.method === "notifications/message"),
      "logs reach the client as notifications/message",
    );
    assertStringIncludes(new TextDecoder().decode(out.stderr), "mcs mcp");
  } finally {
    await stack.close();
    await Deno.remove(cache, { recursive: true });
  }
});
