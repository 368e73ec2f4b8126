import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { setup } from "./_helpers.ts";

Deno.test("search 50 with metadata costs ≤ 3 HTTP round trips and resolves label names", async () => {
  await using f = await setup();
  const page = await f.client.search({ limit: 50 });
  assert.equal(page.items.length, 50);
  assert.ok(f.emu.requestCount <= 3, `requests: ${f.emu.requestCount}`);
  assert.ok(page.nextPageToken);
  const first = page.items[0];
  assert.equal(first.subject, "Re: Quarterly report draft");
  assert.deepEqual(first.labels.sort(), ["INBOX", "UNREAD", "Work"]);
  assert.equal(first.unread, true);
  assert.match(first.date, /^\d{4}-\d\d-\d\dT/);
  assert.ok(page.items.some((m) => m.hasAttachments));
  assert.ok(!page.items.some((m) => m.subject === "You won!!!"), "spam excluded");
  // The metadata calls were batched, not sequential.
  assert.ok(f.emu.calls.filter((c) => c.batched).length === 50);
  // Every call, batched parts included, asks for compact JSON (Google indents it by default).
  const loose = f.emu.calls.filter((c) =>
    !new URL(c.path, "http://x").search.includes("prettyPrint=false")
  );
  assert.deepEqual(loose, []);
});

Deno.test("pagination walks every message exactly once", async () => {
  await using f = await setup();
  const seen = new Set<string>();
  let token: string | undefined;
  let pages = 0;
  do {
    const p = await f.client.search({ limit: 25, pageToken: token });
    p.items.forEach((m) => seen.add(m.id));
    token = p.nextPageToken;
    pages++;
  } while (token);
  const visible = f.emu.mailbox.list().filter((m) =>
    !m.labelIds.has("SPAM") && !m.labelIds.has("TRASH")
  );
  assert.equal(seen.size, visible.length);
  assert.equal(pages, Math.ceil(visible.length / 25));
});

Deno.test("limit is capped at 100 with a clear usage error", async () => {
  await using f = await setup();
  for (const limit of [0, 101, 2.5]) {
    await assert.rejects(
      f.client.search({ limit }),
      (e) =>
        e instanceof UsageError && e.code === "invalid_limit" && /nextPageToken/.test(e.message),
    );
  }
  assert.equal(f.emu.requestCount, 0);
});

Deno.test("query language: fields, labels by name, negation, OR, phrases, dates", async () => {
  await using f = await setup();
  const q = async (query: string) => (await f.client.search({ query, limit: 100 })).items;
  assert.equal((await q("label:Receipts")).length, 8);
  assert.equal((await q("label:receipts is:unread")).length, 3);
  assert.equal((await q("from:alice subject:quarterly")).length, 2);
  assert.ok(
    (await q("-label:Receipts has:attachment")).every((m) =>
      m.subject.startsWith("Your itinerary")
    ),
  );
  assert.equal((await q('"Party on Friday" OR München')).length, 2);
  assert.equal((await q("in:spam")).length, 1);
  assert.equal((await q("newer_than:1d")).length, 6); // thread (3) + receipts at -10h, -15h, -20h
  const epoch = Math.floor((Date.now() - 36 * 3600_000) / 1000);
  assert.equal((await q(`after:${epoch}`)).length, 9); // thread (3) + receipts -10h..-35h (6)
  const names = await q("会議");
  assert.equal(names[0].subject, "会議の議事録");
  assert.equal(names[0].from, "田中 花子 <hanako@example.jp>");
  // Search restricted by a label name resolved to its id.
  const viaLabel = await f.client.search({ labels: ["Receipts"], limit: 3 });
  assert.equal(viaLabel.items.length, 3);
  await assert.rejects(
    f.client.search({ labels: ["Nope"] }),
    (e) => e instanceof UsageError && e.code === "label_not_found" && /Receipts/.test(e.message),
  );
});

Deno.test("read: ISO-8859-1 quoted-printable body and encoded headers", async () => {
  await using f = await setup();
  const [hit] = (await f.client.search({ query: "subject:München" })).items;
  const m = await f.client.getMessage(hit.id);
  assert.equal(m.subject, "Grüße aus München");
  assert.equal(m.from, "Jürgen Müller <juergen@beispiel.de>");
  assert.match(
    m.text,
    /viele Grüße aus München! Das Wetter ist schön und die Straßen sind voller Leute\./,
  );
  assert.deepEqual(m.labels.sort(), ["Family", "INBOX", "STARRED"]);
  assert.equal(m.truncated, false);
});

