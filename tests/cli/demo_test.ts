/**
 * The README's first command, `deno task demo`, run as CI runs it: a separate process with the
 * `demo` permission set, no account, no network beyond 127.0.0.1, no configuration. Assertions
 * read the commands' output blocks (never the echoed `$ mcs ...` lines), and the demo's own step
 * checks are tested to fail when a step produced nothing.
 * @module
 */

import { checkFoundInSent, checkRead, checkSearch, checkSent } from "../../cli/commands/demo.ts";
import { McsError } from "../../lib/errors.ts";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "../support/assert.ts";
import { runProcess } from "../support/process.ts";
import { toolchainEnv } from "../support/toolchain_env.ts";
import { CONFIG, MAIN, ROOT_PATH } from "./_mcs.ts";

/** The demo's stdout split into `{command, lines}` blocks: each command's own output lines. */
function blocks(stdout: string): { command: string; lines: string[] }[] {
  const out: { command: string; lines: string[] }[] = [];
  for (const line of stdout.split("\n")) {
    if (line.startsWith("$ mcs ")) out.push({ command: line.slice(2), lines: [] });
    else if (line.startsWith("▶") || line.startsWith("✓")) out.push({ command: "", lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

/** The output lines of the (only) command starting with `prefix`. */
function outputOf(all: ReturnType<typeof blocks>, prefix: string): string[] {
  const found = all.filter((b) => b.command.startsWith(prefix));
  assertEquals(found.length, 1, `one "${prefix}" command: ${all.map((b) => b.command)}`);
  return found[0].lines;
}

/** The `{"ok":true,"result":...}` document among a command's output lines. */
function resultOf(lines: string[]) {
  const line = lines.find((l) => l.trim().startsWith('{"ok":true'));
  assert(line, lines.join("\n"));
  return JSON.parse(line).result;
}

Deno.test("deno task demo: login, consent, search, read and send, exit 0", async () => {
  const home = Deno.env.get("HOME");
  const env = toolchainEnv(home ? { HOME: home } : {});
  const { code, stdout, stderr } = await runProcess(
    Deno.execPath(),
    ["run", "--no-prompt", "-P=demo", "--config", CONFIG, MAIN, "dev", "demo"],
    { cwd: ROOT_PATH, env, clearEnv: true },
  );
  assertEquals(code, 0, stdout + stderr);
  for (
    const expected of [
      "Step 1: sign in",
      "signing in at Auth0",
      "Step 2 of the double flow",
      "granting Gmail access at Auth0",
    ]
  ) assertStringIncludes(stdout, expected);
  const all = blocks(stdout);
  const login = all.filter((b) => b.command === "mcs auth login --json");
  assertEquals(resultOf(login.at(-1)!.lines).authorized, true);
  // Search: the agent's first result is a row of the human search.
  const [first] = resultOf(outputOf(all, "mcs exec search_emails")).messages;
  assert(first?.id, "the search found messages");
  const rows = outputOf(all, "mcs mail search is:unread");
  assert(rows.some((l) => l.includes(first.id) && l.includes(first.subject)), rows.join("\n"));
  // Read: the From: block of that message.
  const read = outputOf(all, `mcs mail read ${first.id}`);
  const from = read.find((l) => /^\s+From:\s/.test(l));
  assert(from && from.includes(first.from.replace(/.*<|>.*/g, "")), read.join("\n"));
  // Send, then the in:sent search lists that very message with its subject.
  const sent = resultOf(outputOf(all, "mcs mail send"));
  assert(typeof sent.id === "string" && sent.id, JSON.stringify(sent));
  const inSent = outputOf(all, "mcs mail search 'in:sent");
  assert(
    inSent.some((l) => l.includes(sent.id) && l.includes("Hello from mcs")),
    inSent.join("\n"),
  );
  assertStringIncludes(stdout, `Demo complete`);
});

Deno.test("demo step checks fail unless each step produced its result", () => {
  const msg = { id: "m1", from: "Alice <alice@example.org>", subject: "Hi" };
  const agent = JSON.stringify({ ok: true, result: { messages: [msg] } });
  const failed = (fn: () => unknown, text: string) => {
    const e = assertThrows(fn, McsError);
    assertEquals(e.code, "demo_step_failed");
    assertEquals(e.category, "runtime");
    assertStringIncludes(e.message, text);
  };
  assertEquals(checkSearch("● m1  Alice  Hi", agent), msg);
  failed(
    () => checkSearch("", JSON.stringify({ ok: true, result: { messages: [] } })),
    "found no messages",
  );
  failed(() => checkSearch("● m2  Bob  Other", agent), "no row for message m1");
  failed(() => checkSearch("", '{"ok":false}'), "search");
  checkRead("From:    Alice <alice@example.org>\nTo: ada@example.com\n", msg);
  failed(() => checkRead("Subject: Hi\n", msg), "no From: block");
  failed(() => checkRead("From: Mallory <m@example.net>\n", msg), "the search said");
  assertEquals(checkSent(JSON.stringify({ ok: true, result: { id: "s1" } })), "s1");
  failed(() => checkSent(JSON.stringify({ ok: true, result: {} })), "no message id");
  checkFoundInSent("  s1  ada@example.com  Hello from mcs", "s1");
  failed(() => checkFoundInSent("", "s1"), "did not find the sent message s1");
});
