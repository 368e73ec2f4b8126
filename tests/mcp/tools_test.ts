/**
 * Every tool once through `mcs mcp` (legacy names listed), with the SDK client validating each
 * result against the tool's `outputSchema`; progress notifications for a client that sends a
 * progressToken (with each metadata strategy); and cancellation: a cancelled call starts no further Gmail request while the
 * server keeps serving.
 * @module
 */

import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { testStack } from "../support/stack.ts";
import { sleep } from "../cli/_mcs.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { callEveryTool } from "../support/every_tool.ts";
import { progressWire, staticEnv, stdioClient } from "./_mcp.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("mcs mcp: every tool once, each result valid against its outputSchema", async () => {
  await using stack = await testStack({ dir: "mcs-mcp-dl-" });
  const out = stack.dir;
  await using c = await stdioClient({ ...staticEnv(stack), MCS_MCP_LEGACY_TOOLS: "1" });
  const { tools } = await c.client.listTools();
  assert(tools.every((t: Any) => t.outputSchema?.type === "object"), "every tool has one");
  await callEveryTool(async (name, args) => {
    // The SDK client throws when structuredContent does not match the outputSchema.
    const r = await c.client.callTool({ name, arguments: args }) as CallToolResult;
    assert(!r.isError, `${name}: ${JSON.stringify(r)}`);
    return r.structuredContent;
  }, { outDir: out });
});

Deno.test("mcs mcp: progress notifications when the client sends a progressToken", async () => {
  await using stack = await testStack();
  await using c = await stdioClient(staticEnv(stack));
  const seen: string[] = [];
  const r = await c.client.callTool({ name: "list_labels", arguments: {} }, undefined, {
    onprogress: (p: Any) => seen.push(p.message ?? ""),
  }) as CallToolResult;
  assert(!r.isError);
  assert(seen.includes("running list_labels"), JSON.stringify(seen));
});

Deno.test("mcs mcp: progress per metadata batch of a large search and per attachment step, rising, with totals", async () => {
  await using stack = await testStack({ dir: "mcs-mcp-dl-" });
  const out = stack.dir;
  await using c = await stdioClient(staticEnv(stack));
  const { wire, call } = progressWire(c);
  // More than one batch of 50: the seeded mailbox holds about 60 messages.
  const search = await call("search_emails", { limit: 100 });
  const found = (search.r.structuredContent as { messages: { id: string }[] }).messages;
  assert(found.length > 50, `a search of ${found.length} needs two batches`);
  assertEquals(search.counted.length, 2, JSON.stringify(search.seen));
  const last = search.counted.at(-1)!;
  assertEquals(last.progress, last.total, "the last batch completes the total");
  assertEquals(search.counted.map((p) => p.total), [found.length, found.length]);
  // No progressToken, no progress.
  const before = wire.length;
  await c.client.callTool({ name: "search_emails", arguments: { limit: 100 } });
  assertEquals(wire.length, before);

  const withPdf = (await call("search_emails", { query: "has:attachment", limit: 1 })).r
    .structuredContent as { messages: { id: string }[] };
  const id = withPdf.messages[0].id;
  const msg = (await call("read_email", { id })).r.structuredContent as {
    attachments: { filename: string }[];
  };
  const dl = await call("download_attachment", {
    message_id: id,
    attachment_id: msg.attachments[0].filename,
    out_dir: out,
  });
  assertEquals(dl.counted.length, 3, JSON.stringify(dl.seen));
  assertEquals(dl.counted.at(-1)!.progress, dl.counted.at(-1)!.total);
  assert(dl.counted[1].message?.startsWith("downloaded "), JSON.stringify(dl.seen));
});

Deno.test("mcs mcp: every metadata strategy reports a fetch's progress, about every tenth and rising to the total; none without a token", async () => {
  await using stack = await testStack();
  for (const strategy of ["batch", "pool", "sequential"]) {
    await using c = await stdioClient({
      ...staticEnv(stack),
      MCS_GMAIL_METADATA_STRATEGY: strategy,
    });
    const { wire, call } = progressWire(c);
    for (const [tool, key] of [["search_emails", "messages"], ["search_threads", "threads"]]) {
      const requestsBefore = stack.gmail.requestCount;
      const { r, seen, counted } = await call(tool, { limit: 100 });
      const requests = stack.gmail.requestCount - requestsBefore;
      const n = (r.structuredContent as Record<string, unknown[]>)[key].length;
      const what = `${strategy} ${tool} of ${n}: ${JSON.stringify(seen)}`;
      assert(n > 20, `the seeded mailbox gives a fetch worth reporting: ${what}`);
      // The setting took: one GET per result, or a few batch requests.
      assert(strategy === "batch" ? requests < n : requests > n, `${requests} requests`);
      // More than the end, fewer than one per item: at most one a tenth (a batch: per chunk).
      assert(counted.length > 1 && counted.length <= 11, what);
      for (const p of counted) {
        assertEquals(p.total, n, what);
        assert(p.progress <= n, what);
        assertEquals(p.message, `fetched ${p.progress} of ${n}`, what);
      }
      assertEquals(counted.at(-1)!.progress, n, `the last report completes the total: ${what}`);
    }
    const before = wire.length;
    await c.client.callTool({ name: "search_emails", arguments: { limit: 100 } });
    await c.client.callTool({ name: "search_threads", arguments: { limit: 100 } });
    assertEquals(wire.length, before, `${strategy}: no progressToken, no progress`);
  }
});

Deno.test("mcs mcp: a cancelled call starts no further Gmail request; the server keeps serving", async () => {
  await using stack = await testStack();
  await using c = await stdioClient(staticEnv(stack));
  await c.client.callTool({ name: "list_labels", arguments: {} }); // warm: labels cached
  stack.gmail.setLatency(1_500);
  const before = stack.gmail.requestCount;
  const ac = new AbortController();
  const pending = c.client.callTool(
    { name: "search_emails", arguments: { limit: 5 } },
    undefined,
    { signal: ac.signal },
  ).then(() => "finished", () => "rejected");
  while (stack.gmail.requestCount === before) await sleep(20); // the list request is in flight
  ac.abort();
  assertEquals(await pending, "rejected");
  const atCancel = stack.gmail.requestCount;
  await sleep(3_500); // the list would have answered, and the batch been sent, by now
  assertEquals(stack.gmail.requestCount, atCancel, "no request after the cancellation");
  stack.gmail.setLatency(0);
  const after = await c.client.callTool({ name: "list_labels", arguments: {} }) as CallToolResult;
  assert(!after.isError, JSON.stringify(after));
});
