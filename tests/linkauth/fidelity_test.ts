/**
 * Fidelity of the LinkAuth emulator to the real v0.2 broker (reference `linkauth.md` sections
 * 1–10 and the checklist in 16), and the connector's handling of real-broker answers the
 * emulator never gives (a tiny fake broker stands in for those).
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { encodeBase64 } from "../../lib/encoding/base64.ts";
import {
  decryptEnvelope,
  encryptEnvelope,
  generateAgentKey,
} from "../../lib/auth/linkauth/crypto.ts";
import { LinkAuthConnector } from "../../lib/auth/linkauth/connector.ts";
import { LinkAuthRelay } from "../../lib/auth/linkauth/relay.ts";
import { AuthChallenge } from "../../lib/auth/types.ts";
import { MemoryCacheStore } from "../../lib/cache/memory.ts";
import { ConfigError, McsError } from "../../lib/errors.ts";
import {
  fnmatchcase,
  type LinkAuthBrokerOptions,
  startLinkAuthBroker,
} from "../../lib/emulators/linkauth/mod.ts";
import { UNREACHABLE_AUTH0 } from "../support/emulators.ts";
import { agentKey } from "../broker/_world.ts";

const key = await generateAgentKey();

interface Reply {
  status: number;
  type: string | null;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

async function call(
  url: string,
  init: { method?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const res = await fetch(url, {
    method: init.method ?? (init.body !== undefined || init.raw !== undefined ? "POST" : "GET"),
    headers: {
      ...(init.body !== undefined || init.raw !== undefined
        ? { "content-type": "application/json" }
        : {}),
      ...init.headers,
    },
    body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
    redirect: "manual",
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, type: res.headers.get("content-type"), headers: res.headers, body };
}

async function withBroker(
  options: LinkAuthBrokerOptions,
  fn: (b: Awaited<ReturnType<typeof startLinkAuthBroker>>) => Promise<void>,
) {
  const broker = await startLinkAuthBroker(options);
  try {
    await fn(broker);
  } finally {
    await broker.close();
  }
}

const create = (url: string, body: Record<string, unknown> = {}, headers = {}) =>
  call(`${url}/v1/sessions`, {
    body: { public_key: key.spki, template: "api_key", ...body },
    headers,
  });

// -- routes and the three error shapes -------------------------------------------------------------

Deno.test("route set: methods, 404/405 bodies, HEAD, the HTML page outside /v1", async () => {
  await withBroker({}, async (b) => {
    const id = "0".repeat(64);
    const table: [string, string, number, unknown][] = [
      ["GET", "/health", 200, { status: "ok" }],
      ["HEAD", "/health", 200, null],
      ["POST", "/health", 405, { detail: "Method Not Allowed" }],
      ["GET", "/v1/sessions", 405, { detail: "Method Not Allowed" }],
      ["DELETE", `/v1/sessions/${id}`, 405, { detail: "Method Not Allowed" }],
      ["GET", `/v1/sessions/${id}/webhook`, 405, { detail: "Method Not Allowed" }],
      ["GET", "/v1/proxy", 405, { detail: "Method Not Allowed" }],
      ["GET", "/v1/connect/ABCD-1234/confirm", 405, { detail: "Method Not Allowed" }],
      ["GET", "/v1/nope", 404, { detail: "Not Found" }],
      ["GET", "/v1/connect/resolve/x", 404, { detail: "Not Found" }],
      ["POST", `/v1/sessions/${id}/webhook?token=wt_x`, 404, {
        type: "about:blank",
        title: "Session Not Found",
        status: 404,
        detail: "Session not found or expired.",
      }],
    ];
    for (const [method, path, status, body] of table) {
      const r = await call(`${b.url}${path}`, { method });
      assertEquals([r.status, r.body], [status, body], `${method} ${path}`);
    }
    const allow = await call(`${b.url}/v1/sessions`, { method: "GET" });
    assertEquals(allow.headers.get("allow"), "POST");
    const page = await call(`${b.url}/connect/ANY-THING`);
    assertEquals([page.status, page.type], [200, "text/html; charset=utf-8"]);
    const problem = await call(`${b.url}/v1/sessions/${id}`, {
      headers: { authorization: "Bearer x" },
    });
    assertEquals(problem.type, "application/problem+json");
    assertEquals(Object.keys(problem.body), ["type", "title", "status", "detail"]);
  });
});

Deno.test("create: order of checks and exact errors (section 4.1, 2.2)", async () => {
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const ecSpki = encodeBase64(new Uint8Array(await crypto.subtle.exportKey("spki", ec.publicKey)));
  const spki1024 = (await agentKey(1024)).spki;
  const K = { "x-api-key": "k" };
  type Row = [
    string,
    { raw?: string; body?: unknown; headers?: Record<string, string> },
    number,
    unknown,
  ];
  const problem = (status: number, title: string, detail: string) => ({
    type: "about:blank",
    title,
    status,
    detail,
  });
  const invalidKey = (detail: string) => problem(400, "Invalid Public Key", detail);
  const table: Row[] = [
    // 0: malformed JSON is a 422 even before the API key
    [
      "malformed JSON, no key",
      { raw: "{nope" },
      422,
      (b: Reply["body"]) => b.detail[0].type === "json_invalid",
    ],
    ["schema-invalid, no key", { body: { template: "x" } }, 401, {
      detail: problem(
        401,
        "API Key Required",
        "Missing X-API-Key header. Provide a valid API key to access this endpoint.",
      ),
    }],
    ["schema-invalid, bad key", { body: {}, headers: { "x-api-key": "bad" } }, 403, {
      detail: problem(403, "Invalid API Key", "The provided API key is not valid."),
    }],
    ["public_key missing", { body: { template: "api_key" }, headers: K }, 422, {
      detail: [{
        type: "missing",
        loc: ["body", "public_key"],
        msg: "Field required",
        input: { template: "api_key" },
      }],
    }],
    ["public_key not a string", { body: { public_key: 1 }, headers: K }, 422, {
      detail: [{
        type: "string_type",
        loc: ["body", "public_key"],
        msg: "Input should be a valid string",
        input: 1,
      }],
    }],
    [
      "ttl with a fraction",
      { body: { public_key: key.spki, template: "api_key", ttl: 1.5 }, headers: K },
      422,
      (b: Reply["body"]) => b.detail[0].type === "int_from_float",
    ],
    [
      "custom field without label",
      { body: { public_key: key.spki, fields: [{ name: "a" }] }, headers: K },
      422,
      (b: Reply["body"]) =>
        JSON.stringify(b.detail[0].loc) === '["body","fields",0,"label"]' &&
        b.detail[0].type === "missing",
    ],
    // 1: the public key
    [
      "blank key",
      { body: { public_key: "  " }, headers: K },
      400,
      invalidKey("public_key is required and must not be empty."),
    ],
    [
      "PEM",
      {
        body: { public_key: `-----BEGIN PUBLIC KEY-----\n${key.spki}\n-----END PUBLIC KEY-----` },
        headers: K,
      },
      400,
      invalidKey(
        "public_key is not valid base64. Expected base64-encoded DER (SubjectPublicKeyInfo).",
      ),
    ],
    [
      "not DER",
      { body: { public_key: encodeBase64(new Uint8Array([1, 2, 3])) }, headers: K },
      400,
      invalidKey(
        "public_key is not a valid public key. Expected RSA SubjectPublicKeyInfo in DER format.",
      ),
    ],
    [
      "EC key",
      { body: { public_key: ecSpki }, headers: K },
      400,
      invalidKey("public_key must be an RSA key, got ECPublicKey."),
    ],
    [
      "RSA-1024",
      { body: { public_key: spki1024 }, headers: K },
      400,
      invalidKey("RSA key too small (1024 bits). Minimum is 2048 bits."),
    ],
    // 2: the template
    [
      "no template",
      { body: { public_key: key.spki }, headers: K },
      400,
      problem(
        400,
        "Invalid Template",
        "Unknown template 'None' and no custom fields or OAuth provider provided",
      ),
    ],
    [
      "custom, no fields",
      { body: { public_key: key.spki, template: "custom", fields: [] }, headers: K },
      400,
      problem(
        400,
        "Invalid Template",
        "Unknown template 'custom' and no custom fields or OAuth provider provided",
      ),
    ],
    // 3 before 4: the callback URL is checked before the provider resolves
    [
      "http callback + unknown provider",
      {
        body: {
          public_key: key.spki,
          oauth_provider: "nope",
          callback_url: "http://example.com/cb",
        },
        headers: K,
      },
      400,
      problem(
        400,
        "Invalid Callback URL",
        "callback_url must use HTTPS in production. HTTP is only allowed for localhost.",
      ),
    ],
    [
      "unknown provider",
      { body: { public_key: key.spki, oauth_provider: "nope" }, headers: K },
      400,
      problem(
        400,
        "OAuth Provider Error",
        "OAuth provider 'nope' is not configured. Set OAUTH_NOPE_CLIENT_ID and OAUTH_NOPE_CLIENT_SECRET environment variables.",
      ),
    ],
    [
      "built-in OAuth template, provider not configured",
      { body: { public_key: key.spki, template: "google_mail" }, headers: K },
      400,
      problem(
        400,
        "OAuth Provider Error",
        "OAuth provider 'google' is not configured. Set OAUTH_GOOGLE_CLIENT_ID and OAUTH_GOOGLE_CLIENT_SECRET environment variables.",
      ),
    ],
    // deliberate: closes hole 10
    [
      "negative ttl",
      { body: { public_key: key.spki, template: "api_key", ttl: -5 }, headers: K },
      422,
      (b: Reply["body"]) => b.detail[0].type === "greater_than_equal",
    ],
    // accepted
    [
      "ttl as a string (pydantic lax)",
      { body: { public_key: key.spki, template: "api_key", ttl: "60" }, headers: K },
      201,
      (b: Reply["body"]) => typeof b.session_id === "string",
    ],
    [
      "aws template",
      { body: { public_key: key.spki, template: "aws" }, headers: K },
      201,
      (b: Reply["body"]) => typeof b.code === "string",
    ],
    [
      "localhost http callback",
      {
        body: { public_key: key.spki, template: "api_key", callback_url: "http://localhost:9/cb" },
        headers: K,
      },
      201,
      (b: Reply["body"]) => /^cs_[A-Za-z0-9_-]{43}$/.test(b.callback_secret),
    ],
  ];
  await withBroker({ apiKeys: ["k"] }, async (b) => {
    for (const [name, req, status, expected] of table) {
      const r = await call(`${b.url}/v1/sessions`, req);
      assertEquals(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
      if (typeof expected === "function") {
        assert(expected(r.body), `${name}: ${JSON.stringify(r.body)}`);
      } else assertEquals(r.body, expected, name);
      const ct = status === 400 ? "application/problem+json" : "application/json";
      assertEquals(r.type, ct, name);
    }
  });
});

Deno.test("create: all 8 fields with nulls; webhook URL; built-in form templates", async () => {
  await withBroker({ providers: { google: UNREACHABLE_AUTH0 } }, async (b) => {
    const plain = await create(b.url);
    assertEquals(Object.keys(plain.body), [
      "session_id",
      "code",
      "url",
      "poll_token",
      "expires_at",
      "interval",
      "callback_secret",
      "webhook_url",
    ]);
    assertEquals([plain.body.callback_secret, plain.body.webhook_url], [null, null]);
    const hook = await create(b.url, { enable_webhook: true });
    assertMatch(
      hook.body.webhook_url,
      new RegExp(
        `^${b.url}/v1/sessions/${hook.body.session_id}/webhook\\?token=wt_[A-Za-z0-9_-]{43}$`,
      ),
    );
    const table: [string, string, string, unknown[]][] = [
      ["aws", "form", "AWS Credentials", [
        {
          name: "access_key_id",
          label: "Access Key ID",
          type: "text",
          required: true,
          options: null,
        },
        {
          name: "secret_access_key",
          label: "Secret Access Key",
          type: "password",
          required: true,
          options: null,
        },
        { name: "region", label: "Region", type: "text", required: false, options: null },
      ]],
      ["openai", "form", "OpenAI", [
        {
          name: "api_key",
          label: "OpenAI API Key",
          type: "password",
          required: true,
          options: null,
        },
      ]],
      ["anthropic", "form", "Anthropic", [
        {
          name: "api_key",
          label: "Anthropic API Key",
          type: "password",
          required: true,
          options: null,
        },
      ]],
      ["google_mail", "oauth", "Google Mail", []],
    ];
    for (const [template, kind, name, fields] of table) {
      const s = await create(b.url, { template });
      assertEquals(s.status, 201, template);
      const info = await call(`${b.url}/v1/connect/${s.body.code}`);
      assertEquals(
        [info.body.template_type, info.body.display_name, info.body.fields],
        [kind, name, fields],
        template,
      );
    }
    assertEquals(b.sessions().find((s) => s.templateType === "oauth")?.oauthScopes, [
      "https://www.googleapis.com/auth/gmail.readonly",
    ]);
  });
});

// -- poll -----------------------------------------------------------------------------------------

Deno.test("poll: key, Bearer, 404, 403, slow_down (strict <, +5, no update on 429), ready once", async () => {
  const clock = { t: 1_000_000 };
  await withBroker({ apiKeys: ["k"], now: () => clock.t, pollInterval: 5 }, async (b) => {
    const s = (await create(b.url, {}, { "x-api-key": "k" })).body;
    const poll = (id: string, headers: Record<string, string>) =>
      call(`${b.url}/v1/sessions/${id}`, { headers });
    const bearer = (t: string) => ({ "x-api-key": "k", authorization: `Bearer ${t}` });
    const unknown = "f".repeat(64);
    const table: [string, number, string, Record<string, string>, number, string | null][] = [
      // [step, advance ms, id, headers, status, title]
      ["no API key beats no Bearer", 0, unknown, {}, 401, null],
      ["Bearer before 404", 0, unknown, { "x-api-key": "k" }, 401, "Unauthorized"],
      [
        "lower-case bearer is not Bearer",
        0,
        s.session_id,
        { "x-api-key": "k", authorization: `bearer ${s.poll_token}` },
        401,
        "Unauthorized",
      ],
      ["404 before 403", 0, unknown, bearer("pt_wrong"), 404, "Session Not Found"],
      ["403 for a wrong token", 0, s.session_id, bearer("pt_wrong"), 403, "Forbidden"],
      ["first poll accepted", 0, s.session_id, bearer(` ${s.poll_token} `), 200, null],
      ["too soon", 3_000, s.session_id, bearer(s.poll_token), 429, "Slow Down"],
      [
        "still measured from the last ACCEPTED poll",
        1_999,
        s.session_id,
        bearer(s.poll_token),
        429,
        "Slow Down",
      ],
      ["exactly interval later: not < interval", 1, s.session_id, bearer(s.poll_token), 200, null],
    ];
    for (const [step, advance, id, headers, status, title] of table) {
      clock.t += advance;
      const r = await poll(id, headers);
      assertEquals(r.status, status, step);
      if (title) assertEquals(r.body.title, title, step);
      if (status === 401 && title) assertEquals(r.headers.get("www-authenticate"), "Bearer", step);
      if (status === 401 && !title) assertEquals(r.body.detail.title, "API Key Required", step);
      if (status === 429) {
        assertEquals(r.body, {
          type: "urn:ietf:params:oauth:error:slow_down",
          title: "Slow Down",
          status: 429,
          detail: "Polling too frequently. Increase your polling interval.",
          interval: 10,
        }, step);
        assertEquals(r.headers.get("retry-after"), null, step);
      }
      if (status === 200) {
        assertEquals(r.body, {
          status: "pending",
          expires_at: s.expires_at,
          interval: 5,
          ciphertext: null,
          algorithm: null,
        }, step);
      }
    }
    await b.complete(s.code, { api_key: "v" });
    clock.t += 5_000;
    const ready = await poll(s.session_id, bearer(s.poll_token));
    assertEquals(Object.keys(ready.body), [
      "status",
      "expires_at",
      "interval",
      "ciphertext",
      "algorithm",
    ]);
    assertEquals([ready.body.status, ready.body.interval, ready.body.algorithm], [
      "ready",
      null,
      "RSA-OAEP-256+AES-256-GCM",
    ]);
    assertEquals(await decryptEnvelope(key.privateKey, ready.body.ciphertext), { api_key: "v" });
    // The real broker drops the slow_down entry on consumption: no 429 right after `ready`.
    const consumed = await poll(s.session_id, bearer(s.poll_token));
    assertEquals([
      consumed.status,
      consumed.body.status,
      consumed.body.interval,
      consumed.body.ciphertext,
    ], [
      200,
      "consumed",
      5,
      null,
    ]);
  });
});

// -- connect, confirm, complete, authorize --------------------------------------------------------

Deno.test("connect/confirm/complete: statuses, titles and order (4.3–4.5)", async () => {
  await withBroker({}, async (b) => {
    const s = (await create(b.url)).body;
    const [c1, c2] = s.code.split("-");
    const problem = (status: number, title: string, detail: string) => ({
      type: "about:blank",
      title,
      status,
      detail,
    });
    const gone = "ZZZZ-ZZZ9";
    // [step, method, path, body, status, expected body or predicate]
    const table: [string, string, string, unknown, number, unknown][] = [
      [
        "lower-case, no hyphen finds it",
        "GET",
        `/v1/connect/${(c1 + c2).toLowerCase()}`,
        undefined,
        200,
        (x: Reply["body"]) =>
          x.code === s.code && x.status === "pending" && x.oauth_url === null &&
          x.public_key === key.spki,
      ],
      [
        "complete: 422 before 404",
        "POST",
        `/v1/connect/${gone}/complete`,
        { connect_token: "ct_x" },
        422,
        (x: Reply["body"]) => x.detail[0].type === "missing" && x.detail[0].loc[1] === "ciphertext",
      ],
      [
        "complete: algorithm must be a string",
        "POST",
        `/v1/connect/${s.code}/complete`,
        { ciphertext: "c", connect_token: "t", algorithm: null },
        422,
        (x: Reply["body"]) => x.detail[0].type === "string_type",
      ],
      [
        "complete before confirm",
        "POST",
        `/v1/connect/${s.code}/complete`,
        { ciphertext: "c", connect_token: "t" },
        409,
        problem(409, "Session Not Completable", "Session is not in a completable state."),
      ],
      [
        "confirm unknown",
        "POST",
        `/v1/connect/${gone}/confirm`,
        undefined,
        404,
        problem(404, "Session Not Found", "Session not found or expired."),
      ],
      [
        "confirm",
        "POST",
        `/v1/connect/${s.code}/confirm`,
        undefined,
        200,
        (x: Reply["body"]) =>
          /^ct_[A-Za-z0-9_-]{43}$/.test(x.connect_token) && Object.keys(x).length === 1,
      ],
      [
        "a confirmed session is hidden",
        "GET",
        `/v1/connect/${s.code}`,
        undefined,
        404,
        problem(404, "Session Not Found", "Session not found or expired."),
      ],
      [
        "confirm twice",
        "POST",
        `/v1/connect/${s.code}/confirm`,
        undefined,
        409,
        problem(409, "Already Confirmed", "Session has already been confirmed."),
      ],
      [
        "authorize a form session",
        "GET",
        `/v1/oauth/authorize/${s.code}?connect_token=TOKEN`,
        undefined,
        400,
        problem(400, "Not an OAuth Session", "This session does not use OAuth."),
      ],
      [
        "complete, wrong token",
        "POST",
        `/v1/connect/${s.code}/complete`,
        { ciphertext: "c", connect_token: "ct_wrong" },
        403,
        problem(
          403,
          "Invalid Connect Token",
          "Invalid connect_token. Re-confirm the session code.",
        ),
      ],
      // The failed authorize above did not consume the token.
      [
        "complete",
        "POST",
        `/v1/connect/${s.code}/complete`,
        { ciphertext: "c", connect_token: "TOKEN" },
        204,
        null,
      ],
      [
        "ready is gone",
        "GET",
        `/v1/connect/${s.code}`,
        undefined,
        410,
        problem(410, "Session Gone", "Session already completed."),
      ],
      [
        "confirm a ready session",
        "POST",
        `/v1/connect/${s.code}/confirm`,
        undefined,
        409,
        problem(409, "Already Confirmed", "Session has already been confirmed."),
      ],
    ];
    let token = "";
    for (const [step, method, path, body, status, expected] of table) {
      const r = await call(`${b.url}${path.replace("TOKEN", token)}`, {
        method,
        body: body === undefined
          ? undefined
          : JSON.parse(JSON.stringify(body).replace("TOKEN", token)),
      });
      assertEquals(r.status, status, `${step}: ${JSON.stringify(r.body)}`);
      if (typeof expected === "function") assert(expected(r.body), step);
      else assertEquals(r.body, expected, step);
      if (step === "confirm") token = r.body.connect_token;
    }
    assertEquals(b.session(s.code)?.algorithm, "RSA-OAEP-256+AES-256-GCM", "algorithm defaulted");
  });
});

Deno.test("connect: 10 requests per 60 s per (client, raw code), rejected ones included", async () => {
  const clock = { t: 1_000_000 };
  await withBroker({ now: () => clock.t }, async (b) => {
    const s = (await create(b.url)).body;
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      statuses.push((await call(`${b.url}/v1/connect/${s.code}`)).status);
    }
    assertEquals(statuses, [...Array(10).fill(200), 429]);
    const limited = await call(`${b.url}/v1/connect/${s.code}/confirm`, { method: "POST" });
    assertEquals([limited.status, limited.body.title, limited.body.detail], [
      429,
      "Too Many Requests",
      "Rate limit exceeded. Try again later.",
    ]);
    // Another raw spelling of the same code is another bucket.
    assertEquals((await call(`${b.url}/v1/connect/${s.code.toLowerCase()}`)).status, 200);
    clock.t += 60_001;
    assertEquals((await call(`${b.url}/v1/connect/${s.code}`)).status, 200);
  });
});

/** A GET with a chosen Host header (fetch cannot set one). */
async function rawGet(port: number, path: string, host: string, extra = "") {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`,
    ),
  );
  const text = await new Response(conn.readable).text();
  return {
    head: text.slice(0, text.indexOf("\r\n\r\n")),
    body: JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)),
  };
}

Deno.test("connect: security mode from X-Forwarded-Proto, scheme, base URL and Host", async () => {
  await withBroker({}, async (b) => {
    const port = Number(new URL(b.url).port);
    const table: [string, string, unknown][] = [
      ["localhost", "", {
        secure: false,
        mode: "development",
        message: "Development mode -- connection is not encrypted. Do not enter real credentials.",
      }],
      ["[::1]:1", "", {
        secure: false,
        mode: "development",
        message: "Development mode -- connection is not encrypted. Do not enter real credentials.",
      }],
      ["broker.example", "", {
        secure: false,
        mode: "insecure",
        message:
          "WARNING: Connection is not encrypted (no TLS). Do not enter real credentials. Configure HTTPS or a reverse proxy before using in production.",
      }],
      ["broker.example", "X-Forwarded-Proto: https\r\n", {
        secure: true,
        mode: "production",
        message: null,
      }],
    ];
    for (const [host, extra, expected] of table) {
      const s = (await create(b.url)).body;
      const r = await rawGet(port, `/v1/connect/${s.code}`, host, extra);
      assertEquals(r.body.security, expected, `${host} ${extra}`);
      assertEquals(
        /strict-transport-security: max-age=31536000; includeSubDomains/i.test(r.head),
        expected && (expected as { secure: boolean }).secure,
        `HSTS ${host}`,
      );
    }
  });
});

// -- OAuth and passthrough ------------------------------------------------------------------------

Deno.test("authorize and callback: errors and passthrough capture rules (4.6, 4.7, 7.3)", async () => {
  await withBroker(
    { providers: { auth0: UNREACHABLE_AUTH0 }, allowedHosts: ["auth.example"] },
    async (b) => {
      const problem = (status: number, title: string, detail: string) => ({
        type: "about:blank",
        title,
        status,
        detail,
      });
      const table: [string, string, unknown][] = [
        [
          "error wins",
          "?error=access_denied&state=x",
          problem(400, "OAuth Authorization Failed", "Authorization was not completed."),
        ],
        ["nothing", "", problem(400, "Invalid Callback", "Missing state or code parameter.")],
        [
          "unknown state",
          "?state=nope&code=c",
          problem(
            400,
            "Invalid State",
            "OAuth state parameter not recognized. Session may have expired.",
          ),
        ],
        [
          "code only",
          "?code=c",
          problem(
            400,
            "Invalid State",
            "OAuth state parameter not recognized. Session may have expired.",
          ),
        ],
      ];
      for (const [name, query, expected] of table) {
        const r = await call(`${b.url}/v1/oauth/callback${query}`);
        assertEquals([r.status, r.body], [400, expected], name);
      }
      const s = (await create(b.url, { template: null, oauth_provider: "auth0" })).body;
      const early = await call(`${b.url}/v1/oauth/authorize/${s.code}?connect_token=x`);
      assertEquals([early.status, early.body.title], [409, "Code Not Confirmed"]);
      await call(`${b.url}/v1/connect/${s.code}/confirm`, { method: "POST" });
      const empty = await call(`${b.url}/v1/oauth/authorize/${s.code}?connect_token=`);
      assertEquals([empty.status, empty.body.detail], [
        403,
        "Invalid or missing connect_token. Re-confirm the session code.",
      ]);

      // Passthrough: [custom_callback_params, callback query, captured plaintext]
      const capture: [string[] | null, string, Record<string, string>][] = [
        [["connect_code"], "connect_code=cc-1&code=ignored", { connect_code: "cc-1" }],
        [["connect_code"], "code=c-2", { connect_code: "", code: "c-2" }],
        [["a", "b"], "b=2", { a: "", b: "2" }],
        [null, "code=c-3", { code: "c-3" }],
        [["connect_code"], "", { connect_code: "", code: "" }],
      ];
      for (const [i, [params, query, plaintext]] of capture.entries()) {
        const state = `st-${i}`;
        const p = (await create(b.url, {
          template: null,
          oauth_provider: "auth0",
          custom_authorize_url: `https://auth.example/connect?ticket=${i}`,
          custom_callback_params: params,
          custom_state: state,
        })).body;
        const { connect_token } =
          (await call(`${b.url}/v1/connect/${p.code}/confirm`, { method: "POST" })).body;
        const go = await call(
          `${b.url}/v1/oauth/authorize/${p.code}?connect_token=${connect_token}`,
        );
        assertEquals([go.status, go.headers.get("location")], [
          302,
          `https://auth.example/connect?ticket=${i}`,
        ]);
        const back = await call(
          `${b.url}/v1/oauth/callback?state=${state}${query ? "&" + query : ""}`,
        );
        assertEquals([back.status, back.headers.get("location")], [
          302,
          `${b.url}/connect/${p.code}?status=success`,
        ]);
        const polled = await call(`${b.url}/v1/sessions/${p.session_id}`, {
          headers: { authorization: `Bearer ${p.poll_token}` },
        });
        assertEquals(
          await decryptEnvelope(key.privateKey, polled.body.ciphertext),
          plaintext,
          query,
        );
        // the verifier was popped: a replay is an unknown state
        const again = await call(`${b.url}/v1/oauth/callback?state=${state}&code=x`);
        assertEquals(again.body.title, "Invalid State");
      }
    },
  );
});

