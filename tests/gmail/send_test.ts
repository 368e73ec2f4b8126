import assert from "node:assert/strict";
import PostalMime from "postal-mime";
import { UsageError } from "../../lib/errors.ts";
import { setup } from "./_helpers.ts";

Deno.test("send: text with to/cc/bcc/reply-to; bcc honoured but not in the stored copy", async () => {
  await using f = await setup({ seed: false });
  const sent = await f.client.send({
    to: "Bob <bob@example.org>",
    cc: ["carol@example.org"],
    bcc: "dave@example.org, erin@example.org",
    replyTo: "replies@example.com",
    subject: "Grüße aus Köln 🎉",
    text: "Hallo Bob,\nC:\\new stays as is.",
  });
  assert.deepEqual(sent.labels, ["SENT"]);
  const d = f.emu.mailbox.deliveries.at(-1)!;
  assert.deepEqual(d.to, ["bob@example.org"]);
  assert.deepEqual(d.cc, ["carol@example.org"]);
  assert.deepEqual(d.bcc, ["dave@example.org", "erin@example.org"]);
  const raw = f.emu.mailbox.get(sent.id)!.raw;
  const email = await PostalMime.parse(raw);
  assert.equal(email.subject, "Grüße aus Köln 🎉");
  assert.equal(email.bcc, undefined);
  assert.equal(email.replyTo?.[0].address, "replies@example.com");
  assert.equal(email.from?.address, "ada@example.com"); // Gmail fills From
  assert.equal(email.text?.replace(/\r\n/g, "\n").trim(), "Hallo Bob,\nC:\\new stays as is.");
  const back = await f.client.getMessage(sent.id);
  assert.equal(back.subject, "Grüße aus Köln 🎉");
});

Deno.test("send: text + HTML becomes multipart/alternative", async () => {
  await using f = await setup({ seed: false });
  const sent = await f.client.send({
    to: "bob@example.org",
    subject: "News",
    text: "plain version",
    html: "<p>html <b>version</b></p>",
  });
  const m = await f.client.getMessage(sent.id);
  assert.equal(m.text, "plain version");
  assert.equal(m.html, "<p>html <b>version</b></p>");
  assert.match(f.emu.mailbox.rawText(sent.id), /Content-Type: multipart\/alternative/);
});

