import assert from "node:assert/strict";
import { encodeBatchRequest, parseBatchResponse } from "../../lib/gmail/batch_wire.ts";
import { decodeBase64Lenient } from "../../lib/encoding/base64.ts";
import { Mailbox, seedMailbox } from "../../lib/emulators/gmail/mod.ts";
import { type Fixture, FULL, scope, setup } from "./_helpers.ts";

/** A Google access token for ada@example.com with `scopes`, valid for `ttlS` seconds. */
function issue(f: Fixture, scopes: string[], ttlS = 60): string {
  return f.registry.issue({ sub: "s", email: "ada@example.com", scopes, ttlS }).token;
}

async function api(url: string, token: string | undefined, init: RequestInit = {}) {
  const res = await fetch(url, {
    ...init,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

Deno.test("emulator: 401 in Google's exact shape with WWW-Authenticate", async () => {
  await using f = await setup({ seed: false });
  const r = await api(`${f.emu.url}/gmail/v1/users/me/profile`, "ya29.unknown");
  assert.equal(r.status, 401);
  assert.match(r.headers.get("www-authenticate") ?? "", /invalid_token/);
  assert.deepEqual(r.json.error.errors[0], {
    message: "Invalid Credentials",
    domain: "global",
    reason: "authError",
    location: "Authorization",
    locationType: "header",
  });
  assert.equal(r.json.error.status, "UNAUTHENTICATED");
  const expired = issue(f, [FULL], 0);
  assert.equal((await api(`${f.emu.url}/gmail/v1/users/me/profile`, expired)).status, 401);
});

Deno.test("emulator: scopes — metadata allows list without q, not full format", async () => {
  await using f = await setup();
  const token = issue(f, [scope("gmail.metadata")]);
  const list = await api(`${f.emu.url}/gmail/v1/users/me/messages?maxResults=2`, token);
  assert.equal(list.status, 200);
  const id = list.json.messages[0].id;
  assert.equal(
    (await api(`${f.emu.url}/gmail/v1/users/me/messages/${id}?format=metadata`, token)).status,
    200,
  );
  const full = await api(`${f.emu.url}/gmail/v1/users/me/messages/${id}`, token);
  // The metadata scope is valid for messages.get, but not for format=full (403 forbidden).
  assert.equal(full.status, 403);
  assert.equal(full.json.error.errors[0].reason, "forbidden");
  assert.equal(full.json.error.message, "Metadata scope doesn't allow format FULL");
  assert.equal((await api(`${f.emu.url}/gmail/v1/users/me/messages?q=hello`, token)).status, 403);
});

Deno.test("emulator: formats minimal, metadata (filtered headers), raw, full", async () => {
  await using f = await setup();
  const token = issue(f, [FULL]);
  const m = f.emu.mailbox.list().find((x) =>
    x.labelIds.has(f.emu.mailbox.findLabel("Receipts")!.id)
  )!;
  const base = `${f.emu.url}/gmail/v1/users/me/messages/${m.id}`;
  const minimal = (await api(`${base}?format=minimal`, token)).json;
  assert.equal(minimal.payload, undefined);
  assert.equal(minimal.threadId, m.threadId);
  const meta =
    (await api(`${base}?format=metadata&metadataHeaders=Subject&metadataHeaders=from`, token)).json;
  assert.deepEqual(meta.payload.headers.map((h: { name: string }) => h.name).sort(), [
    "From",
    "Subject",
  ]);
  assert.equal(meta.payload.mimeType, "multipart/mixed");
  const raw = (await api(`${base}?format=raw`, token)).json;
  assert.deepEqual(decodeBase64Lenient(raw.raw), m.raw);
  const full = (await api(base, token)).json;
  assert.equal(full.payload.parts[0].mimeType, "multipart/alternative");
  assert.equal(full.payload.parts[0].parts[1].partId, "0.1");
  assert.ok(full.payload.parts[1].body.attachmentId);
  assert.equal(full.payload.parts[1].filename, "receipt-1040.pdf");
  const bad = await api(`${base}?format=weird`, token);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.status, "INVALID_ARGUMENT");
});

Deno.test("emulator: batch endpoint answers application/http parts with response-<id>", async () => {
  await using f = await setup();
  const token = issue(f, [FULL]);
  const ids = f.emu.mailbox.list().slice(0, 3).map((m) => m.id);
  const { body, contentType } = encodeBatchRequest([
    ...ids.map((id, i) => ({
      id: `q${i}`,
      method: "GET",
      path: `/gmail/v1/users/me/messages/${id}?format=minimal`,
    })),
    { id: "missing", method: "GET", path: "/gmail/v1/users/me/messages/18f0ffffffffffff" },
  ]);
  const res = await fetch(`${f.emu.url}/batch/gmail/v1`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": contentType },
    body: body as Uint8Array<ArrayBuffer>,
  });
  assert.match(res.headers.get("content-type") ?? "", /^multipart\/mixed; boundary=/);
  const text = new Uint8Array(await res.arrayBuffer());
  assert.match(new TextDecoder().decode(text), /Content-ID: <response-q0>/);
  const parts = parseBatchResponse(res.headers.get("content-type")!, text);
  assert.deepEqual(parts.map((p) => p.id), ["q0", "q1", "q2", "missing"]);
  assert.deepEqual(parts.map((p) => p.status), [200, 200, 200, 404]);
  assert.equal(JSON.parse(parts[1].body).id, ids[1]);
  assert.equal(f.emu.requestCount, 1);
  assert.equal(f.emu.calls.length, 4);
});

Deno.test("emulator: labels create/get/conflict, threads list, seeded mailbox shape", async () => {
  await using f = await setup();
  const token = issue(f, [FULL]);
  const u = `${f.emu.url}/gmail/v1/users/me`;
  const created = await api(`${u}/labels`, token, {
    method: "POST",
    body: JSON.stringify({ name: "Ideas" }),
  });
  assert.equal(created.json.type, "user");
  const dup = await api(`${u}/labels`, token, {
    method: "POST",
    body: JSON.stringify({ name: "ideas" }),
  });
  assert.equal(dup.status, 409);
  const receipts = f.emu.mailbox.findLabel("Receipts")!;
  const got = (await api(`${u}/labels/${receipts.id}`, token)).json;
  assert.equal(got.messagesTotal, 8);
  assert.equal(got.messagesUnread, 3);
  const threads = (await api(`${u}/threads?q=subject:quarterly`, token)).json;
  assert.equal(threads.threads.length, 1);
  const box = seedMailbox(new Mailbox());
  assert.ok(box.list().length >= 55 && box.list().length <= 65, String(box.list().length));
  assert.equal(box.owner, "ada@example.com");
});

Deno.test("emulator: custom owner and user id in the path", async () => {
  const { GoogleTokenRegistry } = await import("../../lib/emulators/google_tokens.ts");
  const { startGmailEmulator } = await import("../../lib/emulators/gmail/mod.ts");
  const googleTokens = new GoogleTokenRegistry();
  const emu = await startGmailEmulator({ googleTokens, owner: "grace@example.com", latencyMs: 1 });
  try {
    const { token } = googleTokens.issue({
      sub: "s",
      email: "grace@example.com",
      scopes: [FULL],
      ttlS: 60,
    });
    const p = await api(`${emu.url}/gmail/v1/users/grace@example.com/profile`, token);
    assert.equal(p.json.emailAddress, "grace@example.com");
    assert.equal(
      (await api(`${emu.url}/gmail/v1/users/other@example.com/profile`, token)).status,
      403,
    );
  } finally {
    await emu.close();
  }
});

Deno.test("emulator: rfc822msgid matches the whole Message-ID, with or without brackets", async () => {
  await using f = await setup();
  const token = issue(f, [FULL]);
  const ids = async (q: string) => {
    const r = await api(
      `${f.emu.url}/gmail/v1/users/me/messages?q=${encodeURIComponent(q)}`,
      token,
    );
    assert.equal(r.status, 200);
    return (r.json.messages ?? []).map((m: { id: string }) => m.id);
  };
  const bare = await ids("rfc822msgid:party@example.net");
  assert.equal(bare.length, 1);
  assert.deepEqual(await ids("rfc822msgid:<party@example.net>"), bare);
  // A fragment of an id is not that id, and the operator is not free text.
  assert.deepEqual(await ids("rfc822msgid:party"), []);
  assert.deepEqual(await ids("rfc822msgid:example.net"), []);
});
