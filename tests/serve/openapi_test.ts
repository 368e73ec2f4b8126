/**
 * `mcs serve`'s OpenAPI side in its own process against the emulators: the document at
 * `/openapi.json` (no auth, validated by `@apidevtools/swagger-parser` as OpenAPI 3.1, shaped as
 * Open WebUI reads it), every tool called once through `POST /tools/<name>` (200 and the result's
 * required keys), errors with fitting statuses and the CLI contract's error document, and a
 * sign-in step as a 200 whose message the model can relay.
 * @module
 */

import SwaggerParser from "@apidevtools/swagger-parser";
import { resultSchemaOf } from "../../lib/mcp/output_schemas.ts";
import { TOOLS } from "../../lib/tools/catalog.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { testStack } from "../support/stack.ts";
import { callEveryTool } from "../support/every_tool.ts";
import { staticEnv } from "../mcp/_mcp.ts";
import { startServe } from "./_serve.ts";

const KEY = "serve-openapi-key-0123456789";

Deno.test("mcs serve: /openapi.json is valid OpenAPI 3.1, flat, one operation per tool", async () => {
  await using srv = await startServe({
    MCS_AUTH: "static",
    MCS_SERVE_API_KEY: KEY,
    MCS_MCP_LEGACY_TOOLS: "1",
  });
  const r = await srv.request("/openapi.json"); // no key: the document holds no secret
  assertEquals(r.status, 200);
  const doc = await r.json();
  await SwaggerParser.validate(structuredClone(doc)); // throws on an invalid document
  assertEquals(doc.openapi, "3.1.0");
  assertEquals(Object.keys(doc.paths).length, TOOLS.length);
  for (const tool of TOOLS) {
    const op = doc.paths[`/tools/${tool.name}`]?.post;
    assert(op, `operation for ${tool.name}`);
    assertEquals(op.operationId, tool.name);
    assertEquals(op.description, tool.description);
    const schema = op.requestBody.content["application/json"].schema;
    assertEquals(schema.type, "object");
    assert(schema.properties && !schema.allOf && !schema.$defs && !schema.$ref, tool.name);
    assertEquals(Object.keys(schema.properties), Object.keys(tool.parameters.properties));
    for (const status of ["200", "400", "401", "404", "413", "429", "500", "502", "503"]) {
      assert(op.responses[status], `${tool.name}: response ${status}`);
    }
    assertEquals(op.security, [{ bearer: [] }]);
  }
  assertEquals(doc.components.securitySchemes.bearer, {
    type: "http",
    scheme: "bearer",
    description: "MCS_SERVE_API_KEY",
  });
  assert(!JSON.stringify(doc).includes(KEY));
  // Refs are local component refs only.
  for (const m of JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)) {
    assert(m[1].startsWith("#/components/"), m[1]);
  }
});

Deno.test("mcs serve: every tool once through POST /tools/<name>; errors keep the contract", async () => {
  await using stack = await testStack({ dir: "mcs-serve-dl-" });
  const out = stack.dir;
  await using srv = await startServe({ ...staticEnv(stack), MCS_SERVE_API_KEY: KEY });
  const auth = { authorization: `Bearer ${KEY}` };
  await callEveryTool(async (name, args) => {
    const r = await srv.post(`/tools/${name}`, args, auth);
    const body = await r.json();
    assertEquals(r.status, 200, `${name}: ${JSON.stringify(body)}`);
    for (const key of resultSchemaOf(name)?.required ?? []) {
      assert(key in body, `${name}: result has ${key}: ${JSON.stringify(body)}`);
    }
    return body;
  }, { outDir: out });

  // Errors: fitting status, the CLI contract's error document.
  const cases: [string, unknown, number, string][] = [
    ["/tools/search_emails", { limit: "many" }, 400, "invalid_arguments"],
    ["/tools/read_email", { id: "ffffffffffffffff" }, 404, "not_found"],
    ["/tools/no_such_tool", {}, 404, "tool_not_found"],
  ];
  for (const [path, args, status, code] of cases) {
    const r = await srv.post(path, args, auth);
    const body = await r.json();
    assertEquals([r.status, body.ok, body.error?.code], [status, false, code], path);
    assertEquals(typeof body.error.message, "string");
    assertEquals(typeof body.error.retryable, "boolean");
  }
  const notJson = await srv.request("/tools/list_labels", {
    method: "POST",
    headers: auth,
    body: "{not json",
  });
  assertEquals([notJson.status, (await notJson.json()).error.code], [400, "invalid_json"]);
  // Gmail unavailable (after the client's retries): 503, retryable.
  stack.gmail.faults.serverError(50, 503);
  const down = await srv.post("/tools/list_drafts", {}, auth);
  const downBody = await down.json();
  assertEquals([down.status, downBody.error.retryable], [503, true], JSON.stringify(downBody));
  stack.gmail.faults.clear();
  // Gmail's rate limit with a wait longer than mcs takes: 429 and Gmail's Retry-After.
  stack.gmail.faults.rateLimit(5, { retryAfterS: 120 });
  const limited = await srv.post("/tools/list_drafts", {}, auth);
  const limitedBody = await limited.json();
  assertEquals(limited.status, 429, JSON.stringify(limitedBody));
  assertEquals(limited.headers.get("retry-after"), "120");
  assertEquals(limitedBody.error.retryable, true);
  stack.gmail.faults.clear();
  const noKey = await srv.post("/tools/list_labels", {});
  assertEquals([noKey.status, (await noKey.json()).error.code], [401, "serve_unauthorized"]);
});

Deno.test("mcs serve: a sign-in step is a 200 the model can relay; the next call continues", async () => {
  await using stack = await testStack({ dir: "mcs-serve-" });
  const cache = stack.dir;
  await using srv = await startServe({ ...stack.env, MCS_CACHE_DIR: cache });
  const first = await srv.post("/tools/list_labels", {});
  assertEquals(first.status, 200);
  const c = await first.json();
  assertEquals([c.ok, c.auth_required, c.step], [false, true, "login"]);
  assert(c.url && c.code, JSON.stringify(c));
  assertStringIncludes(c.message, c.url);
  assertStringIncludes(c.message, c.code);
  assertStringIncludes(c.message, "call list_labels again");
  // Same flow on the next call (nothing new started), until the user acts.
  const again = await (await srv.post("/tools/list_labels", {})).json();
  assertEquals([again.url, again.code], [c.url, c.code]);
  await stack.userCompletes(c.url, c.code);
  const consent = await (await srv.post("/tools/list_labels", {})).json();
  assertEquals([consent.auth_required, consent.step], [true, "connect"]);
  await stack.userCompletes(consent.url, consent.code);
  const done = await srv.post("/tools/list_labels", {});
  const labels = await done.json();
  assertEquals(done.status, 200, JSON.stringify(labels));
  assert(labels.labels.some((l: { id: string }) => l.id === "INBOX"));
});
