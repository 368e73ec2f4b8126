/**
 * Each LinkAuth hole (reference section 14, plus the two found by running it) probed against
 * the production broker: the attack that works on LinkAuth v0.2 is refused here.
 * @module
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { FileCacheStore } from "../../lib/cache/file_store.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import type { CacheStore } from "../../lib/cache/types.ts";
import { brokerWorld, cookieOf, KEY, pageEnvelope, START } from "./_world.ts";

const AUTH0 = {
  authorizeUrl: "https://tenant.example.test/authorize",
  tokenUrl: "https://tenant.example.test/oauth/token",
  clientId: "cid",
  clientSecret: "csecret",
};
const auth0 = (name: string) => Promise.resolve(name === "auth0" ? AUTH0 : undefined);

Deno.test("connect token: required, non-empty and single-use", async () => {
  await using w = await brokerWorld();
  const s = await w.createSession({ template: "api_key" });
  const ct = await w.confirm(s.code);
  const envelope = await pageEnvelope(w.key.spki, { api_key: "k" });
  const missing = await w.complete(s.code, { ciphertext: envelope });
  assertEquals(missing.status, 422);
  await missing.body?.cancel();
  const empty = await w.complete(s.code, { ciphertext: envelope, connect_token: "" });
  assertEquals(empty.status, 403);
  await empty.body?.cancel();
  const ok = await w.complete(s.code, { ciphertext: envelope, connect_token: ct });
  assertEquals(ok.status, 204);
  const again = await w.complete(s.code, { ciphertext: envelope, connect_token: ct });
  assertEquals(again.status, 409); // the ready payload is never overwritten either
  await again.body?.cancel();
});

Deno.test("OAuth: the redirect consumes the connect token; it cannot be replayed", async () => {
  await using w = await brokerWorld({ providers: auth0 });
  const s = await w.createSession({ oauth_provider: "auth0" });
  const ct = await w.confirm(s.code);
  const go = () => w.authorize(s.code, ct);
  const first = await go();
  assertEquals(first.status, 302);
  const location = new URL(first.headers.get("location")!);
  assertEquals(location.origin + location.pathname, AUTH0.authorizeUrl);
  assertEquals(location.searchParams.get("code_challenge_method"), "S256");
  assert(location.searchParams.get("state") !== s.session_id, "state is not the session id");
  const replay = await go();
  assertEquals(replay.status, 403);
  await replay.body?.cancel();
});

Deno.test("a session completes only as its template allows: OAuth refuses a form ciphertext", async () => {
  await using w = await brokerWorld({ providers: auth0 });
  for (
    const body of [
      { oauth_provider: "auth0" },
      {
        template: "custom",
        fields: [{ name: "x", label: "X" }],
        oauth_provider: "auth0",
        custom_authorize_url: "https://tenant.example.test/connect?ticket=t1",
        custom_state: "st1",
      },
    ]
  ) {
    const s = await w.createSession(body);
    const ct = await w.confirm(s.code);
    // LinkAuth v0.2 accepts this and reports the forged payload ready to the agent.
    const forged = await w.complete(s.code, {
      ciphertext: await pageEnvelope(w.key.spki, { access_token: "attacker" }),
      connect_token: ct,
    });
    assertEquals(forged.status, 409);
    await forged.body?.cancel();
    const polled = await (await w.poll(s)).json();
    assertEquals(polled.status, "confirmed");
  }
});

Deno.test("code guessing: limited per address across codes and per code across addresses (429 + Retry-After)", async () => {
  await using w = await brokerWorld({ trustedProxies: ["127.0.0.1"] });
  const from = (addr: string) => ({ "x-forwarded-for": addr });
  const guess = (code: string, addr: string) =>
    fetch(`${w.broker.url}/v1/connect/${code}`, { headers: from(addr) });
  // Per address: 10 misses on different codes, then 429 even for a real code.
  for (let i = 0; i < 10; i++) {
    const r = await guess(`ZZZZ-${String(i).padStart(4, "0")}`, "198.51.100.7");
    assertEquals(r.status, 404);
    await r.body?.cancel();
  }
  const s = await w.createSession({ template: "api_key" });
  const blocked = await guess(s.code, "198.51.100.7");
  assertEquals(blocked.status, 429);
  assertMatch(blocked.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
  await blocked.body?.cancel();
  // Another address is not blocked by that one.
  const other = await guess(s.code, "198.51.100.8");
  assertEquals(other.status, 200);
  await other.body?.cancel();
  // Per code: one code hammered from many addresses.
  const t = await w.createSession({ template: "api_key" });
  for (let i = 0; i < 10; i++) {
    const r = await guess(t.code, `203.0.113.${i + 1}`);
    assertEquals(r.status, 200);
    await r.body?.cancel();
  }
  const perCode = await guess(t.code, "203.0.113.99");
  assertEquals(perCode.status, 429);
  assert(Number(perCode.headers.get("retry-after")) > 0);
  await perCode.body?.cancel();
  assert(w.metrics.get("rate_limited", { limit: "address" }) >= 1);
  assert(w.metrics.get("rate_limited", { limit: "code" }) >= 1);
});

Deno.test("code guessing: IPv6 addresses of one /64 share the per-address limit", async () => {
  await using w = await brokerWorld({ trustedProxies: ["127.0.0.1"] });
  // One host with a /64 (the usual allocation) can pick a fresh address for every guess.
  const guess = (code: string, addr: string) =>
    fetch(`${w.broker.url}/v1/connect/${code}`, { headers: { "x-forwarded-for": addr } });
  for (let i = 0; i < 10; i++) {
    const r = await guess(`XXXX-${String(i).padStart(4, "0")}`, `2001:db8:1:2::${i + 1}`);
    assertEquals(r.status, 404);
    await r.body?.cancel();
  }
  const s = await w.createSession({ template: "api_key" });
  const blocked = await guess(s.code, "2001:db8:1:2:ffff::99");
  assertEquals(blocked.status, 429);
  await blocked.body?.cancel();
  // Another /64 is not blocked by that one.
  const other = await guess(s.code, "2001:db8:1:3::1");
  assertEquals(other.status, 200);
  await other.body?.cancel();
});

Deno.test("code guessing: X-Forwarded-For from an untrusted peer is ignored", async () => {
  await using w = await brokerWorld();
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${w.broker.url}/v1/connect/YYYY-000${i}`, {
      headers: { "x-forwarded-for": `192.0.2.${i}` }, // spoofed: every miss counts on the socket
    });
    assertEquals(r.status, 404);
    await r.body?.cancel();
  }
  const r = await fetch(`${w.broker.url}/v1/connect/YYYY-9999`, {
    headers: { "x-forwarded-for": "192.0.2.200" },
  });
  assertEquals(r.status, 429);
  await r.body?.cancel();
});

Deno.test("proxy: only allow-listed hosts, resolved addresses checked, no redirects", async () => {
  let hits = 0;
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    hits++;
    return new URL(req.url).pathname === "/jump"
      ? new Response(null, { status: 302, headers: { location: "http://127.0.0.1:9/secret" } })
      : Response.json({ ok: true });
  });
  const port = upstream.addr.port;
  const proxy = async (w: Awaited<ReturnType<typeof brokerWorld>>, url: string) => {
    const res = await w.api("/v1/proxy", {
      method: "POST",
      body: JSON.stringify({ method: "GET", url }),
    });
    return { status: res.status, body: await res.json() };
  };
  try {
    {
      await using w = await brokerWorld({
        dns: {
          "private.example.test": ["10.1.2.3"],
          "meta.example.test": ["169.254.169.254"],
          "v6.example.test": ["::ffff:127.0.0.1"],
        },
      });
      assertEquals((await proxy(w, "https://evil.test/")).status, 403);
      const loop = await proxy(w, `http://127.0.0.1:${port}/`);
      assertEquals([loop.status, loop.body.title], [403, "SSRF Blocked"]);
      for (const host of ["private.example.test", "meta.example.test", "v6.example.test"]) {
        const r = await proxy(w, `http://${host}:${port}/`);
        assertEquals([r.status, r.body.title], [403, "SSRF Blocked"], host);
      }
      assertEquals(hits, 0);
      assertEquals(w.metrics.get("proxy_calls", { outcome: "blocked" }), 4);
    }
    {
      await using w = await brokerWorld({ allowPrivate: true });
      const ok = await proxy(w, `http://127.0.0.1:${port}/`);
      assertEquals([ok.status, ok.body.status_code, JSON.parse(ok.body.body)], [200, 200, {
        ok: true,
      }]);
      const jump = await proxy(w, `http://127.0.0.1:${port}/jump`);
      assertEquals([jump.status, jump.body.status_code], [200, 302]);
      assertEquals(hits, 2); // the redirect target was never requested
    }
  } finally {
    await upstream.shutdown();
  }
});

Deno.test("proxy: DNS rebinding closed, the call connects to the address the guard checked", async () => {
  const pinned: { url: string; address: string }[] = [];
  let unpinned = 0;
  await using w = await brokerWorld({
    // The guard's answer is public; a second resolution could say anything.
    dns: { "rebind.example.test": ["93.184.216.34"] },
    pinned: (url, address) => {
      pinned.push({ url: url.href, address });
      return Promise.resolve(Response.json({ pinned: true }));
    },
    upstream: () => {
      unpinned++;
      return Promise.resolve(Response.json({ pinned: false }));
    },
  });
  const res = await w.api("/v1/proxy", {
    method: "POST",
    body: JSON.stringify({ method: "GET", url: "https://rebind.example.test/x" }),
  });
  const body = await res.json();
  assertEquals([res.status, JSON.parse(body.body)], [200, { pinned: true }]);
  assertEquals(pinned, [{ url: "https://rebind.example.test/x", address: "93.184.216.34" }]);
  assertEquals(unpinned, 0);
});

Deno.test("API keys: stored hashed, unknown keys refused, each key rate-limited (429 + Retry-After)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcs-broker-keys-" });
  try {
    await using w = await brokerWorld({
      store: new FileCacheStore(dir, { now: () => START }),
      limits: { perKeyPerMinute: 3 },
    });
    const bad = await w.api("/v1/sessions", { method: "POST", body: "{}", key: "nope" });
    assertEquals(bad.status, 403);
    await bad.body?.cancel();
    for (let i = 0; i < 3; i++) await w.createSession({ template: "api_key" });
    const limited = await w.api("/v1/sessions", {
      method: "POST",
      body: JSON.stringify({ public_key: w.key.spki, template: "api_key" }),
    });
    assertEquals(limited.status, 429);
    assert(Number(limited.headers.get("retry-after")) > 0);
    await limited.body?.cancel();
    const otherKey = await w.api("/v1/sessions", {
      method: "POST",
      key: "agent-key-2",
      body: JSON.stringify({ public_key: w.key.spki, template: "api_key" }),
    });
    assertEquals(otherKey.status, 201);
    await otherKey.body?.cancel();
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile) continue;
      const text = await Deno.readTextFile(`${dir}/${e.name}`);
      assert(!text.includes(KEY) && !text.includes("agent-key-2"), `API key in ${e.name}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CSRF: page POSTs from another origin are refused; the broker's own origin works", async () => {
  await using w = await brokerWorld();
  const s = await w.createSession({ template: "api_key" });
  for (
    const headers of <Record<string, string>[]> [{ origin: "https://evil.test" }, {
      "sec-fetch-site": "cross-site",
    }, {
      origin: "null",
    }]
  ) {
    const r = await fetch(`${w.broker.url}/v1/connect/${s.code}/confirm`, {
      method: "POST",
      headers,
    });
    assertEquals(r.status, 403, JSON.stringify(headers));
    await r.body?.cancel();
  }
  const ct = await w.confirm(s.code, { origin: w.broker.url, "sec-fetch-site": "same-origin" });
  const cross = await w.complete(s.code, {
    ciphertext: await pageEnvelope(w.key.spki, { api_key: "k" }),
    connect_token: ct,
  }, { origin: "https://evil.test" });
  assertEquals(cross.status, 403);
  await cross.body?.cancel();
});

Deno.test("pages and API answers carry CSP, Referrer-Policy, nosniff and frame protection", async () => {
  await using w = await brokerWorld();
  for (
    const path of [
      "/connect/ABCD-1234",
      "/connect",
      "/static/connect.js",
      "/health",
      "/v1/connect/ABCD-1234",
    ]
  ) {
    const r = await fetch(`${w.broker.url}${path}`);
    await r.body?.cancel();
    const h = r.headers;
    assertMatch(h.get("content-security-policy") ?? "", /frame-ancestors 'none'/, path);
    assertEquals(h.get("referrer-policy"), "no-referrer", path);
    assertEquals(h.get("x-content-type-options"), "nosniff", path);
    assertEquals(h.get("x-frame-options"), "DENY", path);
  }
  const page = await fetch(`${w.broker.url}/connect/ABCD-1234`);
  const csp = page.headers.get("content-security-policy")!;
  await page.body?.cancel();
  assertMatch(csp, /default-src 'none'/);
  assertMatch(csp, /script-src 'self'/);
});

Deno.test("a denied sign-in or consent fails the session: the agent gets a terminal answer at once", async () => {
  await using w = await brokerWorld({ providers: auth0 });
  // Standard OAuth: the provider sends the user back with error=access_denied.
  const s = await w.createSession({ oauth_provider: "auth0" });
  const ct = await w.confirm(s.code);
  const go = await w.authorize(s.code, ct);
  const state = new URL(go.headers.get("location")!).searchParams.get("state")!;
  const back = await fetch(`${w.broker.url}/v1/oauth/callback?error=access_denied&state=${state}`, {
    redirect: "manual",
    headers: { cookie: cookieOf(go) },
  });
  assertEquals([back.status, back.headers.get("location")], [
    302,
    `${w.broker.url}/connect/${s.code}?status=denied`,
  ]);
  const polled = await (await w.poll(s)).json();
  assertEquals([polled.status, polled.error, polled.ciphertext], [
    "expired",
    "access_denied",
    null,
  ]);
  // Passthrough (Connected Accounts consent): matched by custom_state.
  const p = await w.createSession({
    oauth_provider: "auth0",
    custom_authorize_url: "https://tenant.example.test/connect?ticket=t9",
    custom_callback_params: ["connect_code"],
    custom_state: "agent-state-1",
  });
  const pct = await w.confirm(p.code);
  const pgo = await w.authorize(p.code, pct);
  await pgo.body?.cancel();
  const pback = await fetch(
    `${w.broker.url}/v1/oauth/callback?error=access_denied&state=agent-state-1`,
    { redirect: "manual", headers: { cookie: cookieOf(pgo) } },
  );
  await pback.body?.cancel();
  assertEquals(pback.status, 302);
  assertEquals((await (await w.poll(p)).json()).status, "expired");
  assertEquals(w.metrics.get("sessions_denied"), 2);
});

Deno.test("a passthrough session never outlives its Auth0 connect ticket", async () => {
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      Response.json({
        auth_session: "as",
        connect_uri: "https://tenant.example.test/connect",
        connect_params: { ticket: "tk-seen" },
        expires_in: 60,
      }),
  );
  try {
    await using w = await brokerWorld({ providers: auth0, allowPrivate: true });
    const t0 = w.clock.t;
    const passthrough = (ticket: string) =>
      w.createSession({
        oauth_provider: "auth0",
        ttl: 900,
        custom_authorize_url: `https://tenant.example.test/connect?ticket=${ticket}`,
        custom_callback_params: ["connect_code"],
        custom_state: `st-${ticket}`,
      });
    // Unseen ticket: Auth0's default lifetime (300 s) caps the requested 900 s.
    assertEquals(Date.parse((await passthrough("tk-unseen")).expires_at), t0 + 300_000);
    // A ticket seen through /v1/proxy: its own expires_in.
    const r = await w.api("/v1/proxy", {
      method: "POST",
      body: JSON.stringify({
        method: "POST",
        url: `http://127.0.0.1:${upstream.addr.port}/me/v1/connected-accounts/connect`,
        body: "{}",
      }),
    });
    assertEquals(r.status, 200);
    await r.body?.cancel();
    assertEquals(Date.parse((await passthrough("tk-seen")).expires_at), t0 + 60_000);
    // A login session is not capped.
    assertEquals(
      Date.parse((await w.createSession({ oauth_provider: "auth0", ttl: 900 })).expires_at),
      t0 + 900_000,
    );
  } finally {
    await upstream.shutdown();
  }
});

Deno.test("ready-once across replicas: two brokers on one store, concurrent polls, one payload", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcs-broker-replicas-" });
  try {
    await using a = await brokerWorld({ store: new FileCacheStore(dir, { now: () => START }) });
    await using b = await brokerWorld({ store: new FileCacheStore(dir, { now: () => START }) });
    b.clock.t = a.clock.t;
    const s = await a.createSession({ template: "api_key" });
    const ct = await b.confirm(s.code); // the other replica sees it
    const done = await a.complete(s.code, {
      ciphertext: await pageEnvelope(a.key.spki, { api_key: "k" }),
      connect_token: ct,
    });
    assertEquals(done.status, 204);
    const answers = await Promise.all(
      [a.poll(s), b.poll(s), a.poll(s), b.poll(s)].map(async (r) => (await r).json()),
    );
    const ready = answers.filter((x) => x.status === "ready");
    assertEquals(ready.length, 1, JSON.stringify(answers.map((x) => x.status ?? x.title)));
    assert(typeof ready[0].ciphertext === "string");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("passthrough custom_state: a second live session cannot take it over (no callback capture)", async () => {
  await using w = await brokerWorld({ providers: auth0 });
  const body = {
    oauth_provider: "auth0",
    custom_authorize_url: "https://tenant.example.test/connect?ticket=t1",
    custom_callback_params: ["connect_code"],
    custom_state: "victim-state",
  };
  await w.createSession(body);
  // LinkAuth v0.2 lets the newest session with this custom_state receive the victim's callback.
  const thief = await w.api("/v1/sessions", {
    method: "POST",
    key: "agent-key-2",
    body: JSON.stringify({ public_key: w.key.spki, ...body }),
  });
  assertEquals(thief.status, 409);
  await thief.body?.cancel();
  w.clock.t += 301_000; // the first session (capped by its ticket) is gone: the state is free
  await w.createSession(body);
});

Deno.test("request bodies are size-limited (413)", async () => {
  await using w = await brokerWorld({ limits: { maxBody: 4096 } });
  const r = await w.api("/v1/sessions", {
    method: "POST",
    body: JSON.stringify({ public_key: "A".repeat(8192), template: "api_key" }),
  });
  assertEquals(r.status, 413);
  await r.body?.cancel();
});

Deno.test("a chunked request body without Content-Length is capped too (413); one under the cap works", async () => {
  await using w = await brokerWorld({ limits: { maxBody: 4096 } });
  /** A body sent in chunks of 1 KiB, so fetch sends no Content-Length. */
  const chunked = (text: string) => {
    const bytes = new TextEncoder().encode(text);
    return new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 1024) c.enqueue(bytes.slice(i, i + 1024));
        c.close();
      },
    });
  };
  const big = await w.api("/v1/sessions", {
    method: "POST",
    body: chunked(JSON.stringify({ public_key: "A".repeat(64 * 1024), template: "api_key" })),
  });
  assertEquals(big.status, 413);
  await big.body?.cancel();
  const small = await w.api("/v1/sessions", {
    method: "POST",
    body: chunked(JSON.stringify({ public_key: w.key.spki, template: "api_key" })),
  });
  assertEquals(small.status, 201, await small.text());
});

