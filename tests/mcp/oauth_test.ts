/**
 * `auth0-oauth` through `mcs mcp` (the SDK's client in this process, the server in its own):
 * with URL elicitation the server runs the loopback sign-in itself, so one tool call elicits
 * the authorize URL, waits for its callback, notifies completion, elicits the Connected Accounts
 * consent the same way and ends in the tool's real result (the person in Chromium). A declined
 * or cancelled step ends the call with the fallback result and releases the callback port (the
 * next call binds it again). Without URL elicitation the fallback's text stands on its own.
 * @module
 */

import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Stack } from "../../lib/emulators/stack.ts";
import { testStack } from "../support/stack.ts";
import { doc, mcs, sleep } from "../cli/_mcs.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { chromium, loopbackPerson } from "../support/browser.ts";
import { freePort } from "../support/ports.ts";
import { testRequiring } from "../support/requires.ts";
import { elicitations, stdioClient } from "./_mcp.ts";

/** `auth0-oauth` settings for the stack: a fixed callback port (the consent needs one). */
function oauthEnv(stack: Stack, cacheDir: string): Record<string, string> {
  return {
    MCS_AUTH: "auth0-oauth",
    MCS_AUTH0_DOMAIN: stack.env.MCS_AUTH0_DOMAIN,
    MCS_AUTH0_CLIENT_ID: stack.env.MCS_AUTH0_CLIENT_ID,
    MCS_AUTH0_CLIENT_SECRET: stack.env.MCS_AUTH0_CLIENT_SECRET,
    MCS_AUTH0_CALLBACK_PORT: String(freePort()),
    MCS_GMAIL_API_BASE: stack.env.MCS_GMAIL_API_BASE,
    MCS_CA_FILE: stack.env.MCS_CA_FILE,
    MCS_CACHE_DIR: cacheDir,
  };
}

/** A stack, a cache directory and `mcs mcp` on auth0-oauth with URL elicitation on. */
async function world(capabilities = { elicitation: { url: {} } }) {
  const stack = await testStack({ dir: "mcs-mcp-oauth-" });
  const env = oauthEnv(stack, stack.dir);
  const c = await stdioClient(env, capabilities);
  const { asked, completed, answer } = elicitations(c.client);
  /** Answer elicitations with `answer` (after recording them). */
  const onElicit = (reply: (url: string) => Promise<{ action: "accept" | "decline" }>) =>
    answer((e) => reply(e.url));
  const search = (signal?: AbortSignal) =>
    c.client.callTool(
      { name: "search_emails", arguments: { query: "from:alice", limit: 2 } },
      undefined,
      { timeout: 120_000, signal },
    ) as Promise<CallToolResult>;
  return {
    stack,
    env,
    c,
    asked,
    completed,
    onElicit,
    search,
    async [Symbol.asyncDispose]() {
      await c[Symbol.asyncDispose]();
      await stack[Symbol.asyncDispose]();
    },
  };
}

/** The fallback of a step the server could not wait for: a self-contained text. */
function assertFallback(r: CallToolResult, step: string) {
  assertEquals(r.isError, true, JSON.stringify(r));
  const d = r.structuredContent as { auth_required: boolean; step: string; url: string | null };
  assertEquals([d.auth_required, d.step, d.url], [true, step, null]);
  const text = (r.content[0] as { text: string }).text;
  assertStringIncludes(text, "`mcs auth login`");
  assertStringIncludes(text, "on the computer where this mcs server runs");
  assertStringIncludes(text, "call search_emails again");
}

testRequiring(chromium, {
  name:
    "mcs mcp, auth0-oauth with URL elicitation, the person in Chromium: one tool call, both steps",
  async fn() {
    await using w = await world();
    const people: Promise<unknown>[] = [];
    const seen: { auth0Heading?: string; callbackHeading?: string }[] = [];
    // Like a real client: open the browser, answer "accept" at once.
    w.onElicit((url) => {
      people.push(
        loopbackPerson(url).then((o) => {
          assert(o.ok, o.error);
          seen.push(o);
        }),
      );
      return Promise.resolve({ action: "accept" });
    });
    const r = await w.search();
    assert(!r.isError, JSON.stringify(r));
    assert((r.structuredContent as { messages: unknown[] }).messages.length >= 1);
    await Promise.all(people);
    assertEquals(w.asked.length, 2, "login, then the Connected Accounts consent");
    assertEquals(new URL(w.asked[0].url).pathname, "/authorize");
    assertStringIncludes(w.asked[0].message, "sign in");
    assert(new URL(w.asked[1].url).searchParams.has("ticket"), w.asked[1].url);
    assertStringIncludes(w.asked[1].message, "connect Gmail");
    assertEquals(w.completed, w.asked.map((a) => a.id), "each step's completion was notified");
    assertEquals(seen.map((s) => s.auth0Heading), ["Log in to mcs", "Connect google-oauth2"]);
    assertEquals(seen.map((s) => s.callbackHeading), ["Done", "Done"]);
    assertEquals(w.stack.auth0.accounts().length, 1);
    // The same store: the CLI needs no sign-in now.
    const r2 = await mcs(["exec", "list_labels"], { env: w.env });
    assertEquals(r2.code, 0, r2.stdout + r2.stderr);
    assert(doc(r2).result.labels.length > 0);
  },
});

Deno.test("mcs mcp, auth0-oauth: a declined or cancelled step releases the callback port; the next call signs in", async () => {
  await using w = await world();
  // 1. Declined: the fallback result, nothing completed.
  w.onElicit(() => Promise.resolve({ action: "decline" }));
  assertFallback(await w.search(), "login");
  assertEquals([w.asked.length, w.completed.length], [1, 0]);

  // 2. Call A elicits its login; call B starts meanwhile (and joins A's sign-in); then the
  // client cancels A. A's wait ends and releases the port; B signs in on its own, binding the
  // port again, and the person (over HTTP) approves both of B's steps.
  const cancelA = new AbortController();
  let b: Promise<CallToolResult> | undefined;
  w.onElicit(async (url) => {
    if (w.asked.length === 2) {
      b = w.search();
      await sleep(1_000); // B reaches the server (sequencing only, nothing is timed)
      cancelA.abort();
      return { action: "accept" };
    }
    const { location } = await w.stack.auth0.approve(url);
    const res = await fetch(location);
    await res.body?.cancel();
    assertEquals(res.status, 200, `the loopback callback took ${location}`);
    return { action: "accept" };
  });
  const a = await w.search(cancelA.signal).then(() => "finished", () => "rejected");
  assertEquals(a, "rejected");
  const r = await b!;
  assert(!r.isError, JSON.stringify(r));
  assertEquals(w.asked.length, 4, "A's login, then B's login and consent");
  assertEquals(w.completed, w.asked.slice(2).map((a) => a.id));
});

Deno.test("mcs mcp, auth0-oauth without URL elicitation: a fallback whose text stands on its own", async () => {
  await using w = await world({} as { elicitation: { url: Record<string, never> } });
  assertFallback(await w.search(), "login");
  assertEquals(w.asked.length, 0);
});
