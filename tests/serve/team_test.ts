/**
 * `mcs serve` in team mode, in its own process against the emulators: Open WebUI's signed user
 * header (good, bad signature, expired, wrong issuer, unsigned, no sub), the plain user header
 * (trusted with the key only), team mode without a user, the same gates on `/mcp`, and two users
 * whose sign-in flows, MCP sessions and concurrency caps never mix. The access log names users by
 * hash only and holds none of the secrets used.
 * @module
 */

import { FileCacheStore } from "../../lib/cache/file_store.ts";
import { mcs, sleep } from "../cli/_mcs.ts";
import { staticEnv } from "../mcp/_mcp.ts";
import { assert, assertEquals, assertNotEquals, assertStringIncludes } from "../support/assert.ts";
import { testStack } from "../support/stack.ts";
import { asUser, startServe, toolCall, userJwt } from "./_serve.ts";

const SECRET = "openwebui-jwt-secret-0123456789abcdef";
const KEY = "serve-team-key-0123456789";
function b64url(s: string): string {
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

Deno.test("mcs serve team mode on auth0-oauth warns that only a person at the server can sign in", async () => {
  await using stack = await testStack();
  const env: Record<string, string> = {
    ...staticEnv(stack),
    MCS_AUTH: "auth0-oauth",
    MCS_SERVE_USER_JWT_SECRET: SECRET,
  };
  await using srv = await startServe(env);
  assertStringIncludes(srv.stderr, "warning: team mode with auth path auth0-oauth");
  assertStringIncludes(srv.stderr, "Use auth0-linkauth for a team");
});

Deno.test("mcs serve team mode (signed): JWT good, bad, expired; no user is 400; /mcp too", async () => {
  await using stack = await testStack();
  const env: Record<string, string> = { ...staticEnv(stack), MCS_SERVE_USER_JWT_SECRET: SECRET };
  await using srv = await startServe(env);
  assertStringIncludes(srv.stderr, "warning: team mode with auth path static");
  const good = await userJwt(SECRET, "user-a");
  const ok = await srv.post("/tools/list_labels", {}, { "x-openwebui-user-jwt": good });
  assertEquals(ok.status, 200, await ok.clone().text());
  assert((await ok.json()).labels.length > 0);

  const now = Math.floor(Date.now() / 1000);
  const bad: Record<string, string> = {
    "other secret": await userJwt("another-secret-0123456789abcdef0123", "user-a"),
    expired: await userJwt(SECRET, "user-a", { expiresIn: now - 60 }),
    "wrong issuer": await userJwt(SECRET, "user-a", { issuer: "someone-else" }),
    unsigned: `${b64url('{"alg":"none","typ":"JWT"}')}.${
      b64url(JSON.stringify({ sub: "user-a", iss: "open-webui", exp: now + 300 }))
    }.`,
    garbage: "not-a-jwt",
  };
  for (const [what, token] of Object.entries(bad)) {
    const r = await srv.post("/tools/list_labels", {}, { "x-openwebui-user-jwt": token });
    const body = await r.json();
    assertEquals([r.status, body.error?.code], [401, "serve_user_token_invalid"], what);
  }
  const anonymous = await srv.post("/tools/list_labels", {});
  assertEquals([anonymous.status, (await anonymous.json()).error.code], [
    400,
    "serve_user_required",
  ]);
  // The OpenAPI document and the probes need no user.
  const doc = await srv.request("/openapi.json");
  assertEquals(doc.status, 200);
  await doc.body?.cancel();

  // MCP over HTTP: the same gates.
  const noUser = await srv.rpc(toolCall("list_labels"));
  assertEquals(noUser.status, 400);
  await noUser.body?.cancel();
  const expired = await srv.rpc(toolCall("list_labels"), {
    "x-openwebui-user-jwt": bad.expired,
  });
  assertEquals(expired.status, 401);
  await expired.body?.cancel();
  const viaMcp = await srv.rpc(toolCall("list_labels"), { "x-openwebui-user-jwt": good });
  assertEquals(viaMcp.status, 200);
  const rpc = await viaMcp.json();
  assert(!rpc.result.isError && rpc.result.structuredContent.labels.length > 0);

  // The access log: method, path, status, duration, user hash; no secret, token or key.
  await sleep(50);
  const lines = srv.accessLog();
  const served = lines.find((l) => l.path === "/tools/list_labels" && l.status === 200);
  assert(served, srv.stderr);
  assertEquals(Object.keys(served).sort(), ["method", "ms", "path", "status", "time", "user"]);
  assertEquals(typeof served.user, "string");
  assert(/^[0-9a-f]{32}$/.test(served.user as string), String(served.user));
  for (const secret of [SECRET, good, bad.expired, env.MCS_GMAIL_TOKEN, "user-a"]) {
    assert(!srv.stderr.includes(secret), `stderr holds a secret: ${secret.slice(0, 12)}…`);
  }
  // After the start-up lines, stderr is the access log alone: every line JSON (no runtime notice
  // such as Deno.serve's legacy request.signal abort, which a log shipper would choke on).
  const after = srv.stderr.split("\n").slice(
    srv.stderr.split("\n").findIndex((l) => l.startsWith("{")),
  );
  assertEquals(after.filter((l) => l.trim() && !l.startsWith("{")), []);
});

Deno.test("mcs serve team mode (plain header): trusted with the key only", async () => {
  await using stack = await testStack();
  const header = "X-OpenWebUI-User-Id";
  // A user header without a key would let anyone claim any user: refused at start.
  const refused = await mcs(["serve", "--port", "0", "--json"], {
    env: { MCS_AUTH: "static", MCS_SERVE_USER_HEADER: header },
  });
  assertEquals(refused.code, 3, refused.stderr);
  assertEquals(JSON.parse(refused.stdout).error.code, "serve_api_key_required");

  await using srv = await startServe({
    ...staticEnv(stack),
    MCS_SERVE_USER_HEADER: header,
    MCS_SERVE_API_KEY: KEY,
  });
  const auth = { authorization: `Bearer ${KEY}` };
  const ok = await srv.post("/tools/list_labels", {}, { ...auth, [header]: "alice" });
  assertEquals(ok.status, 200);
  await ok.body?.cancel();
  const noKey = await srv.post("/tools/list_labels", {}, { [header]: "alice" });
  assertEquals([noKey.status, (await noKey.json()).error.code], [401, "serve_unauthorized"]);
  assert(noKey.headers.get("www-authenticate")?.includes("Bearer"));
  const noUser = await srv.post("/tools/list_labels", {}, auth);
  assertEquals([noUser.status, (await noUser.json()).error.code], [400, "serve_user_required"]);
  await sleep(50);
  assert(!srv.stderr.includes(KEY), "the key is never logged");
  assert(!srv.stderr.includes("alice"), "the user id is logged as a hash only");
});

Deno.test("mcs serve team mode: two users never see, continue or complete each other's flow", async () => {
  await using stack = await testStack({ dir: "mcs-serve-team-" });
  const cache = stack.dir;
  await using srv = await startServe({
    ...stack.env,
    MCS_CACHE_DIR: cache,
    MCS_SERVE_USER_JWT_SECRET: SECRET,
  });
  const as = (user: string) => asUser(SECRET, user);
  const call = async (user: string) =>
    await (await srv.post("/tools/list_labels", {}, await as(user))).json();
  const viaMcp = async (user: string) => {
    const r = await srv.rpc(toolCall("list_labels"), await as(user));
    return (await r.json()).result.structuredContent;
  };

  const a1 = await call("user-a");
  const b1 = await call("user-b");
  assertEquals([a1.auth_required, a1.step, b1.auth_required, b1.step], [
    true,
    "login",
    true,
    "login",
  ]);
  assertNotEquals(a1.code, b1.code, "B gets its own code");
  assertNotEquals(a1.url, b1.url);
  // Each user continues their own flow, over OpenAPI and MCP alike.
  assertEquals((await call("user-a")).code, a1.code);
  assertEquals((await call("user-b")).code, b1.code);
  assertEquals((await viaMcp("user-a")).code, a1.code);
  assertEquals((await viaMcp("user-b")).code, b1.code);

  // A signs in: A moves on to the consent; B is still at its own login.
  await stack.userCompletes(a1.url, a1.code);
  const a2 = await call("user-a");
  assertEquals([a2.auth_required, a2.step], [true, "connect"]);
  const b2 = await call("user-b");
  assertEquals([b2.step, b2.code], ["login", b1.code], "A's sign-in did not complete B's");
  await stack.userCompletes(a2.url, a2.code);
  const a3 = await call("user-a");
  assert(Array.isArray(a3.labels), JSON.stringify(a3));
  const b3 = await call("user-b");
  assertEquals([b3.auth_required, b3.step, b3.code], [true, "login", b1.code]);

  // An MCP session belongs to the user who opened it.
  const init = await srv.rpc({
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "t", version: "1" },
    },
  }, await as("user-a"));
  const sid = init.headers.get("mcp-session-id");
  await init.body?.cancel();
  assert(sid, "initialize opened a session");
  const stolen = await srv.rpc(toolCall("list_labels"), {
    "mcp-session-id": sid,
    "mcp-protocol-version": "2025-06-18",
    ...await as("user-b"),
  });
  assertEquals(stolen.status, 404, "B cannot use A's MCP session");
  await stolen.body?.cancel();

  // The two users' state lives in two namespaces of the store.
  const keys = await new FileCacheStore(cache).keys("users/");
  assertEquals(new Set(keys.map((k) => k.split("/")[1])).size, 2, keys.join("\n"));
  assert(keys.every((k) => !k.includes("user-a") && !k.includes("user-b")));
});

