/**
 * `mcs dev demo` (`deno task demo`): the whole product in one command, with no account, no
 * network and no configuration. It starts the local stack in this process, then runs the real
 * CLI as separate processes (every call a fresh process, exactly like an agent's skill calls):
 *
 * 1. `mcs auth login` → exit 4 with a broker URL and code (auth path `auth0-linkauth`);
 * 2. the user's browser steps, done here with plain HTTP and printed (open the URL, enter the
 *    code, sign in at Auth0);
 * 3. `mcs auth login` again → the Connected Accounts consent (the "double flow"), through the
 *    broker's passthrough; browser steps again;
 * 4. `mcs auth login` → authorized; then a search, a read and a send against the demo mailbox,
 *    and the agent's view (`mcs exec`, one JSON document).
 *
 * Every step is checked against the CLI's own output, not just its exit code: the search must
 * list messages (the agent's first result among the rows), the read must show the sender's
 * `From:` block, and the `in:sent` search must find the message the send reported. Otherwise the
 * demo fails with `demo_step_failed` (exit 1) naming the step.
 *
 * Needs `--allow-run` (it spawns the CLI): `deno task demo` uses the `demo` permission set.
 *
 * @example
 * ```sh
 * deno task demo
 * ```
 * @module
 */

import { McsError } from "../../lib/errors.ts";
import type { CommandOutput, Context } from "../context.ts";

const ROOT = new URL("../../", import.meta.url);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A demo step that ran but did not produce its expected result. */
function stepFailed(step: string, message: string): McsError {
  return new McsError("demo_step_failed", `demo step "${step}" failed: ${message}`, "runtime");
}

/** A message row as the agent contract gives it. */
export interface DemoMessage {
  id: string;
  from: string;
  subject: string;
}

function parseResult(step: string, stdout: string): Record<string, unknown> {
  try {
    const doc = JSON.parse(stdout);
    if (doc?.ok === true && doc.result && typeof doc.result === "object") return doc.result;
  } catch {
    // reported below
  }
  throw stepFailed(step, `expected one {"ok":true,"result":...} document, got ${stdout.trim()}`);
}

/**
 * The search step: the agent's `search_emails` document must hold at least one message, and the
 * human search (same query) must list it as a row.
 * @throws {McsError} `demo_step_failed`
 */
export function checkSearch(humanStdout: string, agentStdout: string): DemoMessage {
  const result = parseResult("search", agentStdout);
  const messages = Array.isArray(result.messages) ? result.messages as DemoMessage[] : [];
  const first = messages[0];
  if (!first || typeof first.id !== "string") {
    throw stepFailed("search", "the search found no messages in the demo mailbox");
  }
  if (!humanStdout.includes(first.id)) {
    throw stepFailed("search", `the human search lists no row for message ${first.id}`);
  }
  return first;
}

/**
 * The read step: a `From:` block naming the message's sender.
 * @throws {McsError} `demo_step_failed`
 */
export function checkRead(stdout: string, message: DemoMessage): void {
  const from = /^From:\s+(.+)$/m.exec(stdout)?.[1];
  if (!from) throw stepFailed("read", `no From: block in the output of message ${message.id}`);
  const address = /<([^>]+)>/.exec(message.from)?.[1] ?? message.from;
  if (!from.includes(address)) {
    throw stepFailed("read", `From: shows "${from}", the search said "${message.from}"`);
  }
}

/**
 * The send step: the id of the sent message from the `--json` document.
 * @throws {McsError} `demo_step_failed`
 */
export function checkSent(stdout: string): string {
  const id = parseResult("send", stdout).id;
  if (typeof id !== "string" || !id) throw stepFailed("send", "the send reported no message id");
  return id;
}

/**
 * The `in:sent` search must list the sent message.
 * @throws {McsError} `demo_step_failed`
 */
export function checkFoundInSent(stdout: string, sentId: string): void {
  if (!stdout.includes(sentId)) {
    throw stepFailed("search sent", `the in:sent search did not find the sent message ${sentId}`);
  }
}

function indent(text: string, prefix = "  "): string {
  return text.trimEnd().split("\n").map((l) => prefix + l).join("\n") + "\n";
}

