/**
 * The agent contract without any server: help, version, tools, usage errors (exit 2, with a
 * suggestion), configuration errors (exit 3), permission denials — each as a separate process
 * with no configuration at all, stdout parsed as exactly one JSON document.
 * @module
 */

import { TOOLS } from "../../lib/tools/catalog.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { CONFIG, doc, MAIN, mcs, ROOT_PATH } from "./_mcs.ts";

Deno.test("--version, --help and per-command help work with no configuration", async () => {
  const v = await mcs(["--version"]);
  assertEquals(v.code, 0);
  assertMatch(v.stdout, /^mcs \d+\.\d+\.\d+\n$/);
  const vj = doc(await mcs(["--version", "--json"]));
  assertEquals(vj.ok, true);
  const h = await mcs(["--help"]);
  assertEquals(h.code, 0);
  assertStringIncludes(h.stdout, "mail search");
  assertStringIncludes(h.stdout, "Exit codes");
  const ch = await mcs(["mail", "send", "--help"]);
  assertEquals(ch.code, 0);
  assertStringIncludes(ch.stdout, "--body-file");
  const group = await mcs(["auth"]);
  assertEquals(group.code, 0);
  assertStringIncludes(group.stdout, "auth login");
});

Deno.test("tools --json lists every tool with a JSON Schema, as one JSON document", async () => {
  const r = await mcs(["tools", "--json"]);
  assertEquals(r.code, 0);
  const d = doc(r) as {
    ok: boolean;
    result: { tools: { name: string; parameters: { type: string } }[] };
  };
  assertEquals(d.ok, true);
  assertEquals(d.result.tools.map((t) => t.name), TOOLS.map((t) => t.name));
  for (const t of d.result.tools) assertEquals(t.parameters.type, "object");
  const human = await mcs(["tools"]);
  assertStringIncludes(human.stdout, "search_emails");
});

Deno.test("unknown commands and flags exit 2 with a suggestion", async () => {
  const c = await mcs(["mial", "search"]);
  assertEquals(c.code, 2);
  assertStringIncludes(c.stderr, "Did you mean mcs mail?");
  const sub = await mcs(["mail", "serch", "--json"]);
  assertEquals(sub.code, 2);
  const sd = doc(sub) as { error: { code: string; message: string } };
  assertEquals(sd.error.code, "unknown_command");
  assertStringIncludes(sd.error.message, "mcs mail search");
  const f = doc(await mcs(["tools", "--jsno", "--json"])) as { error: { message: string } };
  assertStringIncludes(f.error.message, "--json");
  const missing = await mcs(["mail", "read", "--json"]);
  assertEquals(missing.code, 2);
});

Deno.test("exec validates arguments before reading any configuration (exit 2)", async () => {
  const cases: [string[], string][] = [
    [["exec", "serch_emails", "{}"], "unknown_tool"],
    [["exec", "search_emails", "{not json"], "invalid_json"],
    [["exec", "search_emails", '{"limit":"many"}'], "invalid_arguments"],
    [["exec", "set_flags", '{"uid":"1","flags":"\\\\Seen","remove":"maybe"}'], "invalid_arguments"],
    [["exec", "read_email", '{"idd":"1"}'], "invalid_arguments"],
  ];
  for (const [args, code] of cases) {
    const r = await mcs(args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stdout}`);
    const d = doc(r) as { ok: boolean; error: { code: string; retryable: boolean } };
    assertEquals(d.ok, false);
    assertEquals(d.error.code, code);
    assertEquals(d.error.retryable, false);
  }
  const suggestion = doc(await mcs(["exec", "read_email", '{"idd":"1"}'])) as {
    error: { message: string };
  };
  assertStringIncludes(suggestion.error.message, "Did you mean id?");
});

Deno.test("exec reads its JSON from stdin with '-'", async () => {
  const r = await mcs(["exec", "search_emails", "-"], { stdin: '{"limit": 0}' });
  assertEquals(r.code, 2);
  assertStringIncludes((doc(r) as { error: { message: string } }).error.message, "at least 1");
});

Deno.test("missing configuration exits 3 with a JSON error naming the setting", async () => {
  const none = await mcs(["exec", "list_labels"]);
  assertEquals(none.code, 3);
  assertEquals((doc(none) as { error: { code: string } }).error.code, "missing_setting");
  const partial = await mcs(["exec", "list_labels"], { env: { MCS_AUTH: "auth0-linkauth" } });
  assertEquals(partial.code, 3);
  const d = doc(partial) as { error: { message: string; details: { env: string } } };
  assertEquals(d.error.details.env, "MCS_AUTH0_DOMAIN");
  assertStringIncludes(partial.stderr, "MCS_AUTH0_DOMAIN");
  const secret = await mcs([
    "auth",
    "status",
    "--json",
    "--auth0-domain",
    "x.auth0.com",
    "--static",
    "--auth0",
  ]);
  assertEquals(secret.code, 2, "two auth paths conflict");
});

Deno.test("secrets come from --secrets-stdin, never argv", async () => {
  const r = await mcs(["auth", "status", "--json", "--static", "--secrets-stdin"], {
    stdin: "MCS_GMAIL_TOKEN=ya29.secret-value\n",
    env: { MCS_CACHE_DIR: "/nonexistent/never-written" },
  });
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assert(!r.stdout.includes("ya29.secret-value"), "the secret is never printed");
  const d = doc(r) as { result: { settings: { name: string; value: string; source: string }[] } };
  const tok = d.result.settings.find((s) => s.name === "gmail_token")!;
  assertEquals(tok.value, "(set, hidden)");
  assertEquals(tok.source, "stdin MCS_GMAIL_TOKEN");
});

Deno.test("a permission denial is permission_denied naming the permission, no stack trace", async () => {
  const r = await mcs(["exec", "list_labels"], {
    perms: [`--allow-read=${ROOT_PATH}`, "--allow-env"],
    env: {
      MCS_AUTH: "static",
      MCS_GMAIL_TOKEN: "ya29.test",
      MCS_GMAIL_API_BASE: "https://127.0.0.1:5",
    },
  });
  const d = doc(r) as { error: { code: string; message: string } };
  assertEquals(d.error.code, "permission_denied");
  assertStringIncludes(d.error.message, "net");
  assert(!/\n\s+at /.test(r.stdout + r.stderr), "no stack trace");
  assert(r.code !== 0);
});

Deno.test("tools and --version need no read or env permission beyond the program", async () => {
  // A read-only filesystem and no environment: only reading the program itself is allowed.
  const r = await mcs(["tools", "--json"], {
    perms: [`--allow-read=${ROOT_PATH},${CONFIG},${MAIN}`],
  });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(doc(r).ok, true);
});

Deno.test("`deno task mcs -- <args>`: a leading -- is not a command", async () => {
  const help = await mcs(["--", "--help"]);
  assertEquals(help.code, 0, help.stderr);
  assertStringIncludes(help.stdout, "Usage: mcs <command>");
  const tools = await mcs(["--", "tools", "--json"]);
  assertEquals(tools.code, 0, tools.stderr);
  assertEquals(JSON.parse(tools.stdout).ok, true);
});
