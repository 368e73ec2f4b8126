/**
 * Operations of the production broker: webhook relay and `callback_url` delivery (with the
 * address guard), trusted proxy headers (HTTPS detection, HSTS), `/health` reporting a failing
 * store, and graceful shutdown finishing a request in flight.
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { brokerWorld, openEnvelope, pageEnvelope } from "./_world.ts";

Deno.test("webhook relay: sealed to the agent key, delivered once, never overwritten", async () => {
  await using w = await brokerWorld();
  const res = await w.api("/v1/sessions", {
    method: "POST",
    body: JSON.stringify({ public_key: w.key.spki, template: "api_key", enable_webhook: true }),
  });
  const s = await res.json();
  const hook = new URL(s.webhook_url);
  const send = (body: string) =>
    fetch(hook, { method: "POST", headers: { "content-type": "text/plain" }, body });
  const first = await send("event-1");
  assertEquals(await first.json(), { status: "accepted", session_id: s.session_id });
  const second = await send("event-2");
  assertEquals(second.status, 500); // the unread payload stays
  await second.body?.cancel();
  const wrong = await fetch(`${hook.origin}${hook.pathname}?token=wt_nope`, { method: "POST" });
  assertEquals(wrong.status, 403);
  await wrong.body?.cancel();
  const ready = await (await w.poll(s)).json();
  const plain = await openEnvelope(w.key.privateKey, ready.ciphertext) as Record<string, unknown>;
  assertEquals([plain.body, plain.content_type], ["event-1", "text/plain"]);
});

Deno.test("callback_url: signed delivery when allowed; a loopback target is refused by the guard", async () => {
  const got: { sig: string | null; body: string }[] = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    got.push({ sig: req.headers.get("x-linkauth-signature"), body: await req.text() });
    return new Response(null, { status: 204 });
  });
  const cb = `http://127.0.0.1:${receiver.addr.port}/cb`;
  try {
    for (const allowPrivate of [false, true]) {
      got.length = 0;
      {
        await using w = await brokerWorld({ allowPrivate });
        const s = await w.createSession({ template: "api_key", callback_url: cb });
        const ct = await w.confirm(s.code);
        const env = await pageEnvelope(w.key.spki, { api_key: "k" });
        const done = await w.complete(s.code, { ciphertext: env, connect_token: ct });
        assertEquals(done.status, 204);
      } // close() waits for the delivery (and its retries) to finish
      if (!allowPrivate) {
        assertEquals(got, []);
        continue;
      }
      assertEquals(got.length, 1);
      assert(/^sha256=[0-9a-f]{64}$/.test(got[0].sig ?? ""), got[0].sig ?? "no signature");
      assertEquals(JSON.parse(got[0].body).status, "ready");
    }
  } finally {
    await receiver.shutdown();
  }
});

Deno.test("trusted proxy: X-Forwarded-Proto https from it means HTTPS (HSTS, production banner); from others nothing", async () => {
  for (const trusted of [true, false]) {
    await using w = await brokerWorld({ trustedProxies: trusted ? ["127.0.0.0/8"] : [] });
    const s = await w.createSession({ template: "api_key" });
    const r = await fetch(`${w.broker.url}/v1/connect/${s.code}`, {
      headers: { "x-forwarded-proto": "https" },
    });
    const info = await r.json();
    assertEquals(r.headers.has("strict-transport-security"), trusted);
    assertEquals(info.security.mode, trusted ? "production" : "development");
  }
});

Deno.test("/health answers 503 when the state store fails", async () => {
  const store = new MemoryCacheStore();
  let broken = false;
  const get = store.get.bind(store);
  store.get = <T>(key: string) => broken ? Promise.reject(new Error("down")) : get<T>(key);
  await using w = await brokerWorld({ store });
  assertEquals((await (await fetch(`${w.broker.url}/health`)).json()).status, "ok");
  broken = true;
  const r = await fetch(`${w.broker.url}/health`);
  assertEquals([r.status, (await r.json()).status], [503, "unavailable"]);
});

Deno.test("graceful shutdown: a request in flight finishes before close() returns", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const slow = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    arrived();
    await gate;
    return new Response("late");
  });
  try {
    const w = await brokerWorld({ allowPrivate: true });
    const inflight = w.api("/v1/proxy", {
      method: "POST",
      body: JSON.stringify({ method: "GET", url: `http://127.0.0.1:${slow.addr.port}/` }),
    });
    await reached;
    const closed = w.broker.close();
    release();
    const r = await inflight;
    assertEquals([r.status, (await r.json()).body], [200, "late"]);
    await closed;
  } finally {
    await slow.shutdown();
  }
});

Deno.test("the sweep drops expired rate-limit windows from the state directory for good", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcs-broker-compact-" });
  try {
    let t = Date.parse("2026-05-01T10:00:00Z");
    const { openBrokerStore } = await import("../../lib/broker/store.ts");
    const { store, compact } = await openBrokerStore({ get: () => undefined }, dir, () => t);
    await using w = await brokerWorld({ store, compact });
    w.clock.t = t;
    const files = async () => {
      let n = 0;
      for await (const e of Deno.readDir(dir)) if (e.isFile && !e.name.startsWith(".")) n++;
      return n;
    };
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${w.broker.url}/v1/connect/QQQQ-000${i}`);
      await r.body?.cancel();
    }
    const before = await files();
    assert(before >= 6, `windows on disk: ${before}`); // per code, and the address's misses
    t += 120_000;
    w.clock.t = t;
    await w.broker.handler.sweep();
    assertEquals(await files(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("MCS_BROKER_METRICS_TOKEN: /metrics needs the bearer token (401 otherwise); unset, /metrics is open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcs-broker-metrics-" });
  const { spawnBroker } = await import("./_process.ts");
  const env = { LINKAUTH_API_KEYS: "k", MCS_BROKER_STATE_DIR: `${dir}/state` };
  const guarded = await spawnBroker({ ...env, MCS_BROKER_METRICS_TOKEN: "metrics-token-1" });
  const open = await spawnBroker(env);
  try {
    const get = async (url: string, token?: string) => {
      const r = await fetch(`${url}/metrics`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      return { status: r.status, auth: r.headers.get("www-authenticate"), text: await r.text() };
    };
    const none = await get(guarded.url);
    assertEquals([none.status, none.auth], [401, 'Bearer realm="metrics"']);
    assert(!none.text.includes("mcs_broker_"), none.text);
    assertEquals((await get(guarded.url, "wrong")).status, 401);
    const ok = await get(guarded.url, "metrics-token-1");
    assertEquals(ok.status, 200);
    assert(ok.text.includes("mcs_broker_requests_total"), ok.text);
    assertEquals((await get(open.url)).status, 200);
    assert(!guarded.log().includes("metrics-token-1"), "the token in the log");
    assert(!/\/metrics is off/.test(open.log()), open.log()); // loopback: open, no warning
  } finally {
    await Promise.all([guarded.close(), open.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loopbackHost: loopback names and addresses only (not the any-address or private ones)", async () => {
  const { loopbackHost } = await import("../../lib/broker/server.ts");
  for (const h of ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) {
    assert(loopbackHost(h), h);
  }
  for (
    const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "::ffff:10.0.0.1", "broker.example"]
  ) {
    assert(!loopbackHost(h), h);
  }
});

Deno.test("/metrics on a non-loopback address without MCS_BROKER_METRICS_TOKEN: 404, and one start-up line says how to enable it; with the token it works there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcs-broker-metrics-" });
  const { spawnBroker } = await import("./_process.ts");
  const env = {
    LINKAUTH_API_KEYS: "k",
    MCS_BROKER_STATE_DIR: `${dir}/state`,
    MCS_BROKER_HOST: "0.0.0.0",
  };
  const off = await spawnBroker(env);
  const guarded = await spawnBroker({ ...env, MCS_BROKER_METRICS_TOKEN: "metrics-token-2" });
  try {
    const get = async (b: { port: number }, token?: string) => {
      const r = await fetch(`http://127.0.0.1:${b.port}/metrics`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      return { status: r.status, text: await r.text() };
    };
    const refused = await get(off);
    assertEquals(refused.status, 404);
    assert(!refused.text.includes("mcs_broker_"), refused.text);
    const health = await fetch(`http://127.0.0.1:${off.port}/health`);
    assertEquals(health.status, 200); // the rest of the broker answers
    await health.body?.cancel();
    const warnings = off.log().split("\n").filter((l) =>
      l.includes("/metrics") && !l.startsWith("mcs broker: GET ") // not the request log
    );
    assertEquals(warnings.length, 1, off.log());
    assertMatch(
      warnings[0],
      /^mcs broker: \/metrics is off .*0\.0\.0\.0.*MCS_BROKER_METRICS_TOKEN/,
    );
    assertEquals((await get(guarded)).status, 401);
    const ok = await get(guarded, "metrics-token-2");
    assertEquals(ok.status, 200);
    assert(ok.text.includes("mcs_broker_requests_total"), ok.text);
    assert(!/\/metrics is off/.test(guarded.log()), guarded.log());
  } finally {
    await Promise.all([off.close(), guarded.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a path segment that is not valid percent-encoding is 404, not an internal error", async () => {
  await using w = await brokerWorld();
  for (const path of ["/v1/connect/%E0%A4", "/v1/sessions/%zz", "/v1/connect/%E0/confirm"]) {
    const r = await fetch(`${w.broker.url}${path}`);
    assertEquals(r.status, 404, path);
    await r.body?.cancel();
  }
});
