/**
 * End to end through the real CLI, each invocation a separate process, against the local stack
 * (Auth0, LinkAuth broker, Google OAuth stand-in and Gmail emulators over HTTPS with a
 * throwaway CA): every auth path, the agent contract's exit codes, stateless continuation from
 * the cache, a read-only home with a writable cache, and an unwritable cache failing with exit 3
 * before any network call.
 * @module
 */

import { type Stack, startStack } from "../../lib/emulators/stack.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { doc, mcs, spawnMcs } from "./_mcs.ts";
import { untilAuthorized } from "./_auth_loop.ts";
import { freePort } from "../support/ports.ts";

/** The stack's env without the auth-path-specific settings. */
function baseEnv(stack: Stack, cacheDir: string): Record<string, string> {
  return {
    MCS_GMAIL_API_BASE: stack.env.MCS_GMAIL_API_BASE,
    MCS_CA_FILE: stack.env.MCS_CA_FILE,
    MCS_CACHE_DIR: cacheDir,
  };
}

Deno.test("every auth path, end to end through the CLI", async (t) => {
  const stack = await startStack({ pollInterval: 1 });
  const dirs: string[] = [];
  const tmp = async () => {
    const d = await Deno.makeTempDir({ prefix: "mcs-e2e-" });
    dirs.push(d);
    return d;
  };
  try {
    await t.step("static: a Google access token from the environment", async () => {
      const { token } = stack.googleTokens.issue({
        sub: stack.auth0.user.googleSub,
        email: stack.auth0.user.email,
        scopes: ["https://mail.google.com/"],
        ttlS: 600,
      });
      const env = {
        ...baseEnv(stack, "/nonexistent/static-needs-no-cache"),
        MCS_AUTH: "static",
        MCS_GMAIL_TOKEN: token,
      };
      const r = await mcs(["exec", "search_emails", '{"query":"is:unread","limit":3}'], { env });
      assertEquals(r.code, 0, r.stdout + r.stderr);
      const d = doc(r);
      assertEquals(d.ok, true);
      assertEquals(d.result.messages.length, 3);
      for (const key of ["id", "thread_id", "from", "to", "subject", "date", "snippet", "labels"]) {
        assert(key in d.result.messages[0], key);
      }
      assertEquals(typeof d.result.messages[0].unread, "boolean");
      assertEquals(typeof d.result.messages[0].has_attachments, "boolean");
      assert("next_page_token" in d.result);
      const bad = await mcs(["exec", "list_labels"], {
        env: { ...env, MCS_GMAIL_TOKEN: "ya29.bogus" },
      });
      assertEquals(
        bad.code,
        3,
        "a rejected static token is a configuration problem: " + bad.stdout,
      );
      assertEquals(doc(bad).ok, false);
    });

    await t.step(
      "auth0-linkauth: login and connect challenges, browser steps over HTTP",
      async () => {
        const cache = await tmp();
        const env = { ...stack.env, MCS_CACHE_DIR: cache };
        // A fresh tenant with no connected account yet: the double flow.
        assertEquals(stack.auth0.accounts().length, 0);
        const { last, steps } = await untilAuthorized(
          stack,
          ["exec", "search_emails", '{"query":"from:alice","limit":2}'],
          env,
        );
        assertEquals(last.code, 0, last.stdout + last.stderr);
        assertEquals(steps, ["login", "connect"]);
        assert(doc(last).result.messages.length >= 1);
        const sent = await mcs(
          ["mail", "send", "--to", "bob@example.com", "--subject", "e2e", "--json"],
          { env, stdin: "Body from stdin.\n" },
        );
        assertEquals(sent.code, 0, sent.stdout + sent.stderr);
        const id = doc(sent).result.id;
        const read = doc(await mcs(["exec", "read_email", JSON.stringify({ id })], { env }));
        assertStringIncludes(read.result.body, "Body from stdin.");
      },
    );

    await t.step(
      "auth login --wait polls until the user has acted (no terminal: plain lines)",
      async () => {
        const env: Record<string, string> = { ...stack.env, MCS_CACHE_DIR: await tmp() };
        const live = spawnMcs(["auth", "login", "--wait", "--json"], { env });
        const url = await live.waitFor(/open (https:\/\/\S+) and enter code (\S+)/);
        assert(url, `no challenge line on stderr: ${live.stderr}`);
        await stack.userCompletes(url[1], url[2]);
        const done = await live.finish();
        assertEquals(done.code, 0, done.stdout + done.stderr);
        const d = JSON.parse(done.stdout);
        assertEquals(d.result.account, stack.auth0.user.email);
        const ours = done.stderr.split("\n").filter((l) => !/experimental feature/.test(l))
          .join("\n");
        assert(!ours.includes("\x1b["), "no spinner or colours without a terminal");
      },
    );

    await t.step("auth0: a refresh token issued by the tenant", async () => {
      stack.auth0.connectAccount();
      const env = {
        ...baseEnv(stack, await tmp()),
        MCS_AUTH: "auth0",
        MCS_AUTH0_DOMAIN: stack.env.MCS_AUTH0_DOMAIN,
        MCS_AUTH0_CLIENT_ID: stack.env.MCS_AUTH0_CLIENT_ID,
        MCS_AUTH0_CLIENT_SECRET: stack.env.MCS_AUTH0_CLIENT_SECRET,
        MCS_AUTH0_REFRESH_TOKEN: stack.auth0.issueRefreshToken(),
      };
      const r = await mcs(["exec", "list_labels"], { env });
      assertEquals(r.code, 0, r.stdout + r.stderr);
      assert(doc(r).result.labels.some((l: { id: string }) => l.id === "INBOX"));
      const tok = await mcs(["auth", "token"], { env });
      assertEquals(tok.code, 0);
      assert(tok.stdout.startsWith("ya29."), "auth token prints the access token");
      const before = stack.auth0.countRequests({ path: "/oauth/token" });
      const again = await mcs(["exec", "list_labels"], { env });
      assertEquals(again.code, 0);
      assertEquals(
        stack.auth0.countRequests({ path: "/oauth/token" }),
        before,
        "a fresh process reuses the cached access token",
      );
      const status = doc(await mcs(["auth", "status", "--json"], { env }));
      assertEquals(status.result.mode, "auth0");
      assertEquals(status.result.access_tokens.length, 1);
      assertMatch(status.result.access_tokens[0].scope, /\/google-oauth2$/, "scope/connection");
      assertEquals(status.result.other_accounts_entries, 0);
      assert(!JSON.stringify(status).includes(env.MCS_AUTH0_CLIENT_SECRET), "no secret");
      // Another account on the same cache: status shows its own entries, counts the others.
      const env2 = { ...env, MCS_AUTH0_REFRESH_TOKEN: stack.auth0.issueRefreshToken() };
      const second = doc(await mcs(["auth", "status", "--json"], { env: env2 }));
      assertEquals(second.result.access_tokens, [], "not the first account's token");
      assert(second.result.other_accounts_entries > 0, JSON.stringify(second.result));
      assertEquals((await mcs(["exec", "list_labels"], { env: env2 })).code, 0);
      const both = doc(await mcs(["auth", "status", "--json"], { env: env2 }));
      assertEquals(both.result.access_tokens.length, 1);
      const out = await mcs(["auth", "logout", "--json"], { env });
      assert(doc(out).result.removed > 0);
      assertEquals(doc(await mcs(["auth", "status", "--json"], { env })).result.stored_keys, 0);
    });

    await t.step("auth0-oauth: loopback callback hit by the test", async () => {
      stack.auth0.connectAccount();
      const env: Record<string, string> = {
        ...baseEnv(stack, await tmp()),
        MCS_AUTH: "auth0-oauth",
        MCS_AUTH0_DOMAIN: stack.env.MCS_AUTH0_DOMAIN,
        MCS_AUTH0_CLIENT_ID: stack.env.MCS_AUTH0_CLIENT_ID,
        MCS_AUTH0_CLIENT_SECRET: stack.env.MCS_AUTH0_CLIENT_SECRET,
        // Not the default 3000, which may be taken on the machine running the tests.
        MCS_AUTH0_CALLBACK_PORT: String(freePort()),
      };
      // Non-interactive commands cannot finish a loopback sign-in: they say what to run.
      const pre = await mcs(["exec", "list_labels"], { env });
      assertEquals(pre.code, 4, pre.stdout + pre.stderr);
      const live = spawnMcs(["auth", "login", "--wait", "--json"], { env });
      const url = (await live.waitFor(/(https:\/\/\S+\/authorize\?\S+)/))?.[1];
      assert(url, `no authorize URL on stderr: ${live.stderr}`);
      const approved = await stack.auth0.approve(url);
      assert(approved.location.startsWith("http://127.0.0.1:"), approved.location);
      const cb = await fetch(approved.location);
      await cb.body?.cancel();
      const done = await live.finish();
      const text = done.stdout;
      assertEquals(done.code, 0, text + done.stderr);
      assertEquals(JSON.parse(text).result.account, stack.auth0.user.email);
      const after = await mcs(["exec", "list_labels"], { env });
      assertEquals(after.code, 0, "the next process uses the stored refresh token");
    });

    await t.step("linkauth: a Google token through the broker", async () => {
      const env = {
        ...baseEnv(stack, await tmp()),
        MCS_AUTH: "linkauth",
        MCS_LINKAUTH_BROKER_URL: stack.env.MCS_LINKAUTH_BROKER_URL,
        MCS_LINKAUTH_API_KEY: stack.env.MCS_LINKAUTH_API_KEY,
      };
      const { last, steps } = await untilAuthorized(stack, ["exec", "list_folders"], env);
      assertEquals(last.code, 0, last.stdout + last.stderr);
      assertEquals(steps, ["login"]);
      assert(doc(last).result.folders.includes("INBOX"));
    });

    await t.step("read-only home, only the cache directory writable", async () => {
      const cache = await tmp();
      const home = await tmp();
      const env = {
        ...baseEnv(stack, cache),
        HOME: home,
        MCS_AUTH: "auth0",
        MCS_AUTH0_DOMAIN: stack.env.MCS_AUTH0_DOMAIN,
        MCS_AUTH0_CLIENT_ID: stack.env.MCS_AUTH0_CLIENT_ID,
        MCS_AUTH0_CLIENT_SECRET: stack.env.MCS_AUTH0_CLIENT_SECRET,
        MCS_AUTH0_REFRESH_TOKEN: stack.auth0.issueRefreshToken(),
      };
      // Deno's permissions stand in for a read-only filesystem (the tests may run as root).
      const perms = ["--allow-net", "--allow-env", "--allow-read", `--allow-write=${cache}`];
      const r = await mcs(["exec", "list_labels"], { env, perms });
      assertEquals(r.code, 0, r.stdout + r.stderr);
      const again = await mcs(["auth", "status", "--json"], { env, perms });
      assert(doc(again).result.stored_keys > 0, "state went to the cache directory");
      const entries = [];
      for await (const e of Deno.readDir(home)) entries.push(e.name);
      assertEquals(entries, [], "nothing written to HOME");
    });

    await t.step("unwritable cache: exit 3 before any network call", async () => {
      const allowed = await tmp();
      const cache = `${await tmp()}/cache`;
      stack.auth0.resetRequests();
      stack.gmail.resetCounters();
      const sessions = stack.broker.sessions().length;
      const env = { ...stack.env, MCS_CACHE_DIR: cache };
      const perms = ["--allow-net", "--allow-env", "--allow-read", `--allow-write=${allowed}`];
      for (const args of [["exec", "list_labels"], ["auth", "login", "--json"]]) {
        const r = await mcs(args, { env, perms });
        assertEquals(r.code, 3, r.stdout + r.stderr);
        assertEquals(doc(r).error.code, "cache_dir_not_writable");
      }
      assertEquals(stack.auth0.countRequests(), 0, "no Auth0 request");
      assertEquals(stack.gmail.requestCount, 0, "no Gmail request");
      assertEquals(stack.broker.sessions().length, sessions, "no broker session");
    });
  } finally {
    await stack.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
});
