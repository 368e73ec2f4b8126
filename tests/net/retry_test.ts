/**
 * The one retry policy (`lib/net/retry.ts`) and its three users: the network layer, the Gmail
 * core and the Auth0 transport. Local fake servers and the Auth0 emulator; sleeps are recorded
 * (or Retry-After is 0), so nothing here waits.
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import {
  nextRetry,
  parseRetryAfter,
  RETRY_POLICY,
  UNPROCESSED_STATUSES,
} from "../../lib/net/retry.ts";
import { parseRetryAfter as netErrorsParser } from "../../lib/net/errors.ts";
import { GmailHttp, retryAfterMs as gmailParser } from "../../lib/gmail/http.ts";
import { createNet } from "../../lib/net/http.ts";
import { NetworkError } from "../../lib/net/errors.ts";
import { McsError } from "../../lib/errors.ts";
import { Auth0Transport } from "../../lib/auth/auth0/transport.ts";
import { resolveTenant } from "../../lib/auth/auth0/tenant.ts";
import { Auth0Failure } from "../../lib/auth/auth0/checklist.ts";
import { Auth0Provider } from "../../lib/auth/auth0/mod.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";

type Handler = (req: Request, hit: number) => Response | Promise<Response>;

function startServer(handler: Handler) {
  let hits = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => handler(req, ++hits),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    hits: () => hits,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const recorder = () => {
  const sleeps: number[] = [];
  return { sleeps, sleep: (ms: number) => (sleeps.push(ms), Promise.resolve()) };
};

// ------------------------------------------------------------------ the policy itself

Deno.test("one Retry-After parser: '1.5' is 1500 ms everywhere (the two parsers disagreed)", () => {
  for (const parse of [parseRetryAfter, netErrorsParser, gmailParser]) {
    assertEquals(parse("1.5"), 1500);
    assertEquals(parse("5"), 5000);
    assertEquals(parse(" 2 "), 2000);
    assertEquals(parse(new Date(10_000).toUTCString(), 4_000), 6_000);
    assertEquals(parse(new Date(1_000).toUTCString(), 4_000), 0);
    assertEquals(parse("-1"), undefined);
    assertEquals(parse("soon"), undefined);
    assertEquals(parse(""), undefined);
    assertEquals(parse(null), undefined);
  }
  assert(netErrorsParser === parseRetryAfter && gmailParser === parseRetryAfter);
});

Deno.test("nextRetry: idempotency rule, Retry-After budget, attempts, deadline", () => {
  const r = () => 0;
  // Idempotent: 429 and 5xx; backoff 1 s, 2 s, 4 s.
  assertEquals(nextRetry({ attempt: 0, status: 503, idempotent: true, random: r }), {
    retry: true,
    delayMs: 1000,
  });
  assertEquals(nextRetry({ attempt: 2, status: 500, idempotent: true, random: r }), {
    retry: true,
    delayMs: 4000,
  });
  assertEquals(
    nextRetry({ attempt: RETRY_POLICY.retries, status: 500, idempotent: true }),
    { retry: false, reason: "exhausted" },
  );
  assertEquals(nextRetry({ attempt: 0, status: 404, idempotent: true }).retry, false);
  // Non-idempotent: only what says "not processed".
  assertEquals(UNPROCESSED_STATUSES, [429]);
  assertEquals(nextRetry({ attempt: 0, status: 503, idempotent: false }), {
    retry: false,
    reason: "not_retryable",
  });
  assertEquals(nextRetry({ attempt: 0, status: 429, idempotent: false, random: r }).retry, true);
  assertEquals(
    nextRetry({ attempt: 0, status: 503, idempotent: false, unprocessed: [429, 503] }).retry,
    true,
  );
  // No answer at all: only an idempotent request is repeated.
  assertEquals(nextRetry({ attempt: 0, idempotent: false }).retry, false);
  assertEquals(nextRetry({ attempt: 0, idempotent: true }).retry, true);
  // Retry-After replaces the backoff; over the budget it fails at once with the wait.
  assertEquals(nextRetry({ attempt: 0, status: 429, idempotent: true, retryAfterMs: 1500 }), {
    retry: true,
    delayMs: 1500,
  });
  assertEquals(
    nextRetry({ attempt: 0, status: 429, idempotent: true, retryAfterMs: 3_600_000 }),
    { retry: false, reason: "retry_after_too_long", retryAfterS: 3600 },
  );
  assertEquals(
    nextRetry({
      attempt: 0,
      status: 429,
      idempotent: true,
      retryAfterMs: 10_000,
      remainingMs: 5_000,
    }),
    { retry: false, reason: "retry_after_too_long", retryAfterS: 10 },
  );
  // Exhausted attempts still report the server's wait.
  assertEquals(
    nextRetry({ attempt: 3, status: 429, idempotent: true, retryAfterMs: 2000 }),
    { retry: false, reason: "exhausted", retryAfterS: 2 },
  );
});

// ------------------------------------------------------------------ network layer

Deno.test("net: a POST is retried on 429 (not processed) but not on 503", async () => {
  await using srv = startServer((_r, hit) =>
    hit === 1
      ? new Response(null, { status: 429, headers: { "retry-after": "1" } })
      : hit === 2
      ? new Response("sent")
      : new Response(null, { status: 503 })
  );
  const rec = recorder();
  using net = createNet({ env: {}, sleep: rec.sleep });
  const res = await net(srv.url, { method: "POST", body: "x" });
  assertEquals(await res.text(), "sent");
  assertEquals(rec.sleeps, [1000]);
  const res2 = await net(srv.url, { method: "POST", body: "x" });
  assertEquals(res2.status, 503);
  await res2.body?.cancel();
  assertEquals(srv.hits(), 3);
});

/** A raw server that reads the request (head and body) and never answers. */
function blackHole() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let bytes = 0;
  const served = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buf = new Uint8Array(65536);
        for (;;) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) break;
          bytes += n;
        }
      })();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    bytes: () => bytes,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await served.catch(() => {});
    },
  };
}