Deno.test("the code exchange uses client_secret_basic, PKCE and the callback redirect_uri", async () => {
  let seen: { auth: string | null; form: Record<string, string> } | undefined;
  const as = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    seen = {
      auth: req.headers.get("authorization"),
      form: Object.fromEntries(new URLSearchParams(await req.text())),
    };
    return Response.json({
      access_token: "at",
      refresh_token: "rt",
      token_type: "Bearer",
      expires_in: 60,
    });
  });
  const clock = { t: 1_700_000_000_000 };
  try {
    await withBroker({
      now: () => clock.t,
      providers: {
        p: {
          authorizeUrl: "https://as.example/authorize",
          tokenUrl: `http://127.0.0.1:${as.addr.port}/token`,
          clientId: "id/1",
          clientSecret: "s:2",
        },
      },
    }, async (b) => {
      const s = (await create(b.url, {
        template: null,
        oauth_provider: "p",
        oauth_scopes: ["openid", "offline_access"],
        oauth_extra_params: { audience: "https://api" },
      })).body;
      const { connect_token } =
        (await call(`${b.url}/v1/connect/${s.code}/confirm`, { method: "POST" })).body;
      const go = await call(`${b.url}/v1/oauth/authorize/${s.code}?connect_token=${connect_token}`);
      const to = new URL(go.headers.get("location")!);
      assertEquals(
        ["response_type", "client_id", "redirect_uri", "scope", "code_challenge_method", "audience"]
          .map((k) => to.searchParams.get(k)),
        [
          "code",
          "id/1",
          `${b.url}/v1/oauth/callback`,
          "openid offline_access",
          "S256",
          "https://api",
        ],
      );
      const back = await call(
        `${b.url}/v1/oauth/callback?state=${to.searchParams.get("state")}&code=the-code`,
      );
      assertEquals(back.status, 302);
      assertEquals(seen!.auth, `Basic ${btoa("id%2F1:s%3A2")}`);
      assertEquals(seen!.form.grant_type, "authorization_code");
      assertEquals(seen!.form.code, "the-code");
      assertEquals(seen!.form.redirect_uri, `${b.url}/v1/oauth/callback`);
      const challenge = encodeBase64(
        new Uint8Array(
          await crypto.subtle.digest("SHA-256", new TextEncoder().encode(seen!.form.code_verifier)),
        ),
      )
        .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      assertEquals(challenge, to.searchParams.get("code_challenge"));
      assertEquals(seen!.form.code_verifier.length, 86);
      const polled = await call(`${b.url}/v1/sessions/${s.session_id}`, {
        headers: { authorization: `Bearer ${s.poll_token}` },
      });
      assertEquals(await decryptEnvelope(key.privateKey, polled.body.ciphertext), {
        access_token: "at",
        refresh_token: "rt",
        token_type: "Bearer",
        expires_in: 60,
        expires_at: 1_700_000_060,
      });
    });
  } finally {
    await as.shutdown();
  }
});

