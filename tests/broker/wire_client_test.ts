/**
 * A client written only from the wire protocol (reference sections 4 and 6, plain `fetch` and
 * WebCrypto in this file, nothing from `lib/auth`) against the production broker: a form session
 * (the page's envelope made here), an OAuth session where the broker is the confidential client
 * and encrypts the token response to the agent key, passthrough capture, slow_down, ready-once,
 * and `/v1/proxy`. The broker's envelope is also pinned on a known-answer vector made by an
 * independent implementation (Python `cryptography`).
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { openForAgent, sealForAgent } from "../../lib/broker/envelope.ts";
import { brokerWorld, cookieOf, openEnvelope, pageEnvelope } from "./_world.ts";

const KAT = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/envelope_kat.json", import.meta.url)),
);

Deno.test("envelope known answer: the broker opens Python cryptography's envelope, refuses a tampered one", async () => {
  assertEquals(await openForAgent(KAT.pkcs8, KAT.envelope), KAT.plaintext);
  await assertRejects(() => openForAgent(KAT.pkcs8, KAT.tampered));
});

Deno.test("envelope: what the broker seals opens with plain WebCrypto and the agent key", async () => {
  const der = Uint8Array.from(atob(KAT.pkcs8), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey(
    "pkcs8",
    der,
    { name: "RSA-OAEP", hash: "SHA-256" },
    false,
    ["decrypt"],
  );
  const sealed = await sealForAgent(KAT.spki, { refresh_token: "rt-\u00e9" });
  assertEquals(await openEnvelope(key, sealed), { refresh_token: "rt-\u00e9" });
});

Deno.test("wire client: form session, slow_down, ready once, then consumed", async () => {
  await using w = await brokerWorld();
  const s = await w.createSession({ template: "basic_auth" });
  assertEquals(s.url, `${w.broker.url}/connect/${s.code}`);
  assertEquals(s.interval, 5);
  const first = await (await w.poll(s)).json();
  assertEquals([first.status, first.ciphertext], ["pending", null]);
  const fast = await w.poll(s);
  const slow = await fast.json();
  assertEquals([fast.status, slow.type, slow.interval], [
    429,
    "urn:ietf:params:oauth:error:slow_down",
    10,
  ]);
  // The person: look the code up (any case, no hyphen), confirm, encrypt, submit.
  const info =
    await (await fetch(`${w.broker.url}/v1/connect/${s.code.replace("-", "").toLowerCase()}`))
      .json();
  assertEquals([info.code, info.template_type, info.public_key], [s.code, "form", w.key.spki]);
  const ct = await w.confirm(s.code);
  const done = await w.complete(s.code, {
    ciphertext: await pageEnvelope(info.public_key, { username: "ada", password: "pw" }),
    algorithm: "RSA-OAEP-256+AES-256-GCM",
    connect_token: ct,
  });
  assertEquals(done.status, 204);
  w.clock.t += 5_000;
  const ready = await (await w.poll(s)).json();
  assertEquals([ready.status, ready.interval, ready.algorithm], [
    "ready",
    null,
    "RSA-OAEP-256+AES-256-GCM",
  ]);
  assertEquals(await openEnvelope(w.key.privateKey, ready.ciphertext), {
    username: "ada",
    password: "pw",
  });
  w.clock.t += 5_000;
  const after = await (await w.poll(s)).json();
  assertEquals([after.status, after.ciphertext], ["consumed", null]);
  w.clock.t += 60_000;
  assertEquals((await w.poll(s)).status, 404);
  assertEquals(w.metrics.get("sessions_created"), 1);
  assertEquals(w.metrics.get("sessions_completed"), 1);
  assertEquals(w.metrics.get("sessions_consumed"), 1);
});

Deno.test("wire client: OAuth session — the broker exchanges the code and encrypts the tokens to the agent", async () => {
  const seen: URLSearchParams[] = [];
  const provider = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const form = new URLSearchParams(await req.text());
    seen.push(form);
    assertEquals(req.headers.get("authorization"), `Basic ${btoa("cid:csecret")}`);
    return Response.json({
      access_token: "at-1",
      refresh_token: "rt-1",
      token_type: "Bearer",
      expires_in: 3600,
    });
  });
  const idp = `http://127.0.0.1:${provider.addr.port}`;
  try {
    await using w = await brokerWorld({
      providers: (n) =>
        Promise.resolve(
          n === "auth0"
            ? {
              authorizeUrl: `${idp}/authorize`,
              tokenUrl: `${idp}/oauth/token`,
              clientId: "cid",
              clientSecret: "csecret",
            }
            : undefined,
        ),
    });
    const s = await w.createSession({
      oauth_provider: "auth0",
      oauth_scopes: ["openid", "offline_access"],
      oauth_extra_params: { audience: "https://api" },
    });
    const ct = await w.confirm(s.code);
    const go = await w.authorize(s.code, ct);
    const to = new URL(go.headers.get("location")!);
    assertEquals(to.searchParams.get("redirect_uri"), `${w.broker.url}/v1/oauth/callback`);
    assertEquals([to.searchParams.get("scope"), to.searchParams.get("audience")], [
      "openid offline_access",
      "https://api",
    ]);
    const back = await fetch(
      `${w.broker.url}/v1/oauth/callback?code=c1&state=${to.searchParams.get("state")}`,
      { redirect: "manual", headers: { cookie: cookieOf(go) } }, // the browser's cookie
    );
    assertEquals(back.headers.get("location"), `${w.broker.url}/connect/${s.code}?status=success`);
    assertEquals(seen[0].get("code"), "c1");
    // PKCE: the verifier matches the challenge sent to the provider.
    const digest = new Uint8Array(
      await crypto.subtle.digest(
        "SHA-256",
        new TextEncoder().encode(seen[0].get("code_verifier")!),
      ),
    );
    const challenge = btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_")
      .replace(/=+$/, "");
    assertEquals(to.searchParams.get("code_challenge"), challenge);
    const ready = await (await w.poll(s)).json();
    const tokens = await openEnvelope(w.key.privateKey, ready.ciphertext) as Record<
      string,
      unknown
    >;
    assertEquals([tokens.access_token, tokens.refresh_token, tokens.expires_at], [
      "at-1",
      "rt-1",
      Math.floor(w.clock.t / 1000) + 3600,
    ]);
  } finally {
    await provider.shutdown();
  }
});

Deno.test("wire client: passthrough captures the callback parameters; /v1/proxy relays", async () => {
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new Response(`echo ${req.method} ${new URL(req.url).pathname}`, {
        status: 201,
        headers: { "x-up": "1" },
      }),
  );
  try {
    await using w = await brokerWorld({ allowPrivate: true });
    const s = await w.createSession({
      template: "custom",
      fields: [{ name: "unused", label: "Unused" }],
      custom_authorize_url: "https://tenant.example.test/connect?ticket=abc",
      custom_callback_params: ["connect_code"],
      custom_state: "my-state",
    });
    const ct = await w.confirm(s.code);
    const go = await w.authorize(s.code, ct);
    assertEquals(go.headers.get("location"), "https://tenant.example.test/connect?ticket=abc");
    const back = await fetch(`${w.broker.url}/v1/oauth/callback?connect_code=cc-1&state=my-state`, {
      redirect: "manual",
      headers: { cookie: cookieOf(go) },
    });
    assertEquals(back.status, 302);
    const ready = await (await w.poll(s)).json();
    assertEquals(await openEnvelope(w.key.privateKey, ready.ciphertext), { connect_code: "cc-1" });

    const r = await w.api("/v1/proxy", {
      method: "POST",
      body: JSON.stringify({
        method: "POST",
        url: `http://127.0.0.1:${upstream.addr.port}/x`,
        body: "{}",
        headers: { "content-type": "application/json" },
      }),
    });
    const wrapped = await r.json();
    assertEquals([r.status, wrapped.status_code, wrapped.body, wrapped.headers["x-up"]], [
      200,
      201,
      "echo POST /x",
      "1",
    ]);
    assert(w.metrics.get("proxy_calls", { outcome: "relayed" }) === 1);
  } finally {
    await upstream.shutdown();
  }
});

Deno.test("metrics: Prometheus text with the session, proxy and rate-limit counters; expired counted by the sweep", async () => {
  await using w = await brokerWorld();
  await w.createSession({ template: "api_key" });
  w.clock.t += 601_000;
  await w.broker.handler.sweep();
  const text = await (await fetch(`${w.broker.url}/metrics`)).text();
  for (
    const line of [
      "mcs_broker_sessions_created_total 1",
      "mcs_broker_sessions_expired_total 1",
      "# TYPE mcs_broker_sessions_denied_total counter",
      "# TYPE mcs_broker_proxy_calls_total counter",
      "# TYPE mcs_broker_rate_limited_total counter",
    ]
  ) assert(text.includes(line), `${line} in\n${text}`);
});
