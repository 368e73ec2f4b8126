/**
 * The MCP server's pure parts in process: the bind check, the secret comparison, the tool
 * definitions (names within MCP's pattern, annotations per kind, the legacy switch) and the
 * fallback text a model sees for a sign-in step.
 * @module
 */

import { ConfigError } from "../../lib/errors.ts";
import { checkBind, isLoopback, sameSecret } from "../../lib/mcp/http.ts";
import { challengeText } from "../../lib/mcp/server.ts";
import { legacyToolsWanted, mcpTools, TOOL_NAME } from "../../lib/mcp/tools.ts";
import { TOOLS } from "../../lib/tools/catalog.ts";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "../support/assert.ts";

Deno.test("checkBind: loopback without a key is fine; anything else needs the key", () => {
  for (const h of ["127.0.0.1", "localhost", "::1", "127.0.0.2"]) {
    assert(isLoopback(h), h);
    checkBind(h, undefined);
  }
  for (const h of ["0.0.0.0", "::", "192.168.1.5", "example.com"]) {
    assert(!isLoopback(h), h);
    const e = assertThrows(() => checkBind(h, undefined), ConfigError);
    assertEquals(e.code, "serve_api_key_required");
    checkBind(h, "k");
  }
});

Deno.test("sameSecret compares whole values", async () => {
  assert(await sameSecret("abc", "abc"));
  for (const other of ["abd", "ab", "abcd", "", "ABC"]) assert(!(await sameSecret(other, "abc")));
  // The expected key's digest is remembered per key: another key is compared as itself.
  assert(await sameSecret("xyz", "xyz"));
  assert(!(await sameSecret("abc", "xyz")));
  assert(await sameSecret("abc", "abc"));
});

Deno.test("tool definitions: MCP names, annotations by kind, legacy names only on demand", () => {
  const all = mcpTools({ legacy: true });
  assertEquals(all.length, TOOLS.length);
  for (const t of all) assert(TOOL_NAME.test(t.name), t.name);
  const short = mcpTools({ legacy: false }).map((t) => t.name);
  assert(!short.includes("list_folders") && short.includes("search_emails"));
  const by = new Map(all.map((t) => [t.name, t.annotations]));
  for (const n of ["trash_email", "send_email", "reply_email", "send_draft", "send_message"]) {
    assertEquals([by.get(n)!.destructiveHint, by.get(n)!.readOnlyHint], [true, false], n);
  }
  for (const n of ["search_emails", "read_email", "list_labels", "list_folders"]) {
    assertEquals([by.get(n)!.readOnlyHint, by.get(n)!.destructiveHint], [true, false], n);
  }
  assertEquals(by.get("modify_email")!.idempotentHint, true);
  assertEquals(by.get("create_draft")!.idempotentHint, false);
  assertEquals([legacyToolsWanted("1"), legacyToolsWanted("0"), legacyToolsWanted(undefined)], [
    true,
    false,
    false,
  ]);
});

Deno.test("challengeText: the link, the code, the expiry and what to do next", () => {
  const text = challengeText("list_labels", {
    url: "https://broker.example/connect/ABCD-1234",
    code: "ABCD-1234",
    step: "connect",
    expires_at: "2026-12-03T17:00:00.000Z",
  });
  for (const s of ["https://broker.example/connect/ABCD-1234", "ABCD-1234", "connect", "17:00"]) {
    assertStringIncludes(text, s);
  }
  assertStringIncludes(text, "call list_labels again");
  const noUrl = challengeText("x", { step: "login", message: "Run mcs auth login --wait." });
  assertStringIncludes(noUrl, "Run mcs auth login --wait.");
});
