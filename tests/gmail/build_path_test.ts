/**
 * The request paths of the Gmail client: the query string as URLSearchParams would write it
 * (without building one per request), `prettyPrint=false` on every call.
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { buildPath, formEncode } from "../../lib/gmail/http.ts";

Deno.test("buildPath writes queries exactly as URLSearchParams would (any text, repeated keys, prettyPrint=false last)", () => {
  const alphabet = [
    "a",
    "Z",
    "0",
    " ",
    "+",
    "&",
    "=",
    "%",
    "/",
    "?",
    "#",
    ":",
    "(",
    ")",
    "!",
    "'",
    "~",
    "*",
    "-",
    ".",
    "_",
    "é",
    "漢",
    "😀",
    "\uD800",
    "\uDC00",
    "\n",
    '"',
  ];
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const text = () =>
    Array.from({ length: rand(12) }, () => alphabet[rand(alphabet.length)]).join("");
  for (let i = 0; i < 500; i++) {
    const q = text();
    const h = [text(), text()];
    const want = new URLSearchParams();
    want.append("q", q);
    for (const x of h) want.append("metadataHeaders", x);
    want.append("maxResults", "20");
    want.append("prettyPrint", "false");
    assertEquals(
      buildPath("messages", { q, metadataHeaders: h, maxResults: 20, pageToken: undefined }),
      `/gmail/v1/users/me/messages?${want}`,
    );
    assertEquals(formEncode(q), new URLSearchParams({ x: q }).toString().slice(2));
  }
  assertEquals(
    buildPath("/upload/gmail/v1/users/me/drafts"),
    "/upload/gmail/v1/users/me/drafts?prettyPrint=false",
  );
});