Deno.test("net: a POST whose answer never comes is outcome_unknown, a GET a retryable timeout", async () => {
  await using hole = blackHole();
  using net = createNet({ env: {}, timeoutMs: 300 });
  const err = await assertRejects(
    () => net(`${hole.url}/send`, { method: "POST", body: "payload" }),
    NetworkError,
  );
  assertEquals(err.code, "outcome_unknown");
  assertEquals(err.retryable, false);
  assert(hole.bytes() > 0, "the request was written");
  const get = await assertRejects(() => net(`${hole.url}/read`, { retries: 0 }), NetworkError);
  assertEquals(get.code, "timeout");
  assertEquals(get.retryable, true);
});

// ------------------------------------------------------------------ Gmail core

const creds = {
  getToken: () => Promise.resolve("ya29.test"),
  invalidate: () => Promise.resolve(),
};
const OP = { description: "send a message", scopes: ["gmail.send"] };

Deno.test("Gmail: a send whose response times out is outcome_unknown, not retryable", async () => {
  await using hole = blackHole();
  using net = createNet({ env: {}, timeoutMs: 300 });
  const rec = recorder();
  const http = new GmailHttp({ credentials: creds, fetch: net, apiBase: hole.url, ...rec });
  const err = await assertRejects(
    () => http.call({ method: "POST", path: "messages/send", json: { raw: "eA" }, op: OP }),
    McsError,
  );
  assertEquals(err.code, "outcome_unknown");
  assertEquals(err.retryable, false);
  assertEquals(rec.sleeps, [], "never repeated");
});

