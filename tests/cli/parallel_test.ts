/**
 * Parallel agent calls through the real CLI: an agent often runs several tools at once, and
 * every `mcs` is its own process sharing only the cache directory. On an empty cache, four
 * simultaneous calls must show the user ONE sign-in code (one broker session), then one connect
 * code (one `/connect`), and once the user has acted the calls go through. Also: a corrupt
 * cache file between two calls is reported once on stderr while stdout stays one JSON document.
 * @module
 */

import { startStack } from "../../lib/emulators/stack.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { doc, mcs, type Ran, sleep } from "./_mcs.ts";

const N = 4;
const ARGS = ["exec", "list_labels"];

/** The one challenge every one of `runs` shows (fails if they differ). */
function sameChallenge(runs: Ran[], step: string): { url: string; code: string; wait: number } {
  const docs = runs.map((r) => {
    assertEquals(r.code, 4, `expected auth_required: ${r.stdout} ${r.stderr}`);
    const d = doc(r);
    assertEquals([d.auth_required, d.step], [true, step], r.stdout);
    return d;
  });
  const shown = new Set(docs.map((d) => `${d.url} ${d.code}`));
  assertEquals(shown.size, 1, `parallel calls showed different codes: ${[...shown].join(" | ")}`);
  const wait = Math.max(...docs.map((d) => Number(d.retry_after_s ?? 1)));
  return { url: docs[0].url, code: docs[0].code, wait };
}

Deno.test("parallel first calls share one challenge per step, then all proceed", async (t) => {
  const stack = await startStack({ pollInterval: 1 });
  const cache = await Deno.makeTempDir({ prefix: "mcs-parallel-" });
  const env = { ...stack.env, MCS_CACHE_DIR: cache };
  const parallel = () => Promise.all(Array.from({ length: N }, () => mcs(ARGS, { env })));
  try {
    let login = { url: "", code: "", wait: 1 };
    await t.step(`${N} calls on an empty cache: one broker session, one code`, async () => {
      login = sameChallenge(await parallel(), "login");
      assertEquals(stack.broker.sessions().length, 1, "exactly one broker session was created");
    });

    let connect = { url: "", code: "", wait: 1 };
    await t.step(`the user signs in; ${N} calls: one /connect, one consent code`, async () => {
      await stack.userCompletes(login.url, login.code);
      await sleep(login.wait * 1000);
      connect = sameChallenge(await parallel(), "connect");
      assert(connect.code !== login.code, "a new code for the consent");
      assertEquals(stack.auth0.countRequests({ path: "/me/v1/connected-accounts/connect" }), 1);
      const passthrough = stack.broker.sessions().filter((s) => s.customAuthorizeUrl);
      assertEquals(passthrough.length, 1, "exactly one consent session at the broker");
    });

    await t.step(`the user consents to the code shown; ${N} calls all succeed`, async () => {
      await stack.userCompletes(connect.url, connect.code);
      await sleep(connect.wait * 1000);
      for (const r of await parallel()) {
        assertEquals(r.code, 0, r.stdout + r.stderr);
        assert(doc(r).result.labels.some((l: { id: string }) => l.id === "INBOX"));
      }
      assertEquals(stack.auth0.countRequests({ path: "/me/v1/connected-accounts/complete" }), 1);
    });

    await t.step(
      "a corrupt cache file is reported once; stdout stays one JSON document",
      async () => {
        // The cached Google access token: the next call must fall back to a new exchange.
        let victim = "";
        for await (const e of Deno.readDir(cache)) {
          if (!e.isFile || e.name.startsWith(".")) continue;
          const text = await Deno.readTextFile(`${cache}/${e.name}`);
          if (JSON.parse(text).k?.includes("/at/")) victim = `${cache}/${e.name}`;
        }
        assert(victim, "the access token is cached");
        const text = await Deno.readTextFile(victim);
        await Deno.writeTextFile(victim, text.slice(0, text.length >> 1)); // truncated
        // A call that needs the token (list_labels may answer from its own cache entry).
        const search = ["exec", "search_emails", '{"query":"is:unread","limit":1}'];
        const r = await mcs(search, { env });
        assertEquals(r.code, 0, r.stdout + r.stderr);
        assertEquals(doc(r).ok, true); // exactly one JSON line, nothing else
        const reports = r.stderr.split("\n").filter((l) => l.includes(`cache file ${victim} `));
        assertEquals(reports.length, 1, `reported once: ${r.stderr}`);
        assertStringIncludes(r.stderr, "moved it aside");
        const names = [...Deno.readDirSync(cache)].map((e) => e.name);
        assert(names.some((n) => `${cache}/${n}`.startsWith(`${victim}.corrupt-`)), "kept aside");
        const next = await mcs(search, { env });
        assertEquals(next.code, 0, next.stdout + next.stderr);
        assert(!next.stderr.includes("unreadable"), `not reported again: ${next.stderr}`);
      },
    );
  } finally {
    await stack.close();
    await Deno.remove(cache, { recursive: true });
  }
});
