/**
 * An argument over its schema limit is an argument error (exit 2, `invalid_arguments`) from the
 * CLI flags and from `mcs exec` alike, before any request: the Gmail base URL here is a port
 * nothing listens on, so reaching the network would be `network_error` (exit 1).
 */
import { assertEquals, assertStringIncludes } from "../support/assert.ts";
import { doc, mcs } from "./_mcs.ts";

const env = {
  MCS_AUTH: "static",
  MCS_GMAIL_TOKEN: "ya29.test-token",
  MCS_GMAIL_API_BASE: "http://127.0.0.1:9",
  MCS_CACHE_DIR: "/nonexistent/mcs-limits",
};

Deno.test("a 100,000-character query is an argument error (exit 2), not a network error", async () => {
  const huge = "x".repeat(100_000);
  for (
    const args of [
      ["mail", "search", huge, "--json"],
      ["mail", "threads", huge, "--json"],
      ["exec", "search_emails", "-"],
    ]
  ) {
    const stdin = args[0] === "exec" ? JSON.stringify({ query: huge }) : undefined;
    const r = await mcs(args, { env, stdin });
    assertEquals(r.code, 2, `${args[0]} ${args[1]}: ${r.stdout.slice(0, 300)}${r.stderr}`);
    const d = doc(r);
    assertEquals(d.error.code, "invalid_arguments");
    assertEquals(d.error.retryable, false);
    assertStringIncludes(d.error.message, `"query" is too long: 100000 characters, at most 2048`);
  }
});

Deno.test("too many recipients on a CLI flag: exit 2 naming the flag's parameter", async () => {
  const to = Array.from({ length: 501 }, (_, i) => `u${i}@example.com`).join(",");
  const r = await mcs(["mail", "send", "--to", to, "-s", "hi", "--body", "b", "--json"], { env });
  assertEquals(r.code, 2, r.stdout + r.stderr);
  assertStringIncludes(doc(r).error.message, `"to" has 501 items, at most 500`);
});