/** Team mode (signed header) with a cap of one call in flight per user. */
function oneCallEach(stack: Parameters<typeof staticEnv>[0]): Record<string, string> {
  return { ...staticEnv(stack), MCS_SERVE_USER_JWT_SECRET: SECRET, MCS_SERVE_MAX_CONCURRENT: "1" };
}

Deno.test("mcs serve team mode: the per-user cap is 429 with Retry-After; other users go on", async () => {
  await using stack = await testStack();
  await using srv = await startServe(oneCallEach(stack));
  const a = await asUser(SECRET, "user-a");
  const b = await asUser(SECRET, "user-b");
  const warm = await srv.post("/tools/list_labels", {}, a);
  await warm.body?.cancel();
  stack.gmail.setLatency(1_500);
  const before = stack.gmail.requestCount;
  const slow = srv.post("/tools/search_emails", { limit: 1 }, a);
  while (stack.gmail.requestCount === before) await sleep(20); // A's call is in flight
  const second = await srv.post("/tools/list_labels", {}, a);
  assertEquals(second.status, 429);
  assertEquals(second.headers.get("retry-after"), "1");
  const body = await second.json();
  assertEquals([body.error.code, body.error.retryable], ["serve_too_many_calls", true]);
  const other = await srv.post("/tools/list_labels", {}, b);
  assertEquals(other.status, 200, "B is not limited by A's calls");
  await other.body?.cancel();
  const first = await slow;
  assertEquals(first.status, 200);
  await first.body?.cancel();
  stack.gmail.setLatency(0);
  const after = await srv.post("/tools/list_labels", {}, a);
  assertEquals(after.status, 200, "the slot is free again");
  await after.body?.cancel();
});