/** Run the demo. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const say = (text = "") => ctx.io.out(text + "\n");
  const { startStack } = await import("../../lib/emulators/stack.ts");
  say("▶ Starting the local stack: Auth0 tenant, LinkAuth broker and Gmail emulators");
  say("  on 127.0.0.1 over HTTPS (throwaway CA), seeded mailbox of ada@example.com.");
  const stack = await startStack({ pollInterval: 1 });
  try {
    say(
      `  Auth0:  ${stack.urls.auth0}\n  Broker: ${stack.urls.broker}\n  Gmail:  ${stack.urls.gmail}`,
    );
    const env: Record<string, string> = {
      ...stack.env,
      // Isolation: no user config file, no proxies; keep Deno's own cache reachable.
      MCS_CONFIG: `${stack.env.MCS_CACHE_DIR}/../no-config.toml`,
      NO_COLOR: "1",
    };
    for (const name of ["DENO_DIR", "HOME", "PATH", "XDG_CACHE_HOME"]) {
      const v = ctx.io.env.get(name);
      if (v) env[name] = v;
    }
    say("  Environment for the CLI (what `mcs dev` prints):");
    for (const [k, v] of Object.entries(stack.env)) {
      say(`    ${k}=${/SECRET|API_KEY/.test(k) ? "(throwaway secret)" : v}`);
    }

    const mcs = async (args: string[], show = true): Promise<Ran> => {
      if (show) say(`\n$ mcs ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(" ")}`);
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "-P=mcs",
          "--config",
          new URL("deno.json", ROOT).pathname,
          new URL("cli/main.ts", ROOT).pathname,
          ...args,
        ],
        cwd: ROOT.pathname,
        env,
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      const ran = {
        code: out.code,
        stdout: dec.decode(out.stdout),
        stderr: dec.decode(out.stderr).split("\n").filter((l) => !/experimental feature/.test(l))
          .join("\n"),
      };
      if (show) {
        if (ran.stdout.trim()) ctx.io.out(indent(ran.stdout));
        if (ran.stderr.trim()) ctx.io.out(indent(ran.stderr, "  (stderr) "));
        say(`  [exit ${ran.code}]`);
      }
      return ran;
    };
    const fail = (what: string, r: Ran): never => {
      throw stepFailed(what, `exit ${r.code}: ${(r.stdout + r.stderr).trim()}`);
    };

    // Sign-in: repeat `mcs auth login --json` until authorized, acting as the user in between.
    const acted = new Set<string>();
    for (let round = 0;; round++) {
      const r = await mcs(["auth", "login", "--json"]);
      if (r.code === 0) break;
      if (r.code !== 4 || round >= 8) fail("auth login", r);
      const doc = JSON.parse(r.stdout) as {
        url: string;
        code: string;
        step: string;
        retry_after_s: number | null;
      };
      if (acted.has(doc.code)) {
        // Asked again before the broker's next poll slot: wait and run the same command again.
        await new Promise((r) => setTimeout(r, Math.max(1, doc.retry_after_s ?? 1) * 1000));
        continue;
      }
      say(
        doc.step === "connect"
          ? "\n▶ Step 2 of the double flow: connect Gmail to Auth0 (Connected Accounts)."
          : "\n▶ Step 1: sign in. The user opens the URL and enters the code:",
      );
      await stack.userCompletes(doc.url, doc.code, (s) => say(`  🌐 ${s.action}: ${s.url}`));
      acted.add(doc.code);
      // The agent simply runs the same command again (after the broker's poll interval).
      await new Promise((r) => setTimeout(r, Math.max(1, doc.retry_after_s ?? 1) * 1000 + 200));
    }

    say("\n▶ Using the mailbox (each command is a fresh process; state comes from the cache).");
    await mcs(["auth", "status"]);
    const found = await mcs(["mail", "search", "is:unread", "--limit", "5"]);
    if (found.code !== 0) fail("mail search", found);
    const agent = await mcs(["exec", "search_emails", '{"query":"is:unread","limit":1}']);
    if (agent.code !== 0) fail("exec search_emails", agent);
    const first = checkSearch(found.stdout, agent.stdout);
    const read = await mcs(["mail", "read", first.id, "--max-chars", "600"]);
    if (read.code !== 0) fail("mail read", read);
    checkRead(read.stdout, first);
    const sent = await mcs([
      "mail",
      "send",
      "--to",
      "bob@example.com",
      "--subject",
      "Hello from mcs",
      "--body",
      "Sent by the mcs demo through Auth0 Token Vault.",
      "--json",
    ]);
    if (sent.code !== 0) fail("mail send", sent);
    const sentId = checkSent(sent.stdout);
    const check = await mcs(["mail", "search", "in:sent subject:mcs", "--limit", "5"]);
    if (check.code !== 0) fail("search sent", check);
    checkFoundInSent(check.stdout, sentId);
    say(
      "\n✓ Demo complete: login via LinkAuth + Auth0, Connected Accounts consent, search, read, " +
        `send (message ${sentId} found in Sent).`,
    );
    say("  Run `deno task mcs dev` to keep the stack running and try it yourself.");
    return { result: { ok: true }, printed: true };
  } finally {
    await stack.close();
  }
}
