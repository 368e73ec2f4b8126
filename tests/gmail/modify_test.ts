import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { numbered, safeFileName } from "../../lib/gmail/attachments.ts";
import { setup } from "./_helpers.ts";

Deno.test("modify: read/unread, star/unstar, archive, labels by name, trash/untrash", async () => {
  await using f = await setup();
  const box = f.emu.mailbox;
  const unread = (await f.client.search({ query: "is:unread", limit: 3 })).items.map((m) => m.id);
  await f.client.markRead(unread);
  assert.ok(unread.every((id) => !box.get(id)!.labelIds.has("UNREAD")));
  const one = [unread[0]];
  assert.ok((await f.client.markUnread(one)).labels!.includes("UNREAD"));
  await f.client.star(one);
  assert.ok(box.get(one[0])!.labelIds.has("STARRED"));
  await f.client.unstar(one);
  assert.ok(!box.get(one[0])!.labelIds.has("STARRED"));
  await f.client.archive(one);
  assert.ok(!box.get(one[0])!.labelIds.has("INBOX"));
  const r = await f.client.modifyLabels(one, { add: ["Receipts", "travel"], remove: ["Work"] });
  assert.ok(
    r.labels!.includes("Receipts") && r.labels!.includes("Travel") && !r.labels!.includes("Work"),
  );
  await assert.rejects(
    f.client.modifyLabels(one, { add: ["NoSuchLabel"] }),
    (e) => e instanceof UsageError && e.code === "label_not_found",
  );
  const trashed = await f.client.trash(one);
  assert.ok(box.get(one[0])!.labelIds.has("TRASH"));
  assert.ok(trashed.labels?.includes("TRASH"), "trash returns the resulting label names");
  assert.ok(!(await f.client.search({ limit: 100 })).items.some((m) => m.id === one[0]));
  const restored = await f.client.untrash(one);
  assert.ok(!box.get(one[0])!.labelIds.has("TRASH"));
  assert.ok(restored.labels && !restored.labels.includes("TRASH"));
});

Deno.test("batchModify is used for several ids (one request)", async () => {
  await using f = await setup();
  const ids = f.emu.mailbox.list().slice(0, 10).map((m) => m.id);
  await f.client.listLabels();
  f.emu.resetCounters();
  await f.client.star(ids);
  assert.equal(f.emu.requestCount, 1);
  assert.ok(ids.every((id) => f.emu.mailbox.get(id)!.labelIds.has("STARRED")));
});

Deno.test("safe download names: no traversal, hidden, reserved or control characters", () => {
  assert.equal(safeFileName("../../etc/passwd"), "passwd");
  assert.equal(safeFileName("..\\..\\boot.ini"), "boot.ini");
  assert.equal(safeFileName(".bashrc"), "bashrc");
  assert.equal(safeFileName("a\u0000b\r\nc.txt"), "a_b__c.txt");
  assert.equal(safeFileName(".."), "attachment");
  assert.equal(safeFileName(""), "attachment");
  assert.equal(safeFileName("CON.txt"), "_CON.txt");
  assert.equal(safeFileName("rapport: final?.pdf"), "rapport_ final_.pdf");
  const long = safeFileName("ü".repeat(300) + ".pdf");
  assert.ok(new TextEncoder().encode(long).length <= 200 && long.endsWith(".pdf"));
  assert.equal(numbered("a.tar.gz", 2), "a.tar (2).gz");
  assert.equal(numbered("README", 1), "README (1)");
});

Deno.test("download: hostile attachment name lands inside the directory", async () => {
  await using f = await setup({ seed: false });
  const raw =
    'From: x@example.org\r\nTo: ada@example.com\r\nSubject: evil\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="../../evil.sh"\r\n\r\necho pwned\r\n--b--\r\n';
  const m = f.emu.mailbox.insert(raw, { labels: ["INBOX"] });
  const dir = await Deno.makeTempDir();
  try {
    const d = await f.client.downloadAttachment(m.id, {}, dir);
    assert.equal(d.path, `${dir}/evil.sh`);
    assert.equal(await Deno.readTextFile(d.path), "echo pwned");
    await assert.rejects(
      f.client.downloadAttachment(m.id, {}, `${dir}/missing`),
      (e) => e instanceof UsageError && e.code === "invalid_directory",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
