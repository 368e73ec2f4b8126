/**
 * The client's batch wire format, each direction checked against the Gmail emulator's
 * independent batch codec (lib/emulators/gmail/batch.ts, written from Google's batch guide),
 * and on the shapes Google and other encoders produce: CRLF or bare LF, a preamble and an
 * epilogue, transport padding after a delimiter, a quoted boundary, and bodies that merely
 * mention the boundary.
 */
import { assertEquals } from "../support/assert.ts";
import { encodeBatchRequest, parseBatchResponse } from "../../lib/gmail/batch_wire.ts";
import { type BatchAnswer, encodeBatchAnswer, readBatch } from "../../lib/emulators/gmail/batch.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("batch responses from an independent encoder parse in order", () => {
  const items: BatchAnswer[] = [
    { id: "0", status: 200, headers: { "content-type": "application/json" }, body: '{"id":"a"}' },
    { id: "1", status: 404, headers: {}, body: '{"error":{"code":404}}' },
    { id: "2", status: 200, headers: {}, body: '{"snippet":"Grüße 👋"}' },
  ];
  const { body, contentType } = encodeBatchAnswer(items);
  const parsed = parseBatchResponse(contentType, enc(body));
  assertEquals(
    parsed.map((p) => [p.id, p.status, p.body]),
    items.map((i) => [i.id, i.status, i.body]),
  );
  assertEquals(parsed[0].headers["content-type"], "application/json");
});

Deno.test("batch requests are read by an independent parser, including a colon in the path", () => {
  const reqs = [
    { id: "a", method: "GET", path: "/gmail/v1/users/me/messages/x?format=metadata&q=a:b" },
    { id: "b", method: "POST", path: "/gmail/v1/users/me/messages/y/modify", body: '{"x":1}' },
  ];
  const { body, contentType } = encodeBatchRequest(reqs);
  const read = readBatch(contentType, body);
  if ("error" in read) throw new Error(read.error);
  const dec = new TextDecoder();
  assertEquals(read.parts.map((p) => [p.id, p.method, p.target, dec.decode(p.body)]), [
    ["a", "GET", reqs[0].path, ""],
    ["b", "POST", reqs[1].path, '{"x":1}'],
  ]);
});

Deno.test("batch responses: LF line ends, preamble, padding, quoted boundary, epilogue", () => {
  const text = [
    "This is the preamble; --b1 is not a delimiter here.",
    "--b1  ",
    "Content-Type: application/http",
    "Content-ID: <response-7>",
    "",
    "HTTP/1.1 200 OK",
    "Content-Type: application/json; charset=UTF-8",
    "",
    '{"note":"mentions --b1 mid-line"}',
    "--b1",
    "Content-Type: application/http",
    "Content-ID: <response-8>",
    "",
    "HTTP/1.1 401 Unauthorized",
    "",
    '{"error":{"code":401}}',
    "--b1--",
    "epilogue --b1 ignored",
  ].join("\n");
  const parsed = parseBatchResponse('multipart/mixed; boundary="b1"', enc(text));
  assertEquals(parsed.map((p) => [p.id, p.status, p.body]), [
    ["7", 200, '{"note":"mentions --b1 mid-line"}'],
    ["8", 401, '{"error":{"code":401}}'],
  ]);
  assertEquals(parseBatchResponse("multipart/mixed", enc(text)), []);
});
