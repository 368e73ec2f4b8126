/**
 * Pins the Gmail emulator to the documented wire shapes (runtime-and-peers.md §4, mcs-sdk.md
 * §7): list responses, message formats, batch wire format, upload endpoints, scope rules,
 * error bodies and headers, quotas, and that a token only opens its own mailbox.
 * @module
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { GoogleTokenRegistry } from "../../lib/emulators/google_tokens.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { encodeBatchRequest, parseBatchResponse } from "../../lib/gmail/batch_wire.ts";
import { FULL, scope, setup } from "./_helpers.ts";

const U = "/gmail/v1/users/me";

async function world(o: { userUnitsPerMinute?: number | false } = {}) {
  const registry = new GoogleTokenRegistry();
  const emu = await startGmailEmulator({ googleTokens: registry, seed: true, ...o });
  const token = (scopes: string[] = [FULL], email = "ada@example.com") =>
    registry.issue({ sub: "google-oauth2|1", email, scopes, ttlS: 600 }).token;
  const call = async (
    path: string,
    init: { method?: string; token?: string | null; body?: BodyInit; headers?: HeadersInit } = {},
  ) => {
    const headers = new Headers(init.headers);
    const t = init.token === undefined ? token() : init.token;
    if (t !== null) headers.set("authorization", `Bearer ${t}`);
    const res = await fetch(emu.url + path, { method: init.method, headers, body: init.body });
    const text = await res.text();
    // deno-lint-ignore no-explicit-any
    const json: any = text ? JSON.parse(text) : undefined;
    return { status: res.status, headers: res.headers, json, text };
  };
  const firstId = async (q = "") =>
    (await call(`${U}/messages?maxResults=1${q}`)).json.messages[0].id as string;
  return {
    emu,
    registry,
    token,
    call,
    firstId,
    [Symbol.asyncDispose]: () => emu.close(),
  };
}

/** Google's error envelope: code, message, errors[{domain, reason, message}], status. */
// deno-lint-ignore no-explicit-any
function assertGoogleError(json: any, code: number, reason: string, status: string) {
  assertEquals(json.error.code, code);
  assertEquals(typeof json.error.message, "string");
  assertEquals(json.error.status, status);
  assertEquals(json.error.errors[0].reason, reason);
  assertEquals(typeof json.error.errors[0].domain, "string");
  assertEquals(typeof json.error.errors[0].message, "string");
}

Deno.test("messages.list: {id,threadId} rows, resultSizeEstimate of the whole query, messages absent when empty", async () => {
  await using w = await world();
  const all = await w.call(`${U}/messages?maxResults=500`);
  const total = all.json.messages.length;
  const page = await w.call(`${U}/messages?maxResults=2`);
  assertEquals(page.json.messages.length, 2);
  assertEquals(Object.keys(page.json.messages[0]).sort(), ["id", "threadId"]);
  assertEquals(page.json.resultSizeEstimate, total);
  assert(typeof page.json.nextPageToken === "string");
  const next = await w.call(`${U}/messages?maxResults=2&pageToken=${page.json.nextPageToken}`);
  assert(next.json.messages[0].id !== page.json.messages[0].id);
  const none = await w.call(`${U}/messages?q=zzzznomatchzzzz`);
  assertEquals(none.json, { resultSizeEstimate: 0 });
  // maxResults above 500 is capped, not refused; the default page is 100.
  assertEquals((await w.call(`${U}/messages?maxResults=1000`)).status, 200);
  const bad = await w.call(`${U}/messages?maxResults=abc`);
  assertGoogleError(bad.json, 400, "invalidArgument", "INVALID_ARGUMENT");
  // labelIds repeat with AND semantics.
  const both = await w.call(`${U}/messages?labelIds=INBOX&labelIds=UNREAD&maxResults=500`);
  for (const m of both.json.messages ?? []) {
    const full = await w.call(`${U}/messages/${m.id}?format=minimal`);
    assert(full.json.labelIds.includes("INBOX") && full.json.labelIds.includes("UNREAD"));
  }
});

