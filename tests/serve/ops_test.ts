/**
 * `mcs serve` operations, in its own process: `/healthz` and `/readyz` (503 when the store
 * cannot be written), CORS off by default and on for the listed origins only, the request size
 * limit (413, declared or streamed), and a graceful SIGTERM: a slow call in flight completes,
 * then the process exits 0.
 * @module
 */

import { sleep } from "../cli/_mcs.ts";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { httpClient, staticEnv } from "../mcp/_mcp.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { testStack } from "../support/stack.ts";
import { startServe, toolCall } from "./_serve.ts";

const APP = "https://chat.example.com";

function preflight(origin: string): RequestInit {
  return {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  };
}

Deno.test("mcs serve: /healthz while alive; /readyz checks the store (503 when it fails)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcs-serve-ready-" });
  const cache = `${dir}/cache`;
  try {
    await using srv = await startServe({ MCS_AUTH: "static", MCS_CACHE_DIR: cache });
    const health = await srv.request("/healthz");
    assertEquals([health.status, await health.json()], [200, { ok: true }]);
    const ready = await srv.request("/readyz");
    assertEquals([ready.status, await ready.json()], [200, { ok: true }]);
    // The store becomes unusable: its directory is replaced by a file.
    await Deno.remove(cache, { recursive: true });
    await Deno.writeTextFile(cache, "not a directory");
    const broken = await srv.request("/readyz");
    const body = await broken.json();
    assertEquals([broken.status, body.error.code], [503, "serve_store_unavailable"]);
    const alive = await srv.request("/healthz");
    assertEquals(alive.status, 200, "the process is still alive");
    await alive.body?.cancel();
    // Back: ready again.
    await Deno.remove(cache);
    const back = await srv.request("/readyz");
    assertEquals(back.status, 200);
    await back.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mcs serve: CORS is off by default; on, preflights for the listed origins only", async () => {
  await using stack = await testStack();
  {
    await using off = await startServe(staticEnv(stack));
    const pre = await off.request("/tools/list_labels", preflight(APP));
    assertEquals(pre.headers.get("access-control-allow-origin"), null);
    assert(pre.status >= 400, String(pre.status));
    await pre.body?.cancel();
    const post = await off.post("/tools/list_labels", {}, { origin: APP });
    assertEquals(post.status, 403, "a foreign browser origin is refused");
    assertEquals(post.headers.get("access-control-allow-origin"), null);
    await post.body?.cancel();
  }
  await using on = await startServe({ ...staticEnv(stack), MCS_SERVE_CORS_ORIGINS: APP });
  const pre = await on.request("/tools/list_labels", preflight(APP));
  assertEquals(pre.status, 204);
  assertEquals(pre.headers.get("access-control-allow-origin"), APP);
  const allowed = (pre.headers.get("access-control-allow-headers") ?? "").split(/,\s*/);
  for (const h of ["authorization", "content-type", "x-session-id"]) {
    assert(allowed.includes(h), `${h} in ${allowed}`);
  }
  assertStringIncludes(pre.headers.get("access-control-allow-methods") ?? "", "POST");
  const other = await on.request("/tools/list_labels", preflight("https://evil.example"));
  assertEquals(other.status, 403);
  assertEquals(other.headers.get("access-control-allow-origin"), null);
  const post = await on.post("/tools/list_labels", {}, { origin: APP });
  assertEquals(post.status, 200);
  assertEquals(post.headers.get("access-control-allow-origin"), APP);
  assert((await post.json()).labels.length > 0);
  const doc = await on.request("/openapi.json", { headers: { origin: APP } });
  assertEquals(doc.headers.get("access-control-allow-origin"), APP);
  await doc.body?.cancel();
  const evil = await on.post("/tools/list_labels", {}, { origin: "https://evil.example" });
  assertEquals(evil.status, 403);
  assertEquals(evil.headers.get("access-control-allow-origin"), null);
  await evil.body?.cancel();
});

Deno.test("mcs serve: a body over the limit is 413, declared or streamed", async () => {
  await using stack = await testStack();
  await using srv = await startServe({ ...staticEnv(stack), MCS_SERVE_MAX_BODY_BYTES: "1000" });
  const big = { to: ["bob@example.com"], subject: "s", body: "x".repeat(2000) };
  const declared = await srv.post("/tools/send_email", big);
  const body = await declared.json();
  assertEquals([declared.status, body.error.code], [413, "serve_body_too_large"]);
  const chunks = [JSON.stringify(big).slice(0, 800), JSON.stringify(big).slice(800)];
  const streamed = await srv.request("/tools/send_email", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: ReadableStream.from(chunks.map((c) => new TextEncoder().encode(c))),
  });
  assertEquals(streamed.status, 413);
  await streamed.body?.cancel();
  const viaMcp = await srv.rpc(toolCall("send_email", big));
  assertEquals(viaMcp.status, 413);
  await viaMcp.body?.cancel();
  const small = await srv.post("/tools/send_email", { ...big, body: "short" });
  assertEquals(small.status, 200, "under the limit: sent");
  await small.body?.cancel();
});

Deno.test("mcs serve: SIGTERM lets slow calls in flight (OpenAPI, MCP) finish, then exits 0", async () => {
  await using stack = await testStack();
  await using srv = await startServe(staticEnv(stack));
  const warm = await srv.post("/tools/list_labels", {});
  await warm.body?.cancel();
  await using c = await httpClient(srv.url);
  stack.gmail.setLatency(2_000);
  const before = stack.gmail.requestCount;
  const slow = srv.post("/tools/search_emails", { limit: 2 });
  const slowMcp = c.client.callTool({ name: "search_emails", arguments: { limit: 2 } });
  while (stack.gmail.requestCount < before + 2) await sleep(20); // both in flight at Gmail
  const status = srv.stop("SIGTERM");
  const r = await slow;
  const body = await r.json();
  assertEquals(r.status, 200, JSON.stringify(body));
  assert(Array.isArray(body.messages), JSON.stringify(body));
  const mcpResult = await slowMcp as CallToolResult;
  assert(!mcpResult.isError, JSON.stringify(mcpResult));
  assertEquals((mcpResult.structuredContent as { messages: unknown[] }).messages.length, 2);
  const exit = await status;
  assertEquals(exit.code, 0, srv.stderr);
  assertStringIncludes(srv.stderr, "stopping");
  const log = srv.accessLog().find((l) => l.path === "/tools/search_emails");
  assertEquals(log?.status, 200);
});
