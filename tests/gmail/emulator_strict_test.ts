/**
 * The Gmail emulator refuses what Google refuses: unknown query parameters and JSON fields,
 * invalid enums, booleans and numbers, hand-set `SENT`/`DRAFT` labels, an empty modify; and
 * threads a sent message only by Gmail's rule (threadId AND matching References/In-Reply-To
 * AND matching Subject).
 * @module
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { FULL, setup } from "./_helpers.ts";

const U = "/gmail/v1/users/me";

async function world() {
  const fixture = await setup();
  const emu = fixture.emu;
  const token = fixture.registry.issue({
    sub: "google-oauth2|1",
    email: "ada@example.com",
    scopes: [FULL],
    ttlS: 600,
  }).token;
  const call = async (path: string, init: { method?: string; json?: unknown } = {}) => {
    const res = await fetch(emu.url + path, {
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
    const text = await res.text();
    // deno-lint-ignore no-explicit-any
    return { status: res.status, json: (text ? JSON.parse(text) : undefined) as any };
  };
  const firstId = async () => (await call(`${U}/messages?maxResults=1`)).json.messages[0].id;
  return { emu, call, firstId, [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose]() };
}

// deno-lint-ignore no-explicit-any
function assertInvalid(r: { status: number; json: any }, message: RegExp) {
  assertEquals(r.status, 400);
  assertEquals(r.json.error.code, 400);
  assertEquals(r.json.error.status, "INVALID_ARGUMENT");
  assertMatch(r.json.error.message, message);
}

const b64url = (s: string) =>
  new TextEncoder().encode(s).toBase64({ alphabet: "base64url", omitPadding: true });

Deno.test("unknown query parameters are refused on every method", async () => {
  await using w = await world();
  const id = await w.firstId();
  for (
    const path of [
      `${U}/messages?foo=1`,
      `${U}/messages/${id}?format=full&foo=1`,
      `${U}/threads?maxResults=5&labelId=INBOX`,
      `${U}/labels?foo=bar`,
      `${U}/profile?x=1`,
      `${U}/drafts?format=full`,
    ]
  ) {
    assertInvalid(
      await w.call(path),
      /^Invalid JSON payload received\. Unknown name "\w+": Cannot bind query parameter\./,
    );
  }
  // Google's standard parameters are fine everywhere.
  const std = await w.call(
    `${U}/profile?prettyPrint=false&fields=emailAddress&quotaUser=u1&alt=json`,
  );
  assertEquals(std.status, 200);
});

Deno.test("invalid enums, booleans and numbers are refused", async () => {
  await using w = await world();
  const id = await w.firstId();
  assertInvalid(
    await w.call(`${U}/messages/${id}?format=xyz`),
    /^Invalid value at 'format'.*"xyz"/,
  );
  assertInvalid(await w.call(`${U}/threads/${id}?format=raw`), /^Invalid value at 'format'/);
  assertInvalid(
    await w.call(`${U}/messages?includeSpamTrash=maybe`),
    /^Invalid value at 'include_spam_trash' \(TYPE_BOOL\), "maybe"/,
  );
  assertInvalid(await w.call(`${U}/messages?maxResults=-1`), /^Invalid value at 'max_results'/);
  assertInvalid(await w.call(`${U}/profile?prettyPrint=yes`), /^Invalid value at 'pretty_print'/);
  // Valid values, in either case, still work.
  assertEquals((await w.call(`${U}/messages/${id}?format=METADATA`)).status, 200);
  assertEquals((await w.call(`${U}/messages?includeSpamTrash=true&maxResults=1`)).status, 200);
});

Deno.test("unknown JSON fields are refused, nested ones too", async () => {
  await using w = await world();
  const id = await w.firstId();
  const raw = b64url("To: bob@example.com\r\nSubject: x\r\n\r\nhi\r\n");
  const unknown =
    /^Invalid JSON payload received\. Unknown name "foo"( at '[\w.]+')?: Cannot find field\.$/;
  assertInvalid(await w.call(`${U}/messages/send`, { json: { raw, foo: 1 } }), unknown);
  assertInvalid(await w.call(`${U}/drafts`, { json: { message: { raw, foo: 1 } } }), unknown);
  assertInvalid(await w.call(`${U}/drafts`, { json: { message: { raw }, foo: 1 } }), unknown);
  assertInvalid(
    await w.call(`${U}/messages/${id}/modify`, { json: { addLabelIds: ["STARRED"], foo: [] } }),
    unknown,
  );
  assertInvalid(await w.call(`${U}/labels`, { json: { name: "N", foo: true } }), unknown);
  assertInvalid(
    await w.call(`${U}/messages/batchModify`, { json: { ids: [id], labelIds: ["STARRED"] } }),
    /Unknown name "labelIds"/,
  );
  // Wrong types too.
  assertInvalid(
    await w.call(`${U}/messages/${id}/modify`, { json: { addLabelIds: "STARRED" } }),
    /^Invalid value at 'addLabelIds'/,
  );
  // Nothing was sent or changed by the refused calls.
  assertEquals(w.emu.mailbox.deliveries.length, 0);
  assertEquals(w.emu.mailbox.get(id)!.labelIds.has("STARRED"), false);
});

Deno.test("SENT, DRAFT and CHAT cannot be added or removed by hand; an empty modify is refused", async () => {
  await using w = await world();
  const id = await w.firstId();
  for (const label of ["SENT", "DRAFT", "CHAT"]) {
    for (const key of ["addLabelIds", "removeLabelIds"]) {
      assertInvalid(
        await w.call(`${U}/messages/${id}/modify`, { json: { [key]: [label] } }),
        new RegExp(`^Invalid label: ${label}$`),
      );
      assertInvalid(
        await w.call(`${U}/messages/batchModify`, { json: { ids: [id], [key]: [label] } }),
        new RegExp(`^Invalid label: ${label}$`),
      );
      assertInvalid(
        await w.call(`${U}/threads/${w.emu.mailbox.get(id)!.threadId}/modify`, {
          json: { [key]: [label] },
        }),
        new RegExp(`^Invalid label: ${label}$`),
      );
    }
  }
  assertEquals(w.emu.mailbox.get(id)!.labelIds.has("SENT"), false);
  assertInvalid(
    await w.call(`${U}/messages/${id}/modify`, { json: {} }),
    /No label add or removes/,
  );
});

Deno.test("a sent message joins a thread only with threadId AND matching headers AND subject", async () => {
  await using w = await world();
  const box = w.emu.mailbox;
  const first = box.send(
    new TextEncoder().encode(
      "To: bob@example.com\r\nSubject: Plans\r\nMessage-ID: <plans-1@example.com>\r\n\r\nhi\r\n",
    ),
  );
  const send = async (head: string, threadId?: string) =>
    (await w.call(`${U}/messages/send`, {
      json: { raw: b64url(`To: bob@example.com\r\n${head}\r\n\r\nbody\r\n`), threadId },
    })).json.threadId as string;
  const refs = "In-Reply-To: <plans-1@example.com>\r\nReferences: <plans-1@example.com>";
  // All three: joins.
  assertEquals(await send(`Subject: Re: Plans\r\n${refs}`, first.threadId), first.threadId);
  // threadId and subject, but no References/In-Reply-To: a new thread.
  const noRefs = await send("Subject: Re: Plans", first.threadId);
  assertEquals(noRefs === first.threadId, false);
  // Headers and subject, but no threadId: a new thread.
  const noThreadId = await send(`Subject: Re: Plans\r\n${refs}`);
  assertEquals(noThreadId === first.threadId, false);
  // threadId and headers, but another subject: a new thread.
  const otherSubject = await send(`Subject: Something else\r\n${refs}`, first.threadId);
  assertEquals(otherSubject === first.threadId, false);
  // Drafts follow the same rule.
  const draft = await w.call(`${U}/drafts`, {
    json: {
      message: {
        raw: b64url(`To: b@example.com\r\nSubject: Plans\r\n\r\nx\r\n`),
        threadId: first.threadId,
      },
    },
  });
  assertEquals(draft.json.message.threadId === first.threadId, false);
});
