/** Retries, timeouts, streaming, typed errors and redaction of the network layer. */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../support/assert.ts";
import { createNet, type NetOptions } from "../../lib/net/http.ts";
import { HttpStatusError, NetworkError, parseRetryAfter } from "../../lib/net/errors.ts";
import { freePort } from "./_tinyproxy.ts";

type Handler = (req: Request, hit: number) => Response | Promise<Response>;

/** A local HTTP server running `handler`, counting hits. */
function startServer(handler: Handler) {
  let hits = 0;
  const methods: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      methods.push(req.method);
      return handler(req, ++hits);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    hits: () => hits,
    methods,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A net with recorded, instant sleeps and deterministic jitter. */
function testNet(extra: NetOptions = {}) {
  const sleeps: number[] = [];
  const net = createNet({
    env: {},
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => 0,
    ...extra,
  });
  return { net, sleeps, [Symbol.dispose]: () => net.close() };
}

Deno.test("429 with Retry-After (seconds) is retried after exactly that delay", async () => {
  await using srv = startServer((_r, hit) =>
    hit === 1
      ? new Response("slow down", { status: 429, headers: { "retry-after": "2" } })
      : new Response("ok")
  );
  using t = testNet();
  const res = await t.net(srv.url);
  assertEquals(await res.text(), "ok");
  assertEquals(srv.hits(), 2);
  assertEquals(t.sleeps, [2000]);
});

Deno.test("Retry-After as an HTTP date is honoured", async () => {
  const when = new Date(Date.now() + 5000).toUTCString();
  await using srv = startServer((_r, hit) =>
    hit === 1
      ? new Response(null, { status: 503, headers: { "retry-after": when } })
      : new Response("ok")
  );
  using t = testNet();
  assertEquals(await (await t.net(srv.url)).text(), "ok");
  assertEquals(t.sleeps.length, 1);
  assert(t.sleeps[0] > 0 && t.sleeps[0] <= 5000, `slept ${t.sleeps[0]}`);
});

Deno.test("a Retry-After beyond the cap is not retried: the response is returned", async () => {
  await using srv = startServer(() =>
    new Response("later", { status: 429, headers: { "retry-after": "3600" } })
  );
  using t = testNet({ maxRetryAfterMs: 60_000 });
  const res = await t.net(srv.url);
  assertEquals(res.status, 429);
  await res.body?.cancel();
  assertEquals(srv.hits(), 1);
  assertEquals(t.sleeps, []);
});

Deno.test("503 then success: retried with exponential backoff and jitter", async () => {
  await using srv = startServer((_r, hit) =>
    hit < 3 ? new Response("busy", { status: 503 }) : new Response("ok")
  );
  const sleeps: number[] = [];
  using net = createNet({
    env: {},
    backoffBaseMs: 100,
    random: () => 1,
    sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
  });
  assertEquals(await (await net(srv.url)).text(), "ok");
  assertEquals(srv.hits(), 3);
  assertEquals(sleeps, [200, 300]); // random()=1: 100·2ⁿ plus the full 100 ms of jitter
});

Deno.test("retries are bounded: the last 5xx response is returned", async () => {
  await using srv = startServer(() => new Response("down", { status: 502 }));
  using t = testNet();
  const res = await t.net(srv.url, { retries: 2 });
  assertEquals(res.status, 502);
  assertEquals(await res.text(), "down");
  assertEquals(srv.hits(), 3);
  assertEquals(t.sleeps, [1000, 2000]); // random()=0: the policy's 1 s, 2 s, no jitter
});

Deno.test("a POST is never retried blindly; idempotent: true opts in", async () => {
  await using srv = startServer(() => new Response("busy", { status: 503 }));
  using t = testNet();
  const res = await t.net(srv.url, { method: "POST", body: "payload", retries: 5 });
  assertEquals(res.status, 503);
  await res.body?.cancel();
  assertEquals(srv.hits(), 1);
  const res2 = await t.net(srv.url, { method: "POST", body: "payload", idempotent: true });
  assertEquals(res2.status, 503);
  await res2.body?.cancel();
  assertEquals(srv.hits(), 1 + 4);
});

Deno.test("a Request object with a body is re-sent intact on retry", async () => {
  const bodies: string[] = [];
  await using srv = startServer(async (req, hit) => {
    bodies.push(await req.text());
    return hit === 1 ? new Response(null, { status: 500 }) : new Response("ok");
  });
  using t = testNet();
  const req = new Request(srv.url, { method: "PUT", body: "same body" });
  assertEquals(await (await t.net(req)).text(), "ok");
  assertEquals(bodies, ["same body", "same body"]);
});

Deno.test("a connection reset is retried for idempotent requests", async () => {
  // A raw TCP server: the first connection is closed without answering, the second answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let conns = 0;
  const served = (async () => {
    for await (const conn of listener) {
      conns++;
      const buf = new Uint8Array(4096);
      await conn.read(buf);
      if (conns > 1) {
        await conn.write(
          new TextEncoder().encode(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
          ),
        );
      }
      conn.close();
      if (conns > 1) break;
    }
  })();
  using t = testNet();
  try {
    const res = await t.net(`http://127.0.0.1:${port}/`);
    assertEquals(await res.text(), "ok");
    assertEquals(conns, 2);
    assertEquals(t.sleeps.length, 1);
  } finally {
    try {
      listener.close(); // already closed when the loop ended normally
    } catch { /* closed */ }
    await served.catch(() => {});
  }
});

Deno.test("timeouts: a stalled server gives NetworkError(timeout); a caller abort stays an abort", async () => {
  let release!: () => void;
  const stalled = new Promise<void>((r) => release = r);
  await using srv = startServer(async () => {
    await stalled;
    return new Response("late");
  });
  using t = testNet();
  try {
    const err = await assertRejects(() => t.net(srv.url, { timeoutMs: 100 }), NetworkError);
    assertEquals(err.code, "timeout");
    assertEquals(err.retryable, true);
    assertStringIncludes(err.message, `127.0.0.1`);
    const ctl = new AbortController();
    const p = t.net(srv.url, { signal: ctl.signal });
    ctl.abort(new DOMException("stop", "AbortError"));
    const abort = await assertRejects(() => p);
    assertEquals(abort.name, "AbortError");
  } finally {
    release();
  }
});

Deno.test("responses are streamed, not buffered; a body stall hits the timeout", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  await using srv = startServer(() => {
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(enc.encode("first;"));
        await gate; // the rest only after the client has seen the first chunk
        c.enqueue(enc.encode("second"));
        c.close();
      },
    });
    return new Response(body);
  });
  using t = testNet();
  try {
    const res = await t.net(srv.url);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assertEquals(new TextDecoder().decode(first.value), "first;");
    release();
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      rest += new TextDecoder().decode(r.value);
    }
    assertEquals(rest, "second");
    assertEquals(res.url, srv.url);
  } finally {
    release();
  }
});

