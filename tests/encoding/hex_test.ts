/** `lib/encoding/hex.ts`: lowercase base16, two digits a byte (RFC 4648 section 8 vectors). */
import { assertEquals } from "../support/assert.ts";
import { encodeHex } from "../../lib/encoding/hex.ts";

Deno.test("encodeHex: RFC 4648 vectors, lowercase, leading zeros kept, views and buffers", () => {
  const utf8 = new TextEncoder();
  for (const [text, hex] of [["", ""], ["f", "66"], ["fo", "666f"], ["foobar", "666f6f626172"]]) {
    assertEquals(encodeHex(utf8.encode(text)), hex);
  }
  assertEquals(encodeHex(new Uint8Array([0, 1, 15, 16, 171, 255])), "00010f10abff");
  const bytes = new Uint8Array([9, 10, 11, 12]);
  assertEquals(encodeHex(bytes.subarray(1, 3)), "0a0b");
  assertEquals(encodeHex(bytes.buffer), "090a0b0c");
});
