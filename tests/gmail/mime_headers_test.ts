/**
 * Outgoing headers and parts checked with an independent parser (postal-mime): folding of long
 * headers (RFC 5322 §2.1.1), encoded words and RFC 2231 continuations, punycode domains,
 * line breaks in text parts, message/rfc822 attachments, encoded-word look-alikes.
 * @module
 */
import assert from "node:assert/strict";
import PostalMime from "postal-mime";
import { buildMime, parseAddressList } from "../../lib/gmail/mime_build.ts";

const dec = new TextDecoder();

/** The header block (up to the first empty line) split into physical lines. */
function headerLines(raw: Uint8Array): string[] {
  const text = dec.decode(raw);
  return text.slice(0, text.indexOf("\r\n\r\n")).split("\r\n");
}

/** Every physical line of the message. */
function allLines(raw: Uint8Array): string[] {
  return dec.decode(raw).split("\r\n");
}

Deno.test("long headers are folded: 60 named recipients, 30 References, 1,200-char subject, 120-char CJK file name", async () => {
  const names = Array.from({ length: 60 }, (_, i) => `Recipient Number ${i}, Team ${i % 7}`);
  const to = names.map((n, i) => `"${n}" <r${i}@example.com>`);
  const cc = Array.from({ length: 25 }, (_, i) => `Jürgen Müller ${i} <j${i}@example.org>`);
  const references = Array.from(
    { length: 30 },
    (_, i) => `<thread-${i}.a1b2c3d4e5f6@mail.example.com>`,
  );
  const words = ["quarterly", "report", "for", "the", "board", "meeting", "next", "week"];
  let subject = "";
  for (let i = 0; subject.length < 1200; i++) subject += (i ? " " : "") + words[i % words.length];
  subject = subject.slice(0, 1200).trimEnd();
  const filename = "会議資料".repeat(30) + ".pdf"; // 120 CJK characters
  const content = Uint8Array.from({ length: 100 }, (_, i) => i);
  const raw = buildMime({
    to: parseAddressList(to, "to"),
    cc: parseAddressList(cc, "cc"),
    subject,
    text: "body",
    references,
    inReplyTo: references.at(-1),
    attachments: [{ filename, mimeType: "application/pdf", content }],
  });
  for (const line of allLines(raw)) assert.ok(line.length <= 998, `line of ${line.length}`);
  for (const line of headerLines(raw)) assert.ok(line.length <= 78, line);
  const email = await PostalMime.parse(raw);
  assert.equal(email.subject, subject);
  assert.deepEqual(
    email.to?.map((a) => [a.name, a.address]),
    names.map((n, i) => [n, `r${i}@example.com`]),
  );
  assert.deepEqual(
    email.cc?.map((a) => [a.name, a.address]),
    cc.map((_, i) => [`Jürgen Müller ${i}`, `j${i}@example.org`]),
  );
  assert.equal(email.references, references.join(" "));
  assert.equal(email.attachments.length, 1);
  assert.equal(email.attachments[0].filename, filename);
  assert.deepEqual(new Uint8Array(email.attachments[0].content as ArrayBuffer), content);
});

Deno.test("a subject without spaces and a long ASCII file name still fit in short lines", async () => {
  const subject = "x".repeat(1200);
  const filename = "a-very-long-ascii-file-name-".repeat(8) + "end.txt";
  const raw = buildMime({
    to: parseAddressList("bob@example.org", "to"),
    subject,
    text: "body",
    attachments: [{ filename, mimeType: "text/plain", content: new Uint8Array([65]) }],
  });
  for (const line of allLines(raw)) assert.ok(line.length <= 78, `line of ${line.length}`);
  const email = await PostalMime.parse(raw);
  assert.equal(email.subject, subject);
  assert.equal(email.attachments[0].filename, filename);
});