// -- webhook and callback delivery ----------------------------------------------------------------

Deno.test("webhook: 404/403/403/413 order, {headers, body, content_type} plaintext", async () => {
  await withBroker({ maxWebhookPayload: 16 }, async (b) => {
    const s = (await create(b.url, { enable_webhook: true })).body;
    const other = (await create(b.url)).body;
    const hookUrl = new URL(s.webhook_url);
    const post = (url: string, body: string, type = "text/plain") =>
      call(url, { method: "POST", raw: body, headers: { "content-type": type, "x-event": "e1" } });
    const table: [string, string, number, string][] = [
      [
        "unknown session",
        `${b.url}/v1/sessions/${"a".repeat(64)}/webhook?token=x`,
        404,
        "Session Not Found",
      ],
      [
        "not enabled",
        `${b.url}/v1/sessions/${other.session_id}/webhook?token=${
          hookUrl.searchParams.get("token")
        }`,
        403,
        "Webhook Not Enabled",
      ],
      [
        "wrong token",
        `${b.url}/v1/sessions/${s.session_id}/webhook?token=wt_nope`,
        403,
        "Invalid Webhook Token",
      ],
    ];
    for (const [name, url, status, title] of table) {
      const r = await post(url, "hi");
      assertEquals([r.status, r.body.title], [status, title], name);
    }
    const big = await post(s.webhook_url, "x".repeat(17));
    assertEquals([big.status, big.body.detail], [
      413,
      "Webhook payload exceeds the maximum allowed size of 16 bytes.",
    ]);
    const ok = await post(s.webhook_url, "héllo", "text/x-test");
    assertEquals([ok.status, ok.body], [200, { status: "accepted", session_id: s.session_id }]);
    const polled = await call(`${b.url}/v1/sessions/${s.session_id}`, {
      headers: { authorization: `Bearer ${s.poll_token}` },
    });
    const plain = await decryptEnvelope(key.privateKey, polled.body.ciphertext) as Record<
      string,
      Record<string, string>
    >;
    assertEquals([plain.body, plain.content_type, plain.headers["x-event"]], [
      "héllo",
      "text/x-test",
      "e1",
    ]);
  });
});