Deno.test("attachments round-trip: send from a file, download yields identical bytes", async () => {
  await using f = await setup({ seed: false });
  const dir = await Deno.makeTempDir();
  try {
    const bytes = crypto.getRandomValues(new Uint8Array(40_000));
    await Deno.writeFile(`${dir}/data.bin`, bytes);
    const sent = await f.client.send({
      to: "bob@example.org",
      subject: "files",
      text: "see attached",
      attachments: [{ path: `${dir}/data.bin` }, {
        content: new TextEncoder().encode("ü"),
        filename: "notiz ü.txt",
      }],
    });
    const m = await f.client.getMessage(sent.id);
    assert.deepEqual(m.attachments.map((a) => [a.filename, a.mimeType, a.size]), [
      ["data.bin", "application/octet-stream", 40_000],
      ["notiz ü.txt", "text/plain", 2],
    ]);
    const out = await Deno.makeTempDir();
    try {
      const d1 = await f.client.downloadAttachment(sent.id, { filename: "data.bin" }, out);
      assert.deepEqual(await Deno.readFile(d1.path), bytes);
      // No overwrite: a second download gets "name (1).ext".
      const d2 = await f.client.downloadAttachment(
        sent.id,
        { partId: m.attachments[0].partId },
        out,
      );
      assert.equal(d2.filename, "data (1).bin");
      const d3 = await f.client.downloadAttachment(sent.id, { filename: "data.bin" }, out, {
        overwrite: true,
      });
      assert.equal(d3.path, d1.path);
      const d4 = await f.client.downloadAttachment(sent.id, {
        attachmentId: m.attachments[1].attachmentId,
      }, out);
      assert.equal(await Deno.readTextFile(d4.path), "ü");
      await assert.rejects(
        f.client.downloadAttachment(sent.id, { filename: "nope" }, out),
        (e) => e instanceof UsageError && e.code === "attachment_not_found",
      );
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reply in thread: threadId, In-Reply-To, References, Re: subject, recipient", async () => {
  await using f = await setup();
  const orig =
    (await f.client.search({ query: "subject:quarterly from:alice", limit: 1 })).items[0];
  const sent = await f.client.send({ replyToMessageId: orig.id, text: "Thanks Alice" });
  assert.equal(sent.threadId, orig.threadId);
  const m = await f.client.getMessage(sent.id);
  assert.equal(m.subject, "Re: Quarterly report draft");
  assert.equal(m.inReplyTo, "<q-report-3@example.org>");
  assert.equal(
    m.references,
    "<q-report-1@example.org> <q-report-2@example.com> <q-report-3@example.org>",
  );
  assert.equal(m.to, "Alice Martin <alice@example.org>");
  assert.equal((await f.client.getThread(orig.threadId)).messages.length, 4);
});

Deno.test("reply-all adds the original To/Cc minus the owner", async () => {
  await using f = await setup();
  const party = (await f.client.search({ query: "party" })).items[0];
  const sent = await f.client.send({
    replyToMessageId: party.id,
    replyAll: true,
    text: "I'll bring chips",
  });
  const d = f.emu.mailbox.deliveries.at(-1)!;
  assert.deepEqual(d.to, ["sam@example.net"]);
  assert.deepEqual(d.cc, ["alice@example.org"]);
  assert.equal(sent.threadId, party.threadId);
});

Deno.test("invalid input is rejected before any request", async () => {
  await using f = await setup({ seed: false });
  await assert.rejects(
    f.client.send({ to: "not-an-address", subject: "x", text: "y" }),
    (e) => e instanceof UsageError && e.code === "invalid_address",
  );
  await assert.rejects(
    f.client.send({ to: "a@b.co", subject: "x\nBcc: evil@x.org", text: "y" }),
    (e) => e instanceof UsageError && e.code === "header_injection",
  );
  await assert.rejects(
    f.client.send({ to: "a@b.co", bcc: "ok@x.org\r\nX: y", subject: "x", text: "y" }),
    (e) => e instanceof UsageError && e.code === "header_injection",
  );
  await assert.rejects(
    f.client.send({ to: "a@b.co", subject: "x" }),
    (e) => e instanceof UsageError && e.code === "missing_body",
  );
  await assert.rejects(
    f.client.send({ subject: "x", text: "y" }),
    (e) => e instanceof UsageError && e.code === "missing_recipient",
  );
  assert.equal(f.emu.requestCount, 0);
  assert.equal(f.emu.mailbox.deliveries.length, 0);
});

Deno.test("large messages use the upload endpoint (media, and multipart when replying)", async () => {
  await using f = await setup({ maxJsonBytes: 64_000, client: { maxJsonBytes: 50_000 } });
  const big = Uint8Array.from({ length: 120_000 }, (_, i) => (i * 7919) % 251);
  const sent = await f.client.send({
    to: "bob@example.org",
    subject: "big",
    text: "x",
    attachments: [{ content: big, filename: "big.bin" }],
  });
  assert.ok(
    f.emu.calls.some((c) =>
      c.path.startsWith("/upload/gmail/v1/users/me/messages/send?uploadType=media")
    ),
  );
  const orig = (await f.client.search({ query: "subject:quarterly", limit: 1 })).items[0];
  const reply = await f.client.send({
    replyToMessageId: orig.id,
    text: "big reply",
    attachments: [{ content: big, filename: "big.bin" }],
  });
  assert.ok(f.emu.calls.some((c) => c.path.includes("uploadType=multipart")));
  assert.equal(reply.threadId, orig.threadId);
  const out = await Deno.makeTempDir();
  try {
    const d = await f.client.downloadAttachment(sent.id, {}, out);
    assert.deepEqual(await Deno.readFile(d.path), big);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
  // Without the upload path the emulator rejects the JSON body like Gmail does.
  const naive = f.makeClient({ maxJsonBytes: 10_000_000 });
  await assert.rejects(
    naive.send({
      to: "bob@example.org",
      subject: "big",
      text: "x",
      attachments: [{ content: big, filename: "b.bin" }],
    }),
    (e) => (e as { code?: string }).code === "gmail_payload_too_large",
  );
});

Deno.test("drafts: create, list with subjects, send (bcc honoured), upload for large drafts", async () => {
  await using f = await setup({
    seed: false,
    maxJsonBytes: 64_000,
    client: { maxJsonBytes: 50_000 },
  });
  const d1 = await f.client.createDraft({
    to: "bob@example.org",
    bcc: "hidden@example.org",
    subject: "Entwurf ü",
    text: "draft body",
  });
  const d2 = await f.client.createDraft({
    to: "carol@example.org",
    subject: "big draft",
    text: "x",
    attachments: [{ content: new Uint8Array(80_000), filename: "z.bin" }],
  });
  assert.ok(f.emu.calls.some((c) => c.path.startsWith("/upload/gmail/v1/users/me/drafts")));
  const list = await f.client.listDrafts();
  assert.deepEqual(list.items.map((d) => d.subject).sort(), ["Entwurf ü", "big draft"]);
  assert.ok(list.items.every((d) => d.id && d.messageId));
  const sent = await f.client.sendDraft(d1.id);
  assert.equal(sent.id, d1.messageId);
  assert.deepEqual(sent.labels, ["SENT"]);
  assert.deepEqual(f.emu.mailbox.deliveries.at(-1)!.bcc, ["hidden@example.org"]);
  assert.deepEqual((await f.client.listDrafts()).items.map((d) => d.id), [d2.id]);
});

Deno.test("download with overwrite never writes through a symbolic link", async () => {
  await using f = await setup({ seed: false });
  const sent = await f.client.send({
    to: "bob@example.org",
    subject: "file",
    text: "see attached",
    attachments: [{ content: new TextEncoder().encode("attachment"), filename: "report.txt" }],
  });
  const out = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${outside}/secret.txt`, "outside");
    await Deno.symlink(`${outside}/secret.txt`, `${out}/report.txt`);
    await assert.rejects(
      f.client.downloadAttachment(sent.id, { filename: "report.txt" }, out, { overwrite: true }),
      (e) => e instanceof UsageError && e.code === "target_is_symlink",
    );
    assert.equal(await Deno.readTextFile(`${outside}/secret.txt`), "outside");
    assert.ok((await Deno.lstat(`${out}/report.txt`)).isSymlink);
    // A dangling link: the same clear error, not internal_error.
    await Deno.remove(`${outside}/secret.txt`);
    await assert.rejects(
      f.client.downloadAttachment(sent.id, { filename: "report.txt" }, out, { overwrite: true }),
      (e) => e instanceof UsageError && e.code === "target_is_symlink",
    );
    await assert.rejects(Deno.lstat(`${outside}/secret.txt`), Deno.errors.NotFound);
    // Without overwrite the link is left alone and the file gets a new name.
    const d = await f.client.downloadAttachment(sent.id, { filename: "report.txt" }, out);
    assert.equal(d.filename, "report (1).txt");
    await assert.rejects(Deno.lstat(`${outside}/secret.txt`), Deno.errors.NotFound);
    // A regular file is replaced, and no temporary file is left behind.
    await Deno.remove(`${out}/report.txt`);
    await Deno.writeTextFile(`${out}/report.txt`, "old");
    const r = await f.client.downloadAttachment(sent.id, { filename: "report.txt" }, out, {
      overwrite: true,
    });
    assert.equal(await Deno.readTextFile(r.path), "attachment");
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(out))).map((e) => e.name).sort(),
      ["report (1).txt", "report.txt"].sort(),
    );
  } finally {
    await Deno.remove(out, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test(".eml attachment from a file goes out as message/rfc822 (8bit) and downloads intact", async () => {
  await using f = await setup({ seed: false });
  const dir = await Deno.makeTempDir();
  try {
    const inner = "From: alice@example.com\r\nSubject: Grüße\r\n\r\nHallo\r\n";
    await Deno.writeTextFile(`${dir}/note.eml`, inner);
    const sent = await f.client.send({
      to: "bob@example.org",
      subject: "fwd",
      text: "see attached",
      attachments: [{ path: `${dir}/note.eml` }],
    });
    const raw = new TextDecoder().decode(f.emu.mailbox.get(sent.id)!.raw);
    assert.match(raw, /Content-Type: message\/rfc822;[^]*?Content-Transfer-Encoding: 8bit/);
    const m = await f.client.getMessage(sent.id);
    assert.deepEqual(m.attachments.map((a) => [a.filename, a.mimeType]), [
      ["note.eml", "message/rfc822"],
    ]);
    const d = await f.client.downloadAttachment(sent.id, { filename: "note.eml" }, dir, {
      overwrite: true,
    });
    assert.equal(await Deno.readTextFile(d.path), inner);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