Deno.test("mcs serve team mode: a caller who goes away mid-call frees its slot at once (nothing retried for nobody)", async () => {
  await using stack = await testStack();
  await using srv = await startServe(oneCallEach(stack));
  const a = await asUser(SECRET, "user-a");
  const warm = await srv.post("/tools/list_labels", {}, a);
  await warm.body?.cancel();
  stack.gmail.setLatency(1_000);
  const before = stack.gmail.requestCount;
  const gone = new AbortController();
  const abandoned = srv.request("/tools/search_emails", {
    method: "POST",
    headers: { "content-type": "application/json", ...a },
    body: JSON.stringify({ limit: 1 }),
    signal: gone.signal,
  }).catch((e) => e);
  while (stack.gmail.requestCount === before) await sleep(20); // its Gmail request is in flight
  gone.abort(); // Open WebUI's user pressed stop; the connection closes
  assert((await abandoned) instanceof Error);
  // The call ends as cancelled (logged 499, nginx's "client closed request") instead of
  // retrying its aborted request with backoff for seconds while it holds the user's one slot.
  let line: Record<string, unknown> | undefined;
  for (let i = 0; i < 500 && !line; i++) {
    line = srv.accessLog().find((l) => l.path === "/tools/search_emails");
    if (!line) await sleep(20);
  }
  assertEquals(line?.status, 499, srv.stderr);
  stack.gmail.setLatency(0);
  const next = await srv.post("/tools/list_labels", {}, a);
  assertEquals(next.status, 200, "the slot is free again");
  await next.body?.cancel();
});