Deno.test("callback_url delivery: signed compact JSON, one delivery id, retried on 5xx only", async () => {
  const got: { id: string | null; sig: string | null; body: string }[] = [];
  const answers = [503, 200];
  const sink = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push({
      id: req.headers.get("x-linkauth-delivery-id"),
      sig: req.headers.get("x-linkauth-signature"),
      body: await req.text(),
    });
    return new Response(null, { status: answers.shift() ?? 400 });
  });
  try {
    await withBroker({}, async (b) => {
      const s =
        (await create(b.url, { callback_url: `http://localhost:${sink.addr.port}/cb` })).body;
      const { connect_token } =
        (await call(`${b.url}/v1/connect/${s.code}/confirm`, { method: "POST" })).body;
      await call(`${b.url}/v1/connect/${s.code}/complete`, {
        body: { ciphertext: "Y3Q=", connect_token },
      });
      await b.deliveriesSettled();
      assertEquals(got.length, 2, "one retry after the 503, none after the 200");
      assertEquals(got[0].id, got[1].id);
      assertEquals(
        got[0].body,
        `{"session_id":"${s.session_id}","status":"ready","ciphertext":"Y3Q=","algorithm":"RSA-OAEP-256+AES-256-GCM"}`,
      );
      const hmac = await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(s.callback_secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      const sig = Array.from(
        new Uint8Array(
          await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(got[0].body)),
        ),
        (x) => x.toString(16).padStart(2, "0"),
      ).join("");
      assertEquals(got[0].sig, `sha256=${sig}`);
      // a 4xx stops at once; the session still polls once
      const t =
        (await create(b.url, { callback_url: `http://127.0.0.1:${sink.addr.port}/cb` })).body;
      await b.complete(t.code, { x: "1" });
      await b.deliveriesSettled();
      assertEquals(got.length, 3);
      const polled = await call(`${b.url}/v1/sessions/${s.session_id}`, {
        headers: { authorization: `Bearer ${s.poll_token}` },
      });
      assertEquals(polled.body.status, "ready");
    });
  } finally {
    await sink.shutdown();
  }
});

