/**
 * The batch wire format, both directions, on the shapes Google and other encoders produce:
 * CRLF or bare LF, a preamble and an epilogue, transport padding after a delimiter, a quoted
 * boundary, and bodies that merely mention the boundary.
 */
import { assertEquals } from "../support/assert.ts";
import {
  type BatchResponseItem,
  encodeBatchRequest,
  encodeBatchResponse,
  parseBatchRequest,
  parseBatchResponse,
} from "../../lib/gmail/batch_wire.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("batch responses round-trip through encode and parse, in order", () => {
  const items: BatchResponseItem[] = [
    { id: "0", status: 200, headers: { "content-type": "application/json" }, body: '{"id":"a"}' },
    { id: "1", status: 404, headers: {}, body: '{"error":{"code":404}}' },
    { id: "2", status: 200, headers: {}, body: '{"snippet":"Grüße 👋"}' },
  ];
  const { body, contentType } = encodeBatchResponse(items);
  const parsed = parseBatchResponse(contentType, body);
  assertEquals(
    parsed.map((p) => [p.id, p.status, p.body]),
    items.map((i) => [i.id, i.status, i.body]),
  );
  assertEquals(parsed[0].headers["content-type"], "application/json");
});

Deno.test("batch requests round-trip, including a colon in the path", () => {
  const reqs = [
    { id: "a", method: "GET", path: "/gmail/v1/users/me/messages/x?format=metadata&q=a:b" },
    { id: "b", method: "POST", path: "/gmail/v1/users/me/messages/y/modify", body: '{"x":1}' },
  ];
  const { body, contentType } = encodeBatchRequest(reqs);
  const parsed = parseBatchRequest(contentType, body);
  assertEquals(parsed.map((p) => [p.id, p.method, p.path, p.body ?? ""]), [
    ["a", "GET", reqs[0].path, ""],
    ["b", "POST", reqs[1].path, '{"x":1}'],
  ]);
  assertEquals(parsed[0].headers, {});
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