Deno.test("CSRF: a page reached at another address than the public URL still confirms", async () => {
  // The public URL differs from where this request arrives (a proxy in front, or a mistyped
  // LINKAUTH_BASE_URL): the browser's Origin is the address it loaded the page from.
  await using w = await brokerWorld({ baseUrl: "https://broker.example.test" });
  const local = `http://127.0.0.1:${w.broker.addr.port}`;
  const created = await fetch(`${local}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": KEY },
    body: JSON.stringify({ public_key: w.key.spki, template: "api_key" }),
  });
  const { code } = await created.json();
  const ok = await fetch(`${local}/v1/connect/${code}/confirm`, {
    method: "POST",
    headers: { origin: local, "sec-fetch-site": "same-origin" },
  });
  assertEquals(ok.status, 200);
  await ok.body?.cancel();
});

Deno.test("OAuth state bound to the browser: the callback needs the cookie set with the redirect (HttpOnly, SameSite=Lax, Secure on HTTPS)", async () => {
  for (const https of [false, true]) {
    await using w = await brokerWorld({
      providers: auth0,
      trustedProxies: https ? ["127.0.0.0/8"] : [],
    });
    const proto: Record<string, string> = https ? { "x-forwarded-proto": "https" } : {};
    const s = await w.createSession({ oauth_provider: "auth0" });
    const ct = await w.confirm(s.code);
    const go = await w.authorize(s.code, ct, proto);
    await go.body?.cancel();
    const set = go.headers.get("set-cookie") ?? "";
    assertMatch(set, /^mcs_cb_[0-9a-f]{16}=[A-Za-z0-9_-]{20,}; Path=\/v1\/oauth\/callback; /);
    assertMatch(set, /; HttpOnly; SameSite=Lax/);
    assertEquals(set.includes("; Secure"), https);
    const state = new URL(go.headers.get("location")!).searchParams.get("state")!;
    const callback = `${w.broker.url}/v1/oauth/callback?error=access_denied&state=${state}`;
    // Another browser (no cookie, or another value) is refused, and burns nothing.
    for (const cookie of [undefined, `${cookieOf(go).split("=")[0]}=forged-value-123456789`]) {
      const other = await fetch(callback, {
        redirect: "manual",
        headers: cookie ? { cookie, ...proto } : proto,
      });
      assertEquals(other.status, 400);
      assertEquals((await other.json()).title, "Browser Mismatch");
    }
    assertEquals((await (await w.poll(s)).json()).status, "confirmed");
    // The browser that started it finishes it; the cookie is cleared.
    const back = await fetch(callback, {
      redirect: "manual",
      headers: { cookie: cookieOf(go), ...proto },
    });
    await back.body?.cancel();
    assertEquals(back.status, 302);
    assertMatch(back.headers.get("set-cookie") ?? "", /^mcs_cb_[0-9a-f]{16}=; .*Max-Age=0/);
    w.clock.t += 6_000;
    assertEquals((await (await w.poll(s)).json()).status, "expired");
  }
});

Deno.test("browser binding re-checked inside the transition: a callback that read the session before the redirect bound it is refused", async () => {
  // A store whose reads of one session return a snapshot taken before the redirect, as a
  // callback racing the victim's redirect would see it; transitions see the real value.
  let clock = () => START;
  const inner = new MemoryCacheStore({ now: () => clock() });
  const stale = new Map<string, unknown>();
  const store: CacheStore = {
    get: <T>(key: string) =>
      stale.has(key) ? Promise.resolve(stale.get(key) as T) : inner.get<T>(key),
    set: (k, v, o) => inner.set(k, v, o),
    delete: (k) => inner.delete(k),
    update: (k, fn) => inner.update(k, fn),
    keys: (p) => inner.keys(p),
    clear: (p) => inner.clear(p),
  };
  await using w = await brokerWorld({ providers: auth0, store });
  clock = () => w.clock.t;
  const s = await w.createSession({
    oauth_provider: "auth0",
    custom_authorize_url: "https://tenant.example.test/connect?ticket=race",
    custom_callback_params: ["connect_code"],
    custom_state: "race-state",
  });
  const ct = await w.confirm(s.code);
  const key = (await inner.keys()).find((k) => k.includes(`session/${s.session_id}`))!;
  assert(key, "the session's entry");
  stale.set(key, await inner.get(key)); // confirmed, not yet redirected: no binding
  const go = await w.authorize(s.code, ct); // the victim's browser: binding set
  await go.body?.cancel();
  const forged = await fetch(
    `${w.broker.url}/v1/oauth/callback?connect_code=attacker&state=race-state`,
    { redirect: "manual" },
  );
  assertEquals(forged.status, 400);
  assertEquals((await forged.json()).title, "Browser Mismatch");
  stale.clear();
  assertEquals((await (await w.poll(s)).json()).status, "confirmed");
  const back = await fetch(
    `${w.broker.url}/v1/oauth/callback?connect_code=real&state=race-state`,
    { redirect: "manual", headers: { cookie: cookieOf(go) } },
  );
  await back.body?.cancel();
  assertEquals(back.status, 302);
});

/** What Chromium sends as `Accept` when a person opens a link. */
const BROWSER_ACCEPT =
  "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

Deno.test("Browser Mismatch: a browser gets a readable page (the connect page's headers, no inline script, no state, code or id); JSON clients get the problem", async () => {
  await using w = await brokerWorld({ providers: auth0 });
  const s = await w.createSession({ oauth_provider: "auth0" });
  const ct = await w.confirm(s.code);
  const go = await w.authorize(s.code, ct);
  await go.body?.cancel();
  const state = new URL(go.headers.get("location")!).searchParams.get("state")!;
  const callback = `${w.broker.url}/v1/oauth/callback?code=provider-code-5678&state=${state}`;
  const page = await fetch(callback, { redirect: "manual", headers: { accept: BROWSER_ACCEPT } });
  const html = await page.text();
  assertEquals(page.status, 400);
  assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
  const connectPage = await fetch(`${w.broker.url}/connect`);
  await connectPage.body?.cancel();
  for (
    const h of [
      "content-security-policy",
      "x-frame-options",
      "x-content-type-options",
      "referrer-policy",
      "cache-control",
    ]
  ) {
    assertEquals(page.headers.get(h), connectPage.headers.get(h), h);
  }
  assertEquals(page.headers.get("set-cookie"), null);
  // What happened and what to do, in plain words.
  const text = html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
  assertMatch(text, /started in a different browser/);
  assertMatch(text, /browser where you (started|pressed Continue)/);
  assertMatch(text, /ask your agent for a new code/i);
  // Scripts only from the broker's own file (the CSP has no 'unsafe-inline' for scripts).
  assertEquals(html.match(/<script(?![^>]*\ssrc="\/static\/connect\.js")[^>]*>/g), null);
  for (
    const secret of [
      state,
      s.code,
      s.code.replace("-", ""),
      s.session_id,
      s.poll_token,
      ct,
      cookieOf(go).split("=")[1],
      "provider-code-5678",
    ]
  ) {
    assert(!html.includes(secret), `a secret in the page: ${secret.slice(0, 6)}…`);
  }
  // A client that asks for JSON (and one that does not say) gets the problem document.
  for (const accept of ["application/json", undefined]) {
    const res = await fetch(callback, {
      redirect: "manual",
      headers: accept ? { accept } : {},
    });
    assertEquals(res.status, 400);
    assertEquals(res.headers.get("content-type"), "application/problem+json");
    assertEquals((await res.json()).title, "Browser Mismatch");
  }
  // Nothing was used up: the browser that started it still finishes it (here: declines).
  const back = await fetch(`${w.broker.url}/v1/oauth/callback?error=access_denied&state=${state}`, {
    redirect: "manual",
    headers: { cookie: cookieOf(go), accept: BROWSER_ACCEPT },
  });
  await back.body?.cancel();
  assertEquals(back.status, 302);
});

Deno.test("a trusted proxy that sends no X-Forwarded-For is named in the log, once (all its clients share one guess limit)", async () => {
  await using w = await brokerWorld({ trustedProxies: ["127.0.0.1"] });
  const forwarded = await fetch(`${w.broker.url}/v1/connect/AAAA-0000`, {
    headers: { "x-forwarded-for": "198.51.100.7" },
  });
  await forwarded.body?.cancel();
  assertEquals(w.log.filter((l) => l.includes("X-Forwarded-For")), []);
  for (let i = 0; i < 3; i++) {
    const bare = await fetch(`${w.broker.url}/v1/connect/AAAA-000${i}`);
    await bare.body?.cancel();
  }
  const said = w.log.filter((l) => l.includes("X-Forwarded-For"));
  assertEquals(said.length, 1, said.join("\n"));
  assertStringIncludes(said[0], "127.0.0.1");
  assertStringIncludes(said[0], "proxy_set_header X-Forwarded-For");
});
