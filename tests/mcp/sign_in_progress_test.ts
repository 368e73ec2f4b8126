/**
 * "Still waiting" progress while a call waits for the user's sign-in: the MCP server in process
 * (over the SDK's in-memory transport, a client with URL elicitation that accepts every link),
 * its `call` standing in for the tool. A loopback (`auth0-oauth`) step reports every
 * `stillWaitingMs` until the call ends; a polled step (LinkAuth) reports at every check. Each
 * report rises and says what the user should do; without a progressToken there is none.
 * @module
 */

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { AuthChallenge } from "../../lib/auth/types.ts";
import { createMcpServer, type McpServerOptions } from "../../lib/mcp/server.ts";
import { sleep } from "../cli/_mcs.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { elicitations, type Progress, progressWire } from "./_mcp.ts";

const STILL = /^still waiting for the user to /;

/** The server with `call`, a client that accepts each elicitation, and the wire's progress. */
async function connect(call: McpServerOptions["call"], options: Partial<McpServerOptions> = {}) {
  const server = createMcpServer({
    version: "0.0.0",
    legacy: false,
    call,
    describe: (e) => ({ ok: false, error: { code: "failed", message: String(e) } }),
    stillWaitingMs: 20,
    ...options,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "mcs-test", version: "1.0.0" }, {
    capabilities: { elicitation: { url: {} } },
  });
  await client.connect(clientSide);
  const { asked, answer } = elicitations(client);
  answer(() => Promise.resolve({ action: "accept" }));
  const { wire, call: withToken } = progressWire({ client });
  return {
    client,
    wire,
    asked,
    withToken,
    stillWaiting: (from = 0): Progress[] =>
      wire.slice(from).filter((p) => STILL.test(p.message ?? "")),
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

/** Resolves once `ready()` holds (checked every few ms). */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await sleep(5);
}

Deno.test("MCP sign-in wait (auth0-oauth loopback): 'still waiting' progress every interval, rising, saying what to do; none without a token", async () => {
  let held: (() => boolean) | undefined;
  await using s = await connect(async (_name, _args, signal, hooks) => {
    // The connector hands over the authorize URL, then waits for its callback.
    hooks!.signIn!.onUrl("https://tenant.example/authorize?client_id=x", "login");
    await until(() => held!() || signal.aborted);
    return { ok: true };
  });

  // Held until three reports came, or five hundred intervals passed without them.
  const giveUp = Date.now() + 500 * 20;
  held = () => s.stillWaiting().length >= 3 || Date.now() > giveUp;
  const { r, seen } = await s.withToken("search_emails", {});
  assertEquals(r.structuredContent, { ok: true });
  assertEquals(s.asked.length, 1, "the link was elicited");
  const still = seen.filter((p) => STILL.test(p.message ?? ""));
  assert(still.length >= 2, JSON.stringify(seen));
  for (let i = 1; i < still.length; i++) assert(still[i].progress > still[i - 1].progress);
  for (const p of still) {
    assertEquals(
      p.message,
      "still waiting for the user to sign in: open the link in a browser on the computer mcs " +
        "runs on",
    );
  }

  // Without a token: the same wait (as long as three intervals and more), no progress at all.
  const before = s.wire.length;
  let waited = false;
  held = () => waited;
  const pending = s.client.callTool({ name: "search_emails", arguments: {} });
  await sleep(200);
  waited = true;
  const plain = await pending as CallToolResult;
  assertEquals(plain.structuredContent, { ok: true });
  assertEquals(s.asked.length, 2, "the link was elicited again");
  assertEquals(s.wire.slice(before), []);
});

Deno.test("MCP sign-in wait (LinkAuth, polled): 'still waiting' progress at each check, rising, with the code to confirm; none without a token", async () => {
  let calls = 0;
  const challenge = () =>
    new AuthChallenge({
      message: "Open the link and confirm the code.",
      url: "https://broker.example/l/abc",
      code: "WXYZ-1234",
      step: "login",
      retryAfterS: 1,
    });
  // The user finishes at the fourth check.
  await using s = await connect(() => {
    if (++calls % 5 !== 0) throw challenge();
    return Promise.resolve({ ok: true });
  }, { sleep: () => Promise.resolve() });

  const { r, seen } = await s.withToken("search_emails", {});
  assertEquals(r.structuredContent, { ok: true });
  const still = seen.filter((p) => STILL.test(p.message ?? ""));
  assertEquals(still.length, 4, JSON.stringify(seen));
  for (let i = 1; i < still.length; i++) assert(still[i].progress > still[i - 1].progress);
  for (const p of still) {
    assertStringIncludes(p.message!, "sign in and confirm the code WXYZ-1234 at the link");
  }

  const before = s.wire.length;
  const plain = await s.client.callTool({ name: "search_emails", arguments: {} });
  assertEquals(plain.structuredContent, { ok: true });
  assertEquals(calls, 10);
  assertEquals(s.wire.slice(before), []);
});
