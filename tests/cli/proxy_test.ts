/**
 * The CLI honours the proxy environment end to end (the network layer's own rules are tested in
 * tests/net): every call of a real command — the broker, Auth0 and Gmail during the
 * `auth0-linkauth` double flow, then Gmail — goes through a real proxy (Debian's tinyproxy), the
 * sandbox case (the target listed in NO_PROXY while the proxy is the only way out) is fixed by
 * MCS_PROXY_FORCE, and a dead proxy is a clear error naming it.
 */
import { startStack } from "../../lib/emulators/stack.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { startTinyproxy } from "../net/_tinyproxy.ts";
import { freePort } from "../support/ports.ts";
import { doc, mcs } from "./_mcs.ts";
import { untilAuthorized } from "./_auth_loop.ts";

Deno.test("the CLI's traffic follows HTTPS_PROXY, NO_PROXY and MCS_PROXY_FORCE", async (t) => {
  const stack = await startStack({ pollInterval: 1 });
  await using proxy = await startTinyproxy();
  const cache = await Deno.makeTempDir({ prefix: "mcs-proxy-" });
  try {
    const env = { ...stack.env, MCS_CACHE_DIR: cache, HTTPS_PROXY: proxy.url };

    await t.step("the whole double flow and a search go through the proxy", async () => {
      const before = await proxy.requestCount();
      const { last, steps } = await untilAuthorized(stack, [
        "exec",
        "search_emails",
        '{"limit": 2}',
      ], env);
      assertEquals(last.code, 0, last.stdout + last.stderr);
      assertEquals(steps, ["login", "connect"]);
      assertEquals(doc(last).result.messages.length, 2);
      // Every process's connections (broker polls, Token Vault, /connect, /complete, Gmail)
      // were tunnelled: one CONNECT per host and process at least.
      assert((await proxy.requestCount()) - before >= 6, "tunnelled through tinyproxy");
    });

    // list_labels may be answered from the label cache; a search always asks Gmail.
    const search = ["exec", "search_emails", '{"limit": 1}'];

    await t.step("NO_PROXY sends a listed host direct", async () => {
      // Settled: the previous step's last requests may reach tinyproxy's log a moment late.
      const before = await proxy.settledCount();
      const r = await mcs(search, { env: { ...env, NO_PROXY: "127.0.0.1" } });
      assertEquals(r.code, 0, r.stdout + r.stderr);
      assertEquals(await proxy.settledCount(), before, "no request through the proxy");
    });

    await t.step("MCS_PROXY_FORCE wins over NO_PROXY (the sandbox case)", async () => {
      const before = await proxy.requestCount();
      const r = await mcs(search, {
        env: { ...env, NO_PROXY: "127.0.0.0/8,localhost", MCS_PROXY_FORCE: "127.0.0.1" },
      });
      assertEquals(r.code, 0, r.stdout + r.stderr);
      assert((await proxy.requestCount()) > before, "forced through the proxy");
    });

    await t.step("a dead proxy is a clear, retryable error naming the proxy", async () => {
      const dead = `http://user:pw-secret@127.0.0.1:${freePort()}`;
      const r = await mcs(search, { env: { ...env, HTTPS_PROXY: dead } });
      assertEquals(r.code, 1, r.stdout + r.stderr);
      const d = doc(r);
      assertEquals(d.error.code, "proxy_unreachable");
      assertEquals(d.error.retryable, true);
      assertStringIncludes(d.error.message, "127.0.0.1:");
      assert(!r.stdout.includes("pw-secret") && !r.stderr.includes("pw-secret"), "no password");
    });
  } finally {
    await stack.close();
    await Deno.remove(cache, { recursive: true });
  }
});