Deno.test("threads.list: {id,snippet,historyId}, thread-level estimate; threads.get has no raw format", async () => {
  await using w = await world();
  const r = await w.call(`${U}/threads?maxResults=3`);
  assertEquals(Object.keys(r.json.threads[0]).sort(), ["historyId", "id", "snippet"]);
  assert(r.json.resultSizeEstimate >= r.json.threads.length);
  const t = await w.call(`${U}/threads/${r.json.threads[0].id}?format=metadata`);
  assert(t.json.messages.length >= 1);
  assertEquals(t.json.messages[0].payload.body, { size: 0 });
  const raw = await w.call(`${U}/threads/${r.json.threads[0].id}?format=raw`);
  assertEquals(raw.status, 400);
  assertEquals((await w.call(`${U}/threads?q=zzzznomatchzzzz`)).json, { resultSizeEstimate: 0 });
});

Deno.test("messages.get formats carry exactly their documented fields", async () => {
  await using w = await world();
  const id = await w.firstId("&q=has:attachment");
  const base = [
    "historyId",
    "id",
    "internalDate",
    "labelIds",
    "sizeEstimate",
    "snippet",
    "threadId",
  ];
  const table: [string, string[]][] = [
    ["minimal", base],
    ["metadata", [...base, "payload"]],
    ["full", [...base, "payload"]],
    ["raw", [...base, "raw"]],
  ];
  for (const [format, keys] of table) {
    const r = await w.call(`${U}/messages/${id}?format=${format}&metadataHeaders=Subject`);
    assertEquals(r.status, 200, format);
    assertEquals(Object.keys(r.json).sort(), keys.sort(), format);
    assertMatch(r.json.internalDate, /^\d+$/);
    assertMatch(r.json.historyId, /^\d+$/);
  }
  const meta = (await w.call(`${U}/messages/${id}?format=metadata&metadataHeaders=Subject`)).json;
  assertEquals(meta.payload.headers.map((h: { name: string }) => h.name), ["Subject"]);
  assertEquals(meta.payload.parts, undefined);
  const full = (await w.call(`${U}/messages/${id}`)).json; // default format is full
  assert(full.payload.parts.length > 0);
  const att = full.payload.parts.find((p: { filename: string }) => p.filename);
  assertEquals(Object.keys(att.body).sort(), ["attachmentId", "size"]);
  const raw = (await w.call(`${U}/messages/${id}?format=raw`)).json.raw;
  assertMatch(raw, /^[A-Za-z0-9_-]+=*$/); // base64url
});

Deno.test("attachment ids are not stable across fetches, yet each one resolves", async () => {
  await using w = await world();
  const id = await w.firstId("&q=has:attachment");
  const attId = async () =>
    (await w.call(`${U}/messages/${id}`)).json.payload.parts.find((p: { filename: string }) =>
      p.filename
    ).body.attachmentId as string;
  const [a, b] = [await attId(), await attId()];
  assert(a !== b);
  for (const x of [a, b]) {
    const r = await w.call(`${U}/messages/${id}/attachments/${x}`);
    assertEquals(Object.keys(r.json).sort(), ["attachmentId", "data", "size"]);
  }
});

Deno.test("a message with no labels has no labelIds field (empty repeated fields are omitted)", async () => {
  await using w = await world();
  const id = await w.firstId();
  const labels = (await w.call(`${U}/messages/${id}?format=minimal`)).json.labelIds;
  const mod = await w.call(`${U}/messages/${id}/modify`, {
    method: "POST",
    body: JSON.stringify({ removeLabelIds: labels }),
  });
  assertEquals(mod.json, { id, threadId: mod.json.threadId });
  assertEquals((await w.call(`${U}/messages/${id}?format=minimal`)).json.labelIds, undefined);
});