Deno.test("text that looks like an encoded word is displayed as typed", async () => {
  const subject = "Literal =?UTF-8?B?SGFja2Vk?=";
  const name = "=?UTF-8?B?QWRtaW4=?=";
  const raw = buildMime({
    to: [{ name, email: "bob@example.org" }],
    subject,
    text: "body",
  });
  const email = await PostalMime.parse(raw);
  assert.equal(email.subject, subject);
  assert.equal(email.to?.[0].name, name);
  assert.equal(email.to?.[0].address, "bob@example.org");
});

Deno.test("non-ASCII domains are written in punycode", async () => {
  const raw = buildMime({
    from: { name: "Ada", email: "ada@bücher.de" },
    to: parseAddressList("Иван <ivan@пример.рф>, zoe@例え.テスト", "to"),
    subject: "hi",
    text: "body",
  });
  for (const line of headerLines(raw)) assert.match(line, /^[\x20-\x7e]*$/, line);
  const email = await PostalMime.parse(raw);
  assert.equal(email.from?.address, "ada@xn--bcher-kva.de");
  assert.deepEqual(email.to?.map((a) => a.address), [
    "ivan@xn--e1afmkfd.xn--p1ai",
    "zoe@xn--r8jz45g.xn--zckzah",
  ]);
  assert.equal(email.to?.[0].name, "Иван");
  assert.match(email.messageId ?? "", /@xn--bcher-kva\.de>$/);
});

Deno.test("lone CR and LF in text parts become CRLF", async () => {
  const raw = buildMime({
    to: parseAddressList("bob@example.org", "to"),
    subject: "line breaks",
    text: "one\rtwo\nthree\r\nfour",
    html: "<p>a</p>\r<p>b</p>",
  });
  const text = dec.decode(raw);
  assert.doesNotMatch(text, /\r(?!\n)/, "no lone CR");
  assert.doesNotMatch(text, /(?<!\r)\n/, "no lone LF");
  const email = await PostalMime.parse(raw);
  assert.deepEqual(email.text?.trim().split(/\r?\n/), ["one", "two", "three", "four"]);
  assert.deepEqual(email.html?.trim().split(/\r?\n/), ["<p>a</p>", "<p>b</p>"]);
});

Deno.test(".eml attachments: message/rfc822 never base64; binary content falls back to octet-stream", async () => {
  const inner = "From: alice@example.com\nTo: bob@example.org\nSubject: Grüße\n\nHallo\n";
  const raw = buildMime({
    to: parseAddressList("bob@example.org", "to"),
    subject: "fwd",
    text: "see attached",
    attachments: [
      {
        filename: "note.eml",
        mimeType: "message/rfc822",
        content: new TextEncoder().encode(inner),
      },
      {
        filename: "bad.eml",
        mimeType: "message/rfc822",
        content: Uint8Array.from([0xff, 0, 1, 13]),
      },
    ],
  });
  const text = dec.decode(raw);
  // RFC 2046 §5.2.1: message/rfc822 only with 7bit, 8bit or binary.
  const rfc822Parts = text.split(/\r\n--mcs_mixed_[0-9a-f]+/).filter((p) =>
    /message\/rfc822/i.test(p)
  );
  assert.equal(rfc822Parts.length, 1);
  assert.match(rfc822Parts[0], /Content-Transfer-Encoding: 8bit/);
  const email = await PostalMime.parse(raw, { rfc822Attachments: true });
  const names = email.attachments.map((a) => [a.filename, a.mimeType]);
  assert.deepEqual(names, [["note.eml", "message/rfc822"], [
    "bad.eml",
    "application/octet-stream",
  ]]);
  const innerParsed = await PostalMime.parse(email.attachments[0].content as ArrayBuffer);
  assert.equal(innerParsed.subject, "Grüße");
  assert.equal(innerParsed.text?.trim(), "Hallo");
  assert.deepEqual(
    new Uint8Array(email.attachments[1].content as ArrayBuffer),
    Uint8Array.from([0xff, 0, 1, 13]),
  );
});