Deno.test("Gmail: a Retry-After over the budget fails at once with retry_after_s", async () => {
  await using srv = startServer(() =>
    Response.json(
      { error: { code: 429, message: "Too many requests", status: "RESOURCE_EXHAUSTED" } },
      { status: 429, headers: { "retry-after": "3600" } },
    )
  );
  const rec = recorder();
  using net = createNet({ env: {} });
  const http = new GmailHttp({ credentials: creds, fetch: net, apiBase: srv.url, ...rec });
  const err = await assertRejects(
    () => http.call({ path: "profile", op: { description: "read", scopes: [] } }),
    McsError,
  );
  assertEquals(err.code, "gmail_rate_limited");
  assertEquals(err.details?.retry_after_s, 3600);
  assert(/3600 s/.test(err.message), err.message);
  assertEquals(rec.sleeps, []);
  assertEquals(srv.hits(), 1);
});

// ------------------------------------------------------------------ Auth0 transport

function transport(url: string, sleep?: (ms: number) => Promise<void>) {
  return new Auth0Transport({
    tenant: resolveTenant(url),
    clientId: "id",
    clientSecret: "secret",
    fetch: createNet({ env: {} }),
    sleep,
  });
}

const TOKEN_OK = { access_token: "at", token_type: "Bearer", expires_in: 60 };

Deno.test("Auth0: token grants are retried on 429 and 503, not on 500", async () => {
  const statuses = [429, 503, 200, 500];
  await using srv = startServer((_r, hit) =>
    statuses[hit - 1] === 200
      ? Response.json(TOKEN_OK)
      : Response.json({ error: "x" }, { status: statuses[hit - 1] })
  );
  const rec = recorder();
  const t = transport(srv.url, rec.sleep);
  const res = await t.token("mrrt", "refresh_token", { refresh_token: "rt" });
  assertEquals(res.access_token, "at");
  assertEquals(srv.hits(), 3);
  assertEquals(rec.sleeps.length, 2);
  const err = await assertRejects(() => t.token("mrrt", "refresh_token", { refresh_token: "rt" }));
  assert(err instanceof Auth0Failure && err.status === 500);
  assertEquals(srv.hits(), 4, "a 500 may have been processed: not repeated");
});

Deno.test("Auth0: My Account GET retried on 5xx; over-budget Retry-After fails at once", async () => {
  await using srv = startServer((req, hit) =>
    hit === 1
      ? new Response(null, { status: 502 })
      : req.method === "GET"
      ? Response.json({ connections: [] })
      : Response.json({ title: "Too Many Requests" }, {
        status: 429,
        headers: { "retry-after": "120" },
      })
  );
  const rec = recorder();
  const t = transport(srv.url, rec.sleep);
  assertEquals(await t.myAccount("accounts", "GET", "/x", "tok"), { connections: [] });
  assertEquals(rec.sleeps.length, 1);
  const err = await assertRejects(() => t.myAccount("connect", "POST", "/y", "tok", {}));
  assert(err instanceof Auth0Failure);
  assertEquals([err.status, err.retryAfterS], [429, 120]);
  assertEquals(rec.sleeps.length, 1, "not waited for");
});

Deno.test("Auth0: parallel cold starts survive injected 429s (the emulator)", async () => {
  const emu = await startAuth0Emulator();
  try {
    const rt = emu.issueRefreshToken();
    emu.connectAccount();
    emu.injectResponse("/oauth/token", {
      status: 429,
      body: { error: "too_many_requests", error_description: "Rate limit exceeded." },
      headers: { "retry-after": "0" },
    }, 2);
    using net = createNet({ env: {} });
    const tokens = await Promise.all(
      Array.from({ length: 8 }, () =>
        new Auth0Provider({
          domain: emu.url,
          clientId: emu.clientId,
          clientSecret: emu.clientSecret,
          refreshToken: rt,
          cache: new MemoryCacheStore(),
          fetch: net,
        }).getToken("gmail")),
    );
    assertEquals(tokens.length, 8);
    assert(tokens.every((t) => typeof t === "string" && t.length > 0));
  } finally {
    await emu.close();
  }
});