Deno.test("scope rules: each call needs one of its documented scopes; metadata forbids q and full/raw", async () => {
  await using w = await world();
  const id = await w.firstId();
  const meta = [scope("gmail.metadata")];
  const send = [scope("gmail.send")];
  const compose = [scope("gmail.compose")];
  const ro = [scope("gmail.readonly")];
  const table: [string, string[], string, string, number, string?][] = [
    ["list with metadata", meta, "GET", `${U}/messages`, 200],
    ["list+q with metadata", meta, "GET", `${U}/messages?q=hello`, 403, "forbidden"],
    ["get metadata with metadata", meta, "GET", `${U}/messages/${id}?format=metadata`, 200],
    ["get full with metadata", meta, "GET", `${U}/messages/${id}?format=full`, 403, "forbidden"],
    ["get raw with metadata", meta, "GET", `${U}/messages/${id}?format=raw`, 403, "forbidden"],
    ["list+q with readonly", ro, "GET", `${U}/messages?q=hello`, 200],
    ["profile with compose", compose, "GET", `${U}/profile`, 200],
    ["profile with send", send, "GET", `${U}/profile`, 403, "insufficientPermissions"],
    ["drafts.list with readonly", ro, "GET", `${U}/drafts`, 200],
    [
      "modify with readonly",
      ro,
      "POST",
      `${U}/messages/${id}/modify`,
      403,
      "insufficientPermissions",
    ],
    [
      "delete with modify",
      [scope("gmail.modify")],
      "DELETE",
      `${U}/messages/${id}`,
      403,
      "insufficientPermissions",
    ],
    ["labels.list with labels", [scope("gmail.labels")], "GET", `${U}/labels`, 200],
  ];
  for (const [name, scopes, method, path, status, reason] of table) {
    const r = await w.call(path, {
      method,
      token: w.token(scopes),
      body: method === "POST" ? "{}" : undefined,
    });
    assertEquals(r.status, status, name);
    if (reason) assertEquals(r.json.error.errors[0].reason, reason, name);
  }
});