Deno.test("read: Windows-1252, Japanese UTF-8 and emoji", async () => {
  await using f = await setup();
  const cp = await f.client.getMessage((await f.client.search({ query: "workshop" })).items[0].id);
  assert.equal(cp.text.trim(), "The total is 250 € \u201cpayable on receipt\u201d.");
  const jp = await f.client.getMessage((await f.client.search({ query: "議事録" })).items[0].id);
  assert.match(jp.text, /本日の会議の議事録を共有します/);
  const party = await f.client.getMessage((await f.client.search({ query: "party" })).items[0].id);
  assert.equal(party.subject, "🎉 Party on Friday");
  assert.match(party.text, /🍕/);
  assert.equal(party.cc, "Alice Martin <alice@example.org>");
});

Deno.test("read: HTML-only converted to text with HTML kept; multipart/alternative prefers plain", async () => {
  await using f = await setup();
  const nl = await f.client.getMessage(
    (await f.client.search({ query: "Deno Weekly #121" })).items[0].id,
  );
  assert.match(
    nl.text,
    /Top story: Fresh release notes \[https:\/\/example.com\/story\/1\] & more\./,
  );
  assert.ok(!nl.text.includes("<p>"));
  assert.ok(!nl.text.includes("color:red"));
  assert.match(nl.html ?? "", /<h2>Issue 121<\/h2>/);
  const r = await f.client.getMessage(
    (await f.client.search({ query: "receipt #1042" })).items[0].id,
  );
  assert.match(r.text, /^Thank you for your purchase\./);
  assert.match(r.html ?? "", /<table>/);
  assert.deepEqual(r.attachments.map((a) => [a.filename, a.mimeType, a.inline]), [[
    "receipt-1042.pdf",
    "application/pdf",
    false,
  ]]);
  assert.ok(r.attachments[0].size > 200 && r.attachments[0].attachmentId);
});

Deno.test("read: nested related/mixed with inline image and ICS attachment; truncation flag", async () => {
  await using f = await setup();
  const id = (await f.client.search({ query: "itinerary" })).items[0].id;
  const m = await f.client.getMessage(id, { maxBodyChars: 10 });
  assert.equal(m.truncated, true);
  assert.equal(m.text.length, 10);
  assert.deepEqual(m.attachments.map((a) => [a.filename, a.mimeType, a.inline]), [[
    "logo.png",
    "image/png",
    true,
  ], ["trip.ics", "text/calendar", false]]);
  const full = await f.client.getMessage(id);
  assert.equal(full.truncated, false);
  assert.match(full.text, /Your train leaves at 08:15/);
});

Deno.test("threads: read a whole conversation oldest first", async () => {
  await using f = await setup();
  const hit = (await f.client.search({ query: "subject:quarterly", limit: 1 })).items[0];
  const t = await f.client.getThread(hit.threadId);
  assert.equal(t.messages.length, 3);
  assert.deepEqual(t.messages.map((m) => m.from.split(" <")[0]), [
    "Alice Martin",
    "Ada Lovelace",
    "Alice Martin",
  ]);
  assert.equal(t.messages[2].inReplyTo, "<q-report-2@example.com>");
});

Deno.test("labels: listed, resolved by name, system names, cached in a CacheStore", async () => {
  await using f = await setup();
  const store = new Map<string, unknown>();
  const cache = {
    get: <T>(k: string) => Promise.resolve(store.get(k) as T | undefined),
    set: (k: string, v: unknown) => Promise.resolve(void store.set(k, v)),
    delete: (k: string) => Promise.resolve(void store.delete(k)),
    update: () => Promise.reject(new Error("unused")),
    keys: () => Promise.resolve([...store.keys()]),
    clear: () => Promise.resolve(store.clear()),
  };
  const c1 = f.makeClient({ cache });
  const labels = await c1.listLabels();
  assert.ok(labels.some((l) => l.name === "Receipts" && l.type === "user" && /^Label_/.test(l.id)));
  assert.ok(labels.some((l) => l.id === "INBOX" && l.type === "system"));
  assert.equal(await c1.labelId("receipts"), labels.find((l) => l.name === "Receipts")!.id);
  assert.equal(await c1.labelId("starred"), "STARRED");
  f.emu.resetCounters();
  const c2 = f.makeClient({ cache }); // a "new process" reuses the cached list
  assert.equal(await c2.labelId("Travel"), labels.find((l) => l.name === "Travel")!.id);
  assert.equal(f.emu.requestCount, 0);
  // A label created elsewhere is found after one refresh.
  f.emu.mailbox.addLabel("Fresh");
  assert.match(await c2.labelId("Fresh"), /^Label_/);
  const created = await c2.createLabel("Projects/Alpha");
  assert.equal(await c2.labelId("projects/alpha"), created.id);
});

Deno.test("profile", async () => {
  await using f = await setup();
  const p = await f.client.getProfile();
  assert.equal(p.emailAddress, "ada@example.com");
  assert.equal(p.messagesTotal, f.emu.mailbox.list().length);
});