// -- proxy ----------------------------------------------------------------------------------------

Deno.test("proxy: 422s, 403/403/502/504, and the 200 wrapper (4.9)", async () => {
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      if (new URL(req.url).pathname === "/slow") await new Promise((r) => setTimeout(r, 1_500));
      const h = new Headers({ "X-Dup": "a", "content-type": "text/plain; charset=utf-8" });
      h.append("x-dup", "b");
      h.append("set-cookie", "a=1");
      h.append("set-cookie", "b=2");
      return new Response(`${req.method} ${await req.text()}`, { status: 500, headers: h });
    },
  );
  const up = `http://127.0.0.1:${upstream.addr.port}`;
  try {
    await withBroker({ allowedHosts: ["127.0.0.1"] }, async (b) => {
      const px = (body: unknown) => call(`${b.url}/v1/proxy`, { body });
      const table: [string, unknown, number, (x: Reply["body"]) => boolean][] = [
        [
          "bad method",
          { method: "get", url: up },
          422,
          (x) =>
            x.detail[0].type === "string_pattern_mismatch" &&
            x.detail[0].msg ===
              "String should match pattern '^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$'",
        ],
        [
          "timeout 0",
          { method: "GET", url: up, timeout: 0 },
          422,
          (x) => x.detail[0].msg === "Input should be greater than or equal to 1",
        ],
        [
          "timeout 121",
          { method: "GET", url: up, timeout: 121 },
          422,
          (x) => x.detail[0].msg === "Input should be less than or equal to 120",
        ],
        ["url missing", { method: "GET" }, 422, (x) => x.detail[0].type === "missing"],
        [
          "not on the allowlist",
          { method: "GET", url: "http://localhost:1/" },
          403,
          (x) =>
            x.title === "Domain Not Allowed" &&
            x.detail === "The target domain is not on the proxy allowlist.",
        ],
        ["not a URL", { method: "GET", url: "nope" }, 403, (x) => x.title === "Domain Not Allowed"],
        [
          "unsupported scheme",
          { method: "GET", url: "ftp://127.0.0.1/x" },
          502,
          (x) => x.title === "Bad Gateway" && x.detail.startsWith("Failed to reach upstream: "),
        ],
        [
          "refused",
          { method: "GET", url: "http://127.0.0.1:1/" },
          502,
          (x) => x.detail === "Failed to reach upstream: All connection attempts failed",
        ],
        [
          "timeout",
          { method: "GET", url: `${up}/slow`, timeout: "1" },
          504,
          (x) =>
            x.title === "Gateway Timeout" &&
            x.detail === "The upstream server did not respond within 1s.",
        ],
        [
          "upstream 500 wrapped in 200",
          { method: "POST", url: up, body: "hi", headers: { "x-t": "1" } },
          200,
          (x) =>
            x.status_code === 500 && x.body === "POST hi" && x.headers["x-dup"] === "a, b" &&
            x.headers["set-cookie"] === "a=1, b=2" &&
            Object.keys(x.headers).every((k) => k === k.toLowerCase()) &&
            Object.keys(x).join() === "status_code,headers,body",
        ],
      ];
      for (const [name, body, status, ok] of table) {
        const r = await px(body);
        assertEquals(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
        assert(ok(r.body), `${name}: ${JSON.stringify(r.body)}`);
      }
    });
    await withBroker({ proxyEnabled: false, allowedHosts: ["127.0.0.1"] }, async (b) => {
      const r = await call(`${b.url}/v1/proxy`, { body: { method: "GET", url: up } });
      assertEquals([r.status, r.body.detail], [
        403,
        "The HTTP proxy endpoint is disabled on this broker.",
      ]);
    });
  } finally {
    await upstream.shutdown();
  }
});

