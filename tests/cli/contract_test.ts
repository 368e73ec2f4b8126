/**
 * The agent contract without any server: help, version, tools, usage errors (exit 2, with a
 * suggestion), configuration errors (exit 3), permission denials — each as a separate process
 * with no configuration at all, stdout parsed as exactly one JSON document.
 * @module
 */

import { AuthChallenge } from "../../lib/auth/types.ts";
import { TOOLS } from "../../lib/tools/catalog.ts";
import { failure } from "../../cli/output.ts";
import { stepOfUrl } from "../../cli/commands/auth.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { GoogleTokenRegistry } from "../../lib/emulators/google_tokens.ts";
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

Deno.test("an attachment outside the build's read grant is permission_denied naming --read-dir", async () => {
  const cache = await Deno.makeTempDir();
  try {
    const r = await mcs([
      "exec",
      "send_email",
      JSON.stringify({
        to: "b@example.org",
        subject: "s",
        body: "b",
        attachments: ["/etc/hostname"],
      }),
    ], {
      perms: [`--allow-read=${ROOT_PATH},${cache}`, `--allow-write=${cache}`, "--allow-env"],
      env: {
        MCS_AUTH: "static",
        MCS_GMAIL_TOKEN: "ya29.test",
        MCS_GMAIL_API_BASE: "https://127.0.0.1:5",
        MCS_CACHE_DIR: cache,
      },
    });
    const d = doc(r) as {
      error: { code: string; message: string; details: { permission: string } };
    };
    assertEquals(d.error.code, "permission_denied", r.stdout);
    assertEquals(d.error.details.permission, "--allow-read");
    assertStringIncludes(d.error.message, "--read-dir");
    assert(!d.error.message.includes("run again with"), "not Deno's own advice");
    assertEquals(r.code, 1);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("failure(): env and run NotCapable become permission_denied naming the flag, no stack", () => {
  const cases: [Error, string][] = [
    [
      new Deno.errors.NotCapable('Requires env access to "X", run again with the --allow-env flag'),
      "--allow-env",
    ],
    [
      new Deno.errors.NotCapable(
        'Requires run access to "git", run again with the --allow-run flag',
      ),
      "--allow-run",
    ],
  ];
  for (const [e, flag] of cases) {
    for (const debug of [false, true]) {
      const f = failure(e, debug);
      assertEquals(f.exitCode, 1);
      const d = f.doc as {
        error: { code: string; message: string; details?: { permission: string } };
      };
      assertEquals(d.error.code, "permission_denied");
      assertStringIncludes(d.error.message, flag);
      assert(d.error.details?.permission.startsWith(flag), JSON.stringify(d));
      assert(!("stack" in d.error), "no stack, even with MCS_DEBUG");
      assert(!/\n\s+at /.test(JSON.stringify(d) + f.hint), "no stack trace");
      assertStringIncludes(f.hint, flag);
    }
  }
});

Deno.test("failure(): an auth challenge without a URL hints with its own message", () => {
  const noUrl = failure(
    new AuthChallenge({
      message: "Sign-in required: run `mcs auth login` and complete the sign-in in a browser.",
      step: "login",
    }),
    false,
  );
  assertEquals(noUrl.exitCode, 4);
  assertStringIncludes(noUrl.hint, "run `mcs auth login`");
  assert(!noUrl.hint.includes(". then"), noUrl.hint);
  const connect = failure(
    new AuthChallenge({
      message: "Connect your account.",
      step: "connect",
      url: "https://t.example/connect?ticket=x",
      code: "ABCD-EFGH",
    }),
    false,
  );
  assertStringIncludes(connect.hint, "connect Gmail");
  assertStringIncludes(
    connect.hint,
    "open https://t.example/connect?ticket=x and enter code ABCD-EFGH",
  );
});

Deno.test("help under --json (and for exec) is one JSON document", async () => {
  const cases: [string[], string][] = [
    [["--json"], "Usage: mcs <command>"],
    [["auth", "--json"], "auth login"],
    [["tools", "--help", "--json"], "Usage: mcs tools"],
    [["help", "mail", "read", "--json"], "Usage: mcs mail read"],
    [["exec", "--help"], "Usage: mcs exec"],
    [["--help", "exec"], "Usage: mcs exec"],
  ];
  for (const [args, text] of cases) {
    const r = await mcs(args);
    assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    const d = JSON.parse(r.stdout) as { ok: boolean; result: { help: string } };
    assertEquals(d.ok, true);
    assertStringIncludes(d.result.help, text);
  }
  // Without --json help stays text.
  assertStringIncludes((await mcs(["tools", "--help"])).stdout, "Usage: mcs tools");
});

Deno.test("a secret given as a flag is secret_in_argv (exit 3), never echoed", async () => {
  const cases: [string[], string, string][] = [
    [
      ["--auth0-client-secret=s3cr3t-value", "auth", "status"],
      "MCS_AUTH0_CLIENT_SECRET",
      "auth0_client_secret",
    ],
    [
      ["auth", "status", "--auth0-refresh-token", "s3cr3t-value"],
      "MCS_AUTH0_REFRESH_TOKEN",
      "auth0_refresh_token",
    ],
    [
      ["exec", "list_labels", "--linkauth-api-key=s3cr3t-value"],
      "MCS_LINKAUTH_API_KEY",
      "linkauth_api_key",
    ],
    [
      ["mail", "search", "--gmail-token", "s3cr3t-value", "--json"],
      "MCS_GMAIL_TOKEN",
      "gmail_token",
    ],
  ];
  for (const [args, env, key] of cases) {
    const r = await mcs(args);
    assertEquals(r.code, 3, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert(!(r.stdout + r.stderr).includes("s3cr3t-value"), "the value is never echoed");
    assert(!/Did you mean/.test(r.stderr), r.stderr);
    for (const s of [env, key, "--secrets-stdin"]) assertStringIncludes(r.stderr, s);
    if (args.includes("--json") || args[0] === "exec") {
      const d = doc(r) as { error: { code: string; message: string } };
      assertEquals(d.error.code, "secret_in_argv");
      assertStringIncludes(d.error.message, env);
    }
  }
});

Deno.test("mail read --html, mail attachment --overwrite, a capped --limit (static token, emulator)", async () => {
  const registry = new GoogleTokenRegistry();
  const emu = await startGmailEmulator({ googleTokens: registry, seed: false });
  const dir = await Deno.makeTempDir();
  try {
    const token = registry.issue({
      sub: "google-oauth2|1",
      email: "ada@example.com",
      scopes: ["https://mail.google.com/"],
      ttlS: 3600,
    }).token;
    const env = {
      MCS_AUTH: "static",
      MCS_GMAIL_TOKEN: token,
      MCS_GMAIL_API_BASE: emu.url,
      MCS_CACHE_DIR: `${dir}/cache`,
    };
    const id = emu.mailbox.insert(
      [
        "From: Alice <alice@example.org>",
        "To: ada@example.com",
        "Subject: Invoice",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="m"',
        "",
        "--m",
        'Content-Type: multipart/alternative; boundary="a"',
        "",
        "--a",
        "Content-Type: text/plain",
        "",
        "Plain words.",
        "--a",
        "Content-Type: text/html",
        "",
        "<p>Rich <b>words</b>.</p>",
        "--a--",
        "--m",
        'Content-Type: application/pdf; name="invoice.pdf"',
        'Content-Disposition: attachment; filename="invoice.pdf"',
        "",
        "%PDF-1.4",
        "--m--",
        "",
      ].join("\r\n"),
      { labels: ["INBOX"] },
    ).id;
    const html = await mcs(["mail", "read", id, "--html"], { env });
    assertEquals(html.code, 0, html.stderr);
    assertStringIncludes(html.stdout, "<p>Rich <b>words</b>.</p>");
    assert(!html.stdout.includes("Plain words."), "the HTML instead of the text");
    const text = await mcs(["mail", "read", id], { env });
    assertStringIncludes(text.stdout, "Plain words.");
    const j = doc(await mcs(["mail", "read", id, "--html", "--json"], { env })) as {
      result: { body: string; html: string; html_truncated: boolean };
    };
    assertEquals(j.result.html, "<p>Rich <b>words</b>.</p>");
    assertEquals(j.result.html_truncated, false);

    const out = `${dir}/out`;
    await Deno.mkdir(out);
    const get = (...extra: string[]) =>
      mcs(["mail", "attachment", id, "invoice.pdf", "--out", out, "--json", ...extra], { env });
    assertEquals(
      (doc(await get()) as { result: { filename: string } }).result.filename,
      "invoice.pdf",
    );
    assertEquals(
      (doc(await get()) as { result: { filename: string } }).result.filename,
      "invoice (1).pdf",
    );
    const over = doc(await get("--overwrite")) as { result: { filename: string } };
    assertEquals(over.result.filename, "invoice.pdf");
    assertEquals([...Deno.readDirSync(out)].length, 2, "--overwrite replaced the file");

    const capped = await mcs(["mail", "search", "--limit", "500", "--json"], { env });
    assertEquals(capped.code, 0, capped.stdout);
    const c = doc(capped) as { result: { messages: unknown[]; notice: string } };
    assertStringIncludes(c.result.notice, "capped at 100");
    const human = await mcs(["mail", "search", "-n", "500"], { env });
    assertStringIncludes(human.stdout, "Note: limit 500 is above the maximum of 100");
  } finally {
    await emu.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auth login --wait names the step of the URL it prints", () => {
  assertEquals(
    stepOfUrl("https://t.example/authorize?response_type=code&code_challenge=x&state=s"),
    "sign in",
  );
  assertEquals(stepOfUrl("https://t.example/connect?ticket=abc"), "connect Gmail");
});
