import assert from "node:assert/strict";
import PostalMime from "postal-mime";
import { buildMime, isValidEmail, parseAddressList } from "../../lib/gmail/mime_build.ts";
import { decodeBase64Lenient, encodeBase64Url } from "../../lib/encoding/base64.ts";
import {
  decodeCharset,
  decodeEncodedWords,
  quotedPrintableDecode,
} from "../../lib/gmail/encoding.ts";
import { headerText } from "../../lib/gmail/header_format.ts";
import { UsageError } from "../../lib/errors.ts";

Deno.test("RFC 2047 decode: Q and B words, charsets, adjacent words joined", () => {
  assert.equal(
    decodeEncodedWords("=?ISO-8859-1?Q?Gr=FC=DFe_aus?= =?UTF-8?B?TcO8bmNoZW4=?="),
    "Grüße ausMünchen",
  );
  assert.equal(decodeEncodedWords("plain text"), "plain text");
  assert.equal(decodeEncodedWords("=?windows-1252?Q?=80_5?="), "€ 5");
});

Deno.test("RFC 2047 encode round-trips long non-ASCII text in ≤75-char words", () => {
  const text = "会議の議事録 ".repeat(12) + "🎉";
  const enc = headerText(text);
  for (const w of enc.split(" ")) assert.ok(w.length <= 75, w);
  assert.equal(decodeEncodedWords(enc), text);
  assert.equal(headerText("ascii"), "ascii");
});

Deno.test("base64url, quoted-printable and charset decoding", () => {
  const bytes = Uint8Array.from([0, 250, 251, 252, 253, 254, 255]);
  assert.deepEqual(decodeBase64Lenient(encodeBase64Url(bytes)), bytes);
  assert.equal(
    decodeCharset(quotedPrintableDecode("Stra=DFe =\r\nM=FCnchen"), "iso-8859-1"),
    "Straße München",
  );
  assert.equal(
    decodeCharset(Uint8Array.from([0x93, 0x68, 0x69, 0x94]), "windows-1252"),
    "\u201chi\u201d",
  );
  assert.equal(decodeCharset(new TextEncoder().encode("ok"), "x-unknown-charset"), "ok");
});

Deno.test("buildMime: alternative + attachment + non-ASCII, checked with postal-mime", async () => {
  const content = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
  const raw = buildMime({
    from: { name: "Ada Lovelace", email: "ada@example.com" },
    to: parseAddressList('"Müller, Jürgen" <juergen@beispiel.de>, bob@example.org', "to"),
    bcc: parseAddressList("secret@example.net", "bcc"),
    subject: "Grüße 🎉 会議",
    text: "Hallo München\nZeile 2",
    html: "<p>Hallo <b>München</b></p>",
    attachments: [{ filename: "Bericht ü.pdf", mimeType: "application/pdf", content }],
    inReplyTo: "<a@x>",
    references: ["<root@x>", "<a@x>"],
  });
  const email = await PostalMime.parse(raw);
  assert.equal(email.subject, "Grüße 🎉 会議");
  assert.equal(email.to?.length, 2);
  assert.equal(email.to?.[0].name, "Müller, Jürgen");
  assert.equal(email.bcc?.[0].address, "secret@example.net");
  assert.equal(email.text?.trim().replace(/\r\n/g, "\n"), "Hallo München\nZeile 2");
  assert.match(email.html ?? "", /<b>München<\/b>/);
  assert.equal(email.inReplyTo, "<a@x>");
  assert.equal(email.attachments.length, 1);
  assert.equal(email.attachments[0].filename, "Bericht ü.pdf");
  assert.deepEqual(new Uint8Array(email.attachments[0].content as ArrayBuffer), content);
});

Deno.test("header injection is rejected in subject, names, addresses and file names", () => {
  const to = parseAddressList("bob@example.org", "to");
  assert.throws(
    () => buildMime({ to, subject: "hi\r\nBcc: evil@x.org", text: "x" }),
    (e) => e instanceof UsageError && e.code === "header_injection",
  );
  assert.throws(
    () => parseAddressList("bob@example.org\nBcc: evil@x.org", "to"),
    (e) => e instanceof UsageError && e.code === "header_injection",
  );
  assert.throws(
    () =>
      buildMime({
        to,
        subject: "s",
        text: "x",
        attachments: [{
          filename: "a\r\n.pdf",
          mimeType: "application/pdf",
          content: new Uint8Array(1),
        }],
      }),
    (e) => e instanceof UsageError && e.code === "header_injection",
  );
  assert.throws(
    () => buildMime({ to: [{ name: "x\ny", email: "a@b.co" }], subject: "s", text: "x" }),
    (e) => e instanceof UsageError,
  );
});

Deno.test("invalid addresses are rejected with the field named", () => {
  for (const bad of ["bob", "bob@", "@x.org", "bob@localhost", "a b@x.org", "bob@x..org", "<>"]) {
    assert.equal(isValidEmail(bad.replace(/[<>]/g, "")), false, bad);
    assert.throws(
      () => parseAddressList(bad, "cc"),
      (e) => e instanceof UsageError && e.code === "invalid_address" && /cc/.test(e.message),
    );
  }
  assert.deepEqual(parseAddressList("A <a@x.org>; b@y.co", "to"), [
    { name: "A", email: "a@x.org" },
    { email: "b@y.co" },
  ]);
});