Deno.test("403 insufficient scope: PERMISSION_DENIED, ErrorInfo ACCESS_TOKEN_SCOPE_INSUFFICIENT, WWW-Authenticate lists the scopes", async () => {
  await using w = await world();
  const r = await w.call(`${U}/messages`, { token: w.token([scope("gmail.send")]) });
  assertGoogleError(r.json, 403, "insufficientPermissions", "PERMISSION_DENIED");
  const info = r.json.error.details[0];
  assertEquals(info["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
  assertEquals(info.reason, "ACCESS_TOKEN_SCOPE_INSUFFICIENT");
  assertEquals(info.metadata.service, "gmail.googleapis.com");
  assertEquals(info.metadata.method, "caribou.api.proto.MailboxService.ListMessages");
  const www = r.headers.get("www-authenticate") ?? "";
  assertMatch(www, /^Bearer realm="https:\/\/accounts\.google\.com\/", error="insufficient_scope"/);
  assertMatch(www, /scope="[^"]*https:\/\/www\.googleapis\.com\/auth\/gmail\.readonly[^"]*"/);
});

Deno.test("401: invalid token → authError + error=invalid_token; no token → required + CREDENTIALS_MISSING", async () => {
  await using w = await world();
  const bad = await w.call(`${U}/profile`, { token: "ya29.nope" });
  assertEquals(bad.status, 401);
  assertGoogleError(bad.json, 401, "authError", "UNAUTHENTICATED");
  assertEquals(bad.json.error.errors[0].location, "Authorization");
  assertEquals(bad.json.error.errors[0].locationType, "header");
  assertMatch(bad.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
  const none = await w.call(`${U}/profile`, { token: null });
  assertGoogleError(none.json, 401, "required", "UNAUTHENTICATED");
  assertEquals(none.json.error.details[0].reason, "CREDENTIALS_MISSING");
  assertEquals(none.headers.get("www-authenticate"), 'Bearer realm="https://accounts.google.com/"');
});

Deno.test("a token only opens its own mailbox", async () => {
  await using w = await world();
  const eve = w.token([FULL], "eve@example.com");
  // Another account's mailbox named explicitly: delegation denied (403).
  const explicit = await w.call("/gmail/v1/users/ada@example.com/profile", { token: eve });
  assertGoogleError(explicit.json, 403, "forbidden", "PERMISSION_DENIED");
  assertEquals(explicit.json.error.message, "Delegation denied for eve@example.com");
  // `me` for an account this emulator hosts no mailbox for: no Gmail for that account.
  const me = await w.call(`${U}/messages`, { token: eve });
  assertGoogleError(me.json, 400, "failedPrecondition", "FAILED_PRECONDITION");
  assertEquals(me.json.error.message, "Mail service not enabled");
  // The owner may name themselves.
  assertEquals((await w.call("/gmail/v1/users/ADA@example.com/profile")).status, 200);
});

Deno.test("403 SERVICE_DISABLED: accessNotConfigured with ErrorInfo activationUrl and a Help link", async () => {
  await using w = await world();
  w.emu.faults.apiDisabled(true, "4242");
  const r = await w.call(`${U}/profile`);
  assertGoogleError(r.json, 403, "accessNotConfigured", "PERMISSION_DENIED");
  assertEquals(r.json.error.errors[0].domain, "usageLimits");
  assertMatch(r.json.error.message, /project 4242/);
  const info = r.json.error.details.find((d: { reason?: string }) =>
    d.reason === "SERVICE_DISABLED"
  );
  assertEquals(info.metadata.consumer, "projects/4242");
  assertMatch(info.metadata.activationUrl, /gmail\.googleapis\.com\/overview\?project=4242$/);
  assert(r.json.error.details.some((d: { "@type": string }) => d["@type"].endsWith("rpc.Help")));
});

Deno.test("429: rateLimitExceeded with Retry-After; the per-user unit quota meters every call", async () => {
  await using w = await world({ userUnitsPerMinute: 12 });
  w.emu.faults.rateLimit(1, { retryAfterS: 7 });
  const fault = await w.call(`${U}/profile`);
  assertGoogleError(fault.json, 429, "rateLimitExceeded", "RESOURCE_EXHAUSTED");
  assertEquals(fault.headers.get("retry-after"), "7");
  // 12 units: list (5) + list (5) fit, the third list does not.
  assertEquals((await w.call(`${U}/messages`)).status, 200);
  assertEquals((await w.call(`${U}/messages`)).status, 200);
  const over = await w.call(`${U}/messages`);
  assertGoogleError(over.json, 429, "rateLimitExceeded", "RESOURCE_EXHAUSTED");
  assertMatch(over.json.error.message, /^User-rate limit exceeded\.\s+Retry after \d{4}-/);
  assertMatch(over.headers.get("retry-after") ?? "", /^\d+$/);
  // Another user's quota is separate (and their own call still reaches the owner check).
  assertEquals(
    (await w.call(`${U}/messages`, { token: w.token([FULL], "eve@example.com") })).status,
    400,
  );
});

Deno.test("batch: multipart/mixed, application/http parts, Content-ID response-<id>, parts authorised one by one", async () => {
  await using w = await world();
  const id = await w.firstId();
  const { body, contentType } = encodeBatchRequest([
    { id: "a", method: "GET", path: `${U}/messages/${id}?format=minimal` },
    { id: "b", method: "GET", path: `${U}/messages/ffffffffffff` },
    { id: "c", method: "GET", path: `${U}/profile`, headers: { authorization: "Bearer ya29.bad" } },
  ]);
  const res = await fetch(`${w.emu.url}/batch/gmail/v1`, {
    method: "POST",
    headers: { authorization: `Bearer ${w.token()}`, "content-type": contentType },
    body: body as Uint8Array<ArrayBuffer>,
  });
  assertEquals(res.status, 200);
  const ct = res.headers.get("content-type") ?? "";
  assertMatch(ct, /^multipart\/mixed; boundary=/);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  assertMatch(text, /Content-Type: application\/http\r\nContent-ID: <response-a>/);
  assertMatch(text, /HTTP\/1\.1 200 OK/);
  const parts = Object.fromEntries(parseBatchResponse(ct, bytes).map((p) => [p.id, p]));
  assertEquals(parts.a.status, 200);
  assertEquals(JSON.parse(parts.a.body).id, id);
  assertEquals(parts.b.status, 404);
  assertEquals(parts.c.status, 401); // a part's own Authorization overrides the outer one
  // Without any outer token every part answers 401 (the envelope itself is 200).
  const anon = await fetch(`${w.emu.url}/batch/gmail/v1`, {
    method: "POST",
    headers: { "content-type": contentType },
    body: body as Uint8Array<ArrayBuffer>,
  });
  assertEquals(anon.status, 200);
  const anonParts = parseBatchResponse(
    anon.headers.get("content-type") ?? "",
    new Uint8Array(await anon.arrayBuffer()),
  );
  assertEquals(anonParts.map((p) => p.status), [401, 401, 401]);
  // More than 100 calls is refused.
  const many = encodeBatchRequest(
    Array.from({ length: 101 }, (_, i) => ({ id: String(i), method: "GET", path: `${U}/profile` })),
  );
  const tooMany = await fetch(`${w.emu.url}/batch/gmail/v1`, {
    method: "POST",
    headers: { authorization: `Bearer ${w.token()}`, "content-type": many.contentType },
    body: many.body as Uint8Array<ArrayBuffer>,
  });
  assertEquals(tooMany.status, 400);
  await tooMany.body?.cancel();
  // `/batch` (the discovery document's batchPath) is served too; a body that is no batch is 400.
  const viaBatchPath = await fetch(`${w.emu.url}/batch`, {
    method: "POST",
    headers: { authorization: `Bearer ${w.token()}`, "content-type": contentType },
    body: body as Uint8Array<ArrayBuffer>,
  });
  assertEquals(viaBatchPath.status, 200);
  const viaParts = parseBatchResponse(
    viaBatchPath.headers.get("content-type") ?? "",
    new Uint8Array(await viaBatchPath.arrayBuffer()),
  );
  assertEquals(viaParts.map((p) => p.status).sort(), [200, 401, 404]);
  assertEquals((await w.call("/batch", { method: "POST", body: "x" })).status, 400);
});

const RAW = "To: bob@example.com\r\nSubject: upload\r\n\r\nhello\r\n";

Deno.test("upload endpoints: media needs message/*, multipart/related carries metadata, resumable session then PUT", async () => {
  await using w = await world();
  const up = "/upload/gmail/v1/users/me/messages/send";
  const media = await w.call(`${up}?uploadType=media`, {
    method: "POST",
    body: RAW,
    headers: { "content-type": "message/rfc822" },
  });
  assertEquals(Object.keys(media.json).sort(), ["id", "labelIds", "threadId"]);
  const wrongType = await w.call(`${up}?uploadType=media`, {
    method: "POST",
    body: RAW,
    headers: { "content-type": "application/octet-stream" },
  });
  assertGoogleError(wrongType.json, 400, "invalidArgument", "INVALID_ARGUMENT");
  const b = "xyz";
  // A reply joins the thread (threadId + In-Reply-To + matching Subject).
  const mid = w.emu.mailbox.view(w.emu.mailbox.get(media.json.id)!).messageId;
  const reply = `To: bob@example.com\r\nSubject: Re: upload\r\nIn-Reply-To: ${mid}\r\n\r\nhi\r\n`;
  const multipart = await w.call(`${up}?uploadType=multipart`, {
    method: "POST",
    headers: { "content-type": `multipart/related; boundary=${b}` },
    body:
      `--${b}\r\nContent-Type: application/json\r\n\r\n{"threadId":"${media.json.threadId}"}\r\n` +
      `--${b}\r\nContent-Type: message/rfc822\r\n\r\n${reply}\r\n--${b}--\r\n`,
  });
  assertEquals(multipart.json.threadId, media.json.threadId);
  // Resumable: POST (metadata) → 200 + Location; PUT in two Content-Range chunks (308, 200).
  const start = await w.call(`${up}?uploadType=resumable`, {
    method: "POST",
    headers: {
      "content-type": "application/json; charset=UTF-8",
      "x-upload-content-type": "message/rfc822",
      "x-upload-content-length": String(RAW.length),
    },
    body: "{}",
  });
  assertEquals(start.status, 200);
  const loc = new URL(start.headers.get("location")!);
  assertEquals(loc.searchParams.get("uploadType"), "resumable");
  const session = loc.pathname + loc.search;
  const half = 10;
  const first = await w.call(session, {
    method: "PUT",
    body: RAW.slice(0, half),
    headers: { "content-range": `bytes 0-${half - 1}/${RAW.length}` },
  });
  assertEquals(first.status, 308);
  assertEquals(first.headers.get("range"), `bytes=0-${half - 1}`);
  const done = await w.call(session, {
    method: "PUT",
    body: RAW.slice(half),
    headers: { "content-range": `bytes ${half}-${RAW.length - 1}/${RAW.length}` },
  });
  assertEquals(done.status, 200);
  assertEquals(w.emu.mailbox.get(done.json.id)?.labelIds.has("SENT"), true);
  assertEquals((await w.call(session, { method: "PUT", body: "x" })).status, 404); // closed
  const noType = await w.call(up, { method: "POST", body: RAW });
  assertEquals(noType.status, 400);
});

Deno.test("JSON bodies over the limit: 413 with Google's message", async () => {
  await using f = await setup({ maxJsonBytes: 1024 });
  const res = await fetch(`${f.emu.url}${U}/messages/send`, {
    method: "POST",
    headers: { authorization: `Bearer ${await f.creds.getToken("gmail")}` },
    body: JSON.stringify({ raw: "A".repeat(2000) }),
  });
  const json = await res.json();
  assertEquals(res.status, 413);
  assertEquals(json.error.message, "Request payload size exceeds the limit: 1024 bytes.");
});

Deno.test("prettyPrint=false gives compact JSON; the default is indented", async () => {
  await using w = await world();
  assert((await w.call(`${U}/profile`)).text.includes("\n  "));
  assert(!(await w.call(`${U}/profile?prettyPrint=false`)).text.includes("\n"));
});

Deno.test("threads.modify/trash/untrash/delete and messages.batchDelete exist with their scopes", async () => {
  await using w = await world();
  const tid = (await w.call(`${U}/threads?maxResults=1`)).json.threads[0].id;
  const mod = await w.call(`${U}/threads/${tid}/modify`, {
    method: "POST",
    body: JSON.stringify({ addLabelIds: ["STARRED"] }),
  });
  assertEquals(mod.json.id, tid);
  assert(mod.json.messages.every((m: { labelIds: string[] }) => m.labelIds.includes("STARRED")));
  assertEquals((await w.call(`${U}/threads/${tid}/trash`, { method: "POST" })).status, 200);
  assertEquals((await w.call(`${U}/threads/${tid}/untrash`, { method: "POST" })).status, 200);
  const del = await w.call(`${U}/threads/${tid}`, {
    method: "DELETE",
    token: w.token([scope("gmail.modify")]),
  });
  assertEquals(del.status, 403);
  assertEquals((await w.call(`${U}/threads/${tid}`, { method: "DELETE" })).status, 204);
  assertEquals((await w.call(`${U}/threads/${tid}`)).status, 404);
  const id = await w.firstId();
  const bd = await w.call(`${U}/messages/batchDelete`, {
    method: "POST",
    body: JSON.stringify({ ids: [id] }),
  });
  assertEquals(bd.status, 204);
  const tooMany = await w.call(`${U}/messages/batchModify`, {
    method: "POST",
    body: JSON.stringify({ ids: Array.from({ length: 1001 }, (_, i) => String(i)) }),
  });
  assertEquals(tooMany.status, 400);
});

Deno.test("labels.create keeps the visibility it was given", async () => {
  await using w = await world();
  const r = await w.call(`${U}/labels`, {
    method: "POST",
    body: JSON.stringify({
      name: "Quiet",
      messageListVisibility: "hide",
      labelListVisibility: "labelHide",
    }),
  });
  assertEquals(r.json.messageListVisibility, "hide");
  assertEquals(r.json.labelListVisibility, "labelHide");
  assertEquals(r.json.type, "user");
});