Deno.test("proxy allowlist matches like Python fnmatchcase", () => {
  const table: [string, string, boolean][] = [
    ["dev-tenant.auth0.com", "*.auth0.com", true],
    ["a.b.auth0.com", "*.auth0.com", true],
    ["auth0.com", "*.auth0.com", false],
    ["evil.com", "*.auth0.com", false],
    ["api-1.example.com", "api-?.example.com", true],
    ["api-x.example.com", "api-[0-9].example.com", false],
    ["api-x.example.com", "api-[!0-9].example.com", true],
    ["Tenant.auth0.com", "tenant.auth0.com", false],
    ["127.0.0.1", "127.0.0.1", true],
    ["127.0.0.10", "127.0.0.1", false],
  ];
  for (const [host, pattern, expected] of table) {
    assertEquals(fnmatchcase(host, pattern), expected, `${host} ~ ${pattern}`);
  }
});

// -- the connector against real-broker answers the emulator never gives ---------------------------

type Script = (req: Request) => Response | Promise<Response>;

/** A fake broker: `create` answers session creation, `poll` each poll. */
function fakeBroker(poll: Script, create?: Script) {
  let n = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/v1/sessions" && req.method === "POST") {
      if (create) return create(req);
      n++;
      const code = `CODE-000${n}`;
      return Response.json({
        session_id: String(n).padStart(64, "0"),
        code,
        url: `http://broker.example/connect/${code}`,
        poll_token: "pt_" + "a".repeat(43),
        expires_at: "2030-01-01T00:00:00+00:00",
        interval: 5,
        callback_secret: null,
        webhook_url: null,
      }, { status: 201 });
    }
    if (path.startsWith("/v1/sessions/")) return poll(req);
    return Response.json({ detail: "Not Found" }, { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const pollReply = (body: Record<string, unknown>) =>
  Response.json({
    expires_at: "2030-01-01T00:00:00.123456+00:00",
    interval: 5,
    ciphertext: null,
    algorithm: null,
    ...body,
  });

Deno.test("connector: real-broker poll answers the emulator never produces", async () => {
  const clock = { t: Date.parse("2029-12-31T23:00:00Z") };
  const ready = (ciphertext: string) =>
    pollReply({
      status: "ready",
      interval: null,
      ciphertext,
      algorithm: "RSA-OAEP-256+AES-256-GCM",
    });
  // [case, poll answer, expected: "challenge" (new code) | "same" (same code) | error code]
  const table: [
    string,
    (agentSpki: string) => Promise<Response> | Response,
    string,
    ((e: AuthChallenge) => boolean)?,
  ][] = [
    ["the enum's `expired` status", () => pollReply({ status: "expired" }), "challenge"],
    ["an unknown status is treated as still pending", () => pollReply({ status: "weird" }), "same"],
    [
      "slow_down problem: adopt its interval",
      () =>
        new Response(
          JSON.stringify({
            type: "urn:ietf:params:oauth:error:slow_down",
            title: "Slow Down",
            status: 429,
            detail: "Polling too frequently. Increase your polling interval.",
            interval: 10,
          }),
          {
            status: 429,
            headers: { "content-type": "application/problem+json" },
          },
        ),
      "same",
      (e) => e.retryAfterS! >= 10,
    ],
    [
      "Starlette's plain-text 500",
      () =>
        new Response("Internal Server Error", {
          status: 500,
          headers: { "content-type": "text/plain" },
        }),
      "linkauth_broker_error",
    ],
    ["hole 1: an injected ciphertext that is not an envelope", () => ready("eA=="), "challenge"],
    [
      "hole 1: an injected form payload instead of the token response",
      async (spki) => ready(await encryptEnvelope(spki, { api_key: "evil" })),
      "linkauth_no_refresh_token",
    ],
    [
      "hole 1: an injected envelope for another key",
      async () =>
        ready(await encryptEnvelope((await generateAgentKey()).spki, { refresh_token: "rt" })),
      "challenge",
    ],
    [
      "ready without a ciphertext",
      () => pollReply({ status: "ready", interval: null }),
      "challenge",
    ],
  ];
  for (const [name, answer, expected, extra] of table) {
    const cache = new MemoryCacheStore();
    let spki = "";
    await using fake = fakeBroker(() => answer(spki));
    const connector = new LinkAuthConnector({ brokerUrl: fake.url, cache, now: () => clock.t });
    const first = await assertRejects(
      () => connector.authenticate({ scope: "gmail" }),
      AuthChallenge,
    );
    spki = (await cache.get<{ spki: string }>("linkauth/agent_key"))!.spki;
    clock.t += 6_000;
    if (expected === "challenge" || expected === "same") {
      const next = await assertRejects(
        () => connector.authenticate({ scope: "gmail" }),
        AuthChallenge,
      );
      assertEquals(next.userCode === first.userCode, expected === "same", name);
      if (extra) assert(extra(next), name);
    } else {
      const e = await assertRejects(() => connector.authenticate({ scope: "gmail" }), McsError);
      assertEquals(e.code, expected, name);
      assert(!e.message.includes("evil"), "no payload in messages");
    }
  }
});

Deno.test("connector: create answers without microseconds parse; negative ttl is refused locally", async () => {
  const clock = { t: Date.parse("2029-12-31T23:00:00Z") };
  await using fake = fakeBroker(() => pollReply({ status: "pending" }));
  const c = new LinkAuthConnector({
    brokerUrl: fake.url,
    cache: new MemoryCacheStore(),
    now: () => clock.t,
  });
  const ch = await assertRejects(() => c.authenticate({ scope: "gmail" }), AuthChallenge);
  assertEquals(ch.expiresAt, Date.parse("2030-01-01T00:00:00Z"));
  const e = await assertRejects(
    () =>
      Promise.resolve(
        new LinkAuthConnector({ brokerUrl: fake.url, cache: new MemoryCacheStore(), ttlS: -1 }),
      ),
    ConfigError,
  );
  assertEquals(e.code, "linkauth_ttl_invalid");
});

Deno.test("relay: real-broker proxy errors map to typed errors", async () => {
  const answers: [string, Response, string, boolean][] = [
    [
      "SSRF Blocked",
      new Response(
        JSON.stringify({
          type: "about:blank",
          title: "SSRF Blocked",
          status: 403,
          detail: "Request blocked: target resolves to a private/reserved IP.",
        }),
        { status: 403, headers: { "content-type": "application/problem+json" } },
      ),
      "linkauth_proxy_blocked",
      false,
    ],
    [
      "422 list",
      Response.json({
        detail: [{
          type: "string_pattern_mismatch",
          loc: ["body", "method"],
          msg: "String should match pattern",
          input: "x",
        }],
      }, { status: 422 }),
      "linkauth_proxy_failed",
      false,
    ],
    [
      "unhandled 500",
      new Response("Internal Server Error", { status: 500 }),
      "linkauth_proxy_failed",
      true,
    ],
    [
      "504",
      new Response(
        JSON.stringify({
          type: "about:blank",
          title: "Gateway Timeout",
          status: 504,
          detail: "The upstream server did not respond within 30s.",
        }),
        { status: 504 },
      ),
      "linkauth_proxy_timeout",
      true,
    ],
    [
      "502",
      new Response(
        JSON.stringify({
          type: "about:blank",
          title: "Bad Gateway",
          status: 502,
          detail: "Failed to reach upstream: x",
        }),
        { status: 502 },
      ),
      "linkauth_proxy_unreachable",
      true,
    ],
  ];
  for (const [name, res, code, retryable] of answers) {
    const relay = new LinkAuthRelay({
      brokerUrl: "http://broker.invalid",
      fetch: () => Promise.resolve(res),
    });
    const e = await assertRejects(
      () => relay.relay(new Request("https://tenant.auth0.com/x")),
      McsError,
    );
    assertEquals([e.code, e.retryable], [code, retryable], name);
  }
});
