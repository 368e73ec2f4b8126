/**
 * Proof that the shipped program works under exactly its baked least-privilege permission set,
 * and that everything outside it is denied and reported as `permission_denied`.
 *
 * The bundle is built scoped to the local stack (auth0-linkauth over HTTPS with a throwaway CA),
 * like a deployment would build it, then run with `deno run` under the flags it ships with. The
 * compiled binary gets the same proofs when a denort base binary is available (`DENORT_BIN` or
 * the cached zip); otherwise that test is ignored, never passed.
 */

import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { startStack } from "../../lib/emulators/stack.ts";
import { requires, testRequiring } from "../support/requires.ts";
import {
  buildBundle,
  type BuiltBundle,
  denortAvailable,
  exec,
  type Ran,
  runBuild,
  runUnder,
} from "./_build.ts";

type Runner = (args: string[], env?: Record<string, string>) => Promise<Ran>;

/** A Google access token the stack's Gmail emulator accepts (auth path static). */
function gmailToken(stack: Awaited<ReturnType<typeof startStack>>): string {
  return stack.googleTokens.issue({
    sub: "google-oauth2|bundle",
    email: stack.auth0.user.email,
    scopes: ["https://mail.google.com/"],
    ttlS: 600,
  }).token;
}

function json(r: Ran): Record<string, unknown> {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

function assertDenied(r: Ran, permission: "read" | "write" | "net"): void {
  const doc = json(r) as { ok: boolean; error?: { code: string; message: string } };
  assertEquals(doc.ok, false, r.stdout);
  assertEquals(doc.error?.code, "permission_denied", r.stdout);
  assertStringIncludes(doc.error!.message, `--allow-${permission}`);
  assert(r.code !== 0);
  assert(!/^\s+at /m.test(r.stderr + r.stdout), `no stack trace:\n${r.stderr}`);
}

/** The proofs, shared by the bundle and the compiled binary. */
async function proofs(
  t: Deno.TestContext,
  run: Runner,
  stack: Awaited<ReturnType<typeof startStack>>,
  dirs: { inbox: string; outside: string },
) {
  await t.step("--version and tools --json work", async () => {
    const v = await run(["--version"]);
    assertEquals(v.code, 0, v.stderr);
    const tools = await run(["tools", "--json"]);
    assertEquals(tools.code, 0, tools.stderr);
  });

  await t.step("auth0-linkauth chain: challenge, user completes, search succeeds", async () => {
    // Play the agent: on auth_required show the URL/code (here: the user completes it), wait
    // retry_after_s as the contract asks, run the same command again. Login, then the connect
    // consent: two distinct challenges, then the search succeeds.
    const completed: string[] = [];
    let r = await run(["mail", "search", "in:inbox", "--json"]);
    for (let i = 0; i < 8; i++) {
      const d = json(r) as {
        auth_required?: boolean;
        url?: string;
        code?: string;
        retry_after_s?: number | null;
      };
      if (!d.auth_required) break;
      const id = `${d.url}#${d.code}`;
      if (!completed.includes(id)) {
        await stack.userCompletes(d.url!, d.code ?? undefined);
        completed.push(id);
      }
      await new Promise((ok) => setTimeout(ok, Math.max(1, d.retry_after_s ?? 1) * 1000));
      r = await run(["mail", "search", "in:inbox", "--json"]);
    }
    assertEquals(completed.length, 2, `login and connect: ${completed.join(", ")}`);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assertEquals((json(r) as { ok: boolean }).ok, true);
  });

  await t.step("reading a file outside the allowed directories is denied", async () => {
    assertDenied(
      await run([
        "mail",
        "draft",
        "create",
        "--to",
        "bob@example.com",
        "--subject",
        "x",
        "--body-file",
        "/etc/passwd",
        "--json",
      ]),
      "read",
    );
  });

  await t.step("writing outside the allowed directories is denied", async () => {
    const search = json(await run(["mail", "search", "has:attachment", "--json"])) as {
      result?: { messages?: { id: string }[] };
    };
    const id = search.result?.messages?.[0]?.id;
    assert(id, `the demo mailbox has a message with an attachment: ${JSON.stringify(search)}`);
    const read = json(await run(["mail", "read", id, "--json"])) as {
      result?: { attachments?: { attachment_id?: string }[] };
    };
    const attachment = read.result?.attachments?.find((a) => a.attachment_id)?.attachment_id;
    assert(attachment, `message ${id} lists an attachment id`);
    assertDenied(
      await run(["mail", "attachment", id, attachment, "--out", dirs.outside, "--json"]),
      "write",
    );
  });

  await t.step("reaching a host that is not on the list is denied", async () => {
    assertDenied(
      await run(["mail", "search", "in:inbox", "--json"], {
        MCS_GMAIL_API_BASE: "https://127.0.0.2:8443",
      }),
      "net",
    );
  });
}

/** Probe run/env/sys/ffi under the very same flags (no mcs command uses them at all). */
const PROBE = `
const out = {};
const t = async (name, f) => {
  try { await f(); out[name] = "allowed"; }
  catch (e) { out[name] = e instanceof Deno.errors.NotCapable ? "denied" : String(e); }
};
await t("run", () => new Deno.Command("/bin/sh", { args: ["-c", "true"] }).output());
await t("env", () => Deno.env.get("PATH"));
await t("sys", () => Deno.hostname());
await t("ffi", () => Deno.dlopen("libc.so.6", {}));
await t("read", () => Deno.readTextFile("/etc/hostname"));
await t("write", () => Deno.writeTextFile(Deno.args[0] + "/x", "x"));
await t("net", () => fetch("http://127.0.0.2:8080/"));
await t("cache", async () => {
  const p = Deno.env.get("MCS_CACHE_DIR") + "/probe";
  await Deno.mkdir(Deno.env.get("MCS_CACHE_DIR"), { recursive: true });
  await Deno.writeTextFile(p, "x");
  await Deno.readTextFile(p);
  await Deno.remove(p);
});
console.log(JSON.stringify(out));
`;

async function withStack(
  fn: (ctx: {
    stack: Awaited<ReturnType<typeof startStack>>;
    bundle: BuiltBundle;
    dirs: { inbox: string; outside: string };
    runEnv: Record<string, string>;
  }) => Promise<void>,
) {
  const stack = await startStack();
  const tmp = await Deno.makeTempDir({ prefix: "mcs-build-proof-" });
  const dirs = { inbox: join(tmp, "inbox"), outside: join(tmp, "outside") };
  await Deno.mkdir(dirs.inbox);
  await Deno.mkdir(dirs.outside);
  let bundle: BuiltBundle | undefined;
  try {
    // Build-time configuration: the deployment's non-secret settings (secrets come at run time).
    const buildVars = Object.fromEntries(
      Object.entries(stack.env).filter(([k]) => !/SECRET|API_KEY|TOKEN/.test(k)),
    );
    bundle = await buildBundle(buildVars, ["--write-dir", dirs.inbox]);
    // Run time: the secrets, plus HOME for nothing in particular (it must not widen anything).
    const runEnv = { ...stack.env, HOME: tmp };
    await fn({ stack, bundle, dirs, runEnv });
  } finally {
    await bundle?.cleanup();
    await stack.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("bundle --split: a small entry; commands load their code from mcs-chunks/", async () => {
  const bundle = await buildBundle({ MCS_AUTH: "static", MCS_CACHE_DIR: "/tmp/mcs-split-cache" }, [
    "--split",
  ]);
  try {
    const entry = await Deno.readTextFile(bundle.bundle);
    assert(!entry.includes("gmail/v1"), "the Gmail client is not inlined in mcs.js");
    assertStringIncludes(entry, 'import("./mcs-chunks/');
    const chunks = [...Deno.readDirSync(join(bundle.dist, "mcs-chunks"))].map((e) => e.name);
    assert(chunks.length > 1, chunks.join());
    const inChunks = await Promise.all(
      chunks.map((c) => Deno.readTextFile(join(bundle.dist, "mcs-chunks", c))),
    );
    assert(inChunks.some((c) => c.includes("gmail/v1")), "the Gmail client is in a chunk");
    const v = await runUnder(bundle, bundle.bundle, ["--version"]);
    assertEquals(v.code, 0, v.stderr);
    const tools = await runUnder(bundle, bundle.bundle, ["tools", "--json"]);
    assertEquals(JSON.parse(tools.stdout).ok, true, tools.stderr);
    // A command that loads chunks runs under the same flags (static mode, no token: exit 3, missing_setting).
    const search = await runUnder(bundle, bundle.bundle, ["mail", "search", "x", "--json"]);
    assertEquals(JSON.parse(search.stdout).error?.code, "missing_setting", search.stdout);
    assertEquals(search.code, 3);
  } finally {
    await bundle.cleanup();
  }
});

Deno.test("bundle: works under its baked permission set and everything else is denied", async (t) => {
  await withStack(async ({ stack, bundle, dirs, runEnv }) => {
    assertEquals(bundle.manifest.kind, "scoped");
    const perms = bundle.manifest.permissions as { net: string[]; read: string[]; write: string[] };
    for (const url of [stack.urls.auth0, stack.urls.broker, stack.urls.gmail]) {
      assert(perms.net.includes(new URL(url).host), `${url} allowed`);
    }
    assertEquals(perms.write, [stack.env.MCS_CACHE_DIR, dirs.inbox]);
    const baked = await Deno.readTextFile(bundle.envFile!);
    for (const [k, v] of Object.entries(stack.env)) {
      if (/SECRET|API_KEY/.test(k)) assert(!baked.includes(v), `${k} is not baked`);
    }

    await t.step(
      "run, env, sys, ffi, other paths and hosts are denied; the cache is not",
      async () => {
        const probe = join(bundle.dist, "probe.js");
        await Deno.writeTextFile(probe, PROBE);
        const r = await runUnder(bundle, probe, [dirs.outside], { env: runEnv });
        assertEquals(r.code, 0, r.stderr);
        assertEquals(JSON.parse(r.stdout), {
          run: "denied",
          env: "denied",
          sys: "denied",
          ffi: "denied",
          read: "denied",
          write: "denied",
          net: "denied",
          cache: "allowed",
        });
      },
    );

    await t.step(
      "the bundle is one file, plus html-to-text and the MCP SDK in files of their own",
      async () => {
        const code = await Deno.readTextFile(bundle.bundle);
        assert(code.includes("gmail/v1"), "the Gmail client is inlined in mcs.js");
        const local = [...code.matchAll(/(?:from|import\()\s*["'](\.\.?\/[^"']*)["']/g)]
          .map((m) => m[1]);
        assertEquals(
          [...new Set(local)].sort(),
          [
            "./mcs-html-to-text.js",
            "./mcs-mcp-sdk.js",
            "./mcs-mcs-broker.js",
            "./mcs-oauth4webapi.js",
            "./mcs-redis-client.js",
            "./mcs-smol-toml.js",
            "./mcs-uqr.js",
          ],
          "the only local imports",
        );
        assert(!code.includes("whitespaceCharacters"), "html-to-text is not inlined");
        assert(!code.includes("The client is offline"), "the Redis client is not inlined");
        // The SDK validates with zod: its error codes mark SDK code.
        assert(!code.includes("invalid_type"), "the MCP SDK is not inlined");
        assert(!code.includes("mcs_broker_sessions"), "the broker is not inlined");
        // The broker loads the Redis client from its file too (only with MCS_STORE).
        const broker = await Deno.readTextFile(join(bundle.dist, "mcs-mcs-broker.js"));
        assert(!broker.includes("The client is offline"), "the Redis client not in the broker");
        assert(broker.includes('import("./mcs-redis-client.js")'), "the broker imports it lazily");
        assert(
          (await Deno.readTextFile(join(bundle.dist, "mcs-mcp-sdk.js"))).includes("invalid_type"),
          "the MCP SDK is in mcs-mcp-sdk.js",
        );
        assert(!(await exists(join(bundle.dist, "mcs-chunks"))), "no chunk directory");
        // A static `node:` import at the top of mcs.js starts Deno's Node compat layer on every
        // command (~10 ms of CPU); code needing one loads it with import() where it is used.
        const staticNode = [
          ...code.matchAll(/(?:^|[;}\s])import\s*[^("'`]*?from\s*["'](node:[^"']+)["']/g),
        ]
          .map((m) => m[1]);
        assertEquals(staticNode, [], "no static node: import in mcs.js");
      },
    );

    await t.step(
      "mcs mcp answers from the bundle, the SDK loaded from mcs-mcp-sdk.js",
      async () => {
        const init = {
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: {
            protocolVersion: "2025-06-18",
            capabilities: {},
            clientInfo: { name: "bundle-test", version: "1" },
          },
        };
        const list = { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} };
        const r = await runUnder(bundle, bundle.bundle, ["mcp"], {
          env: { ...runEnv, MCS_AUTH: "static", MCS_GMAIL_TOKEN: gmailToken(stack) },
          stdin: [init, { jsonrpc: "2.0", method: "notifications/initialized" }, list]
            .map((m) => JSON.stringify(m)).join("\n") + "\n",
        });
        assertEquals(r.code, 0, r.stdout + r.stderr);
        const replies = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
        assertEquals(replies.find((m) => m.id === 1)?.result?.serverInfo?.name, "mcs");
        const tools = replies.find((m) => m.id === 2)?.result?.tools as { name: string }[];
        assert(tools.some((x) => x.name === "search_emails"), JSON.stringify(replies));
      },
    );

    await t.step("an HTML-only message is read through mcs-html-to-text.js", async () => {
      const env = { ...runEnv, MCS_AUTH: "static", MCS_GMAIL_TOKEN: gmailToken(stack) };
      const found = await runUnder(bundle, bundle.bundle, [
        "exec",
        "search_emails",
        '{"query":"subject:itinerary","limit":1}',
      ], { env });
      assertEquals(found.code, 0, found.stdout + found.stderr);
      const id = (json(found).result as { messages: { id: string }[] }).messages[0].id;
      const r = await runUnder(bundle, bundle.bundle, [
        "exec",
        "read_email",
        JSON.stringify({ id }),
      ], {
        env,
      });
      assertEquals(r.code, 0, r.stdout + r.stderr);
      assertEquals((json(r).result as { body: string }).body, "Your train leaves at 08:15.");
    });

    await t.step("the local stack is left out: mcs dev says where to run it, exit 3", async () => {
      const code = await Deno.readTextFile(bundle.bundle);
      // (The connect page itself is in: `mcs broker serve` serves it.)
      for (const s of ["deliveriesSettled", "BitString"]) {
        assert(!code.includes(s), `no emulator code in the bundle (${s})`);
      }
      for (const args of [["dev", "--json"], ["dev", "demo", "--json"]]) {
        const r = await runUnder(bundle, bundle.bundle, args, { env: runEnv });
        assertEquals(r.code, 3, r.stdout + r.stderr);
        // `dev demo` prints its banner before it starts the stack: the error is the last line.
        const last = { ...r, stdout: r.stdout.trim().split("\n").at(-1) ?? "" };
        const d = json(last) as { ok: boolean; error: { code: string; message: string } };
        assertEquals(d.error.code, "local_stack_not_bundled");
        assertStringIncludes(d.error.message, "deno task mcs -- dev");
      }
    });

    await t.step("the launcher runs the bundle with the same flags", async () => {
      const r = await exec([join(bundle.dist, "mcs.sh"), "--version"], {
        env: { PATH: `${Deno.execPath().replace(/\/[^/]+$/, "")}:/usr/bin:/bin` },
        clearEnv: true,
      });
      assertEquals(r.code, 0, r.stderr);
    });

    await proofs(
      t,
      (args, env) => runUnder(bundle, bundle.bundle, args, { env: { ...runEnv, ...env } }),
      stack,
      dirs,
    );
  });
});

const denort = await denortAvailable();

testRequiring(
  requires("denort", denort !== undefined, {
    reason: "no denort (set DENORT_BIN or cache denort-<target>.zip)",
    ciCannotProvide:
      ".ci/run cannot install denort: no package, and its download host is unreachable",
  }),
  {
    name: "compiled binary: works under its baked permission set and everything else is denied",
    async fn(t) {
      await withStack(async ({ stack, bundle, dirs, runEnv }) => {
        const vars = Object.fromEntries(
          Object.entries(stack.env).filter(([k]) => !/SECRET|API_KEY|TOKEN/.test(k)),
        );
        const out = join(bundle.dist, "mcs");
        const b = await runBuild(
          ["compile", "--dist", bundle.dist, "--output", out, "--write-dir", dirs.inbox],
          {
            ...vars,
            ...(Deno.env.get("DENORT_BIN") ? { DENORT_BIN: Deno.env.get("DENORT_BIN")! } : {}),
          },
        );
        assertEquals(b.code, 0, b.stderr);
        await proofs(
          t,
          (args, env) => exec([out, ...args], { env: { ...runEnv, ...env }, clearEnv: true }),
          stack,
          dirs,
        );
      });
    },
  },
);