Deno.test("a stalled body read is mapped to NetworkError(timeout)", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  await using srv = startServer(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(c) {
          c.enqueue(new TextEncoder().encode("partial"));
          await gate;
          c.close();
        },
      }),
    )
  );
  using t = testNet();
  try {
    const res = await t.net(srv.url, { timeoutMs: 200 });
    const err = await assertRejects(() => res.text(), NetworkError);
    assertEquals(err.code, "timeout");
  } finally {
    release();
  }
});

Deno.test("errors carry no query-string secrets or Authorization headers", async () => {
  const port = freePort();
  using t = testNet();
  const err = await assertRejects(
    () =>
      t.net(`http://127.0.0.1:${port}/v1?access_token=SECRETTOKEN`, {
        headers: { authorization: "Bearer SECRETBEARER" },
        method: "POST",
        body: "SECRETBODY",
      }),
    NetworkError,
  );
  assertEquals(err.code, "network_unreachable");
  assertEquals(err.host, `127.0.0.1:${port}`);
  const everything = JSON.stringify([
    err.message,
    err.details,
    String(err.cause),
    (err.cause as Error)?.message,
    err.stack,
  ]);
  for (const secret of ["SECRETTOKEN", "SECRETBEARER", "SECRETBODY"]) {
    assert(!everything.includes(secret), `${secret} leaked: ${everything}`);
  }
});

Deno.test("a host that does not resolve gives dns_error", async () => {
  using t = testNet();
  const err = await assertRejects(() => t.net("http://no-such-host.invalid/"), NetworkError);
  assertEquals(err.code, "dns_error");
  assertStringIncludes(err.message, "no-such-host.invalid");
});

Deno.test("HttpStatusError.fromResponse keeps only a redacted summary", async () => {
  const res = new Response(
    JSON.stringify({
      error: { code: 429, message: "Quota exceeded", status: "RESOURCE_EXHAUSTED", raw: "x" },
    }),
    { status: 429, headers: { "retry-after": "7" } },
  );
  const err = await HttpStatusError.fromResponse(res, { host: "gmail.googleapis.com" });
  assertEquals(err.status, 429);
  assertEquals(err.code, "rate_limited");
  assertEquals(err.retryable, true);
  assertEquals(err.retryAfterS, 7);
  assertEquals(
    err.message,
    "HTTP 429 from gmail.googleapis.com: Quota exceeded: 429: RESOURCE_EXHAUSTED",
  );
  const e404 = new HttpStatusError(404, { host: "h" });
  assertEquals([e404.code, e404.retryable], ["not_found", false]);
  const tokenBody = new Response(JSON.stringify({ error: "bad", access_token: "ya29.SECRET" }), {
    status: 400,
  });
  const e400 = await HttpStatusError.fromResponse(tokenBody);
  assert(!e400.message.includes("SECRET"));
});

Deno.test("parseRetryAfter: seconds, dates, garbage", () => {
  assertEquals(parseRetryAfter("5"), 5000);
  assertEquals(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
  assertEquals(parseRetryAfter(new Date(1_000).toUTCString(), 4_000), 0);
  assertEquals(parseRetryAfter("soon"), undefined);
  assertEquals(parseRetryAfter(null), undefined);
});

Deno.test("a request the permissions do not allow becomes permission_denied", async () => {
  const script = new URL("./fixtures/permission_denied.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-net=127.0.0.1", "--allow-env", script.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const result = JSON.parse(stdout);
  assertEquals(result.code, "permission_denied");
  assertEquals(
    result.message,
    "network access to evil.example.com:443 is not allowed by this build's permissions (--allow-net)",
  );
});

Deno.test("a response read through clone() first still reads or cancels (oauth4webapi's error path)", async () => {
  await using srv = startServer(() => Response.json({ error: "invalid_grant" }, { status: 400 }));
  using t = testNet();
  const res = await t.net(srv.url);
  assertEquals((await res.clone().json()).error, "invalid_grant");
  await res.body?.cancel(); // what oauth4webapi does next
  const again = await t.net(srv.url);
  assertEquals((await again.clone().json()).error, "invalid_grant");
  assertEquals((await again.json()).error, "invalid_grant");
});
