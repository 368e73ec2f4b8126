/**
 * Pinned outbound connections (DNS rebinding closed): a call reaches the address the guard
 * checked, whatever the name resolves to, with TLS still verified against the URL's host name.
 * `tenant.example.test` resolves nowhere, so reaching it proves the pinned address was used.
 * @module
 */
import { assertEquals, assertRejects } from "../support/assert.ts";
import { createTestCA } from "../../lib/emulators/tls.ts";
import { pinnedFetch } from "../../lib/broker/pin.ts";

Deno.test("pinned fetch: https and http reach the checked address with the URL's host; a certificate for another name fails", async () => {
  const ca = await createTestCA();
  const right = await ca.issue(["tenant.example.test"]);
  const wrong = await ca.issue(["other.example.test"]);
  const answer = (req: Request) =>
    new Response(`${req.method} ${new URL(req.url).host} ${new URL(req.url).pathname}`);
  const tls = Deno.serve({ hostname: "127.0.0.1", port: 0, ...right, onListen() {} }, answer);
  const plain = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, answer);
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, ...wrong, onListen() {} }, answer);
  const pinned = await pinnedFetch({ caCerts: [ca.caPem] });
  try {
    const s = await pinned.fetch(
      new URL(`https://tenant.example.test:${tls.addr.port}/a`),
      "127.0.0.1",
      { method: "POST", body: "x" },
    );
    assertEquals([s.status, await s.text()], [200, `POST tenant.example.test:${tls.addr.port} /a`]);
    const p = await pinned.fetch(
      new URL(`http://tenant.example.test:${plain.addr.port}/b`),
      "127.0.0.1",
      {},
    );
    assertEquals(await p.text(), `GET tenant.example.test:${plain.addr.port} /b`);
    await assertRejects(() =>
      pinned.fetch(new URL(`https://tenant.example.test:${other.addr.port}/`), "127.0.0.1", {})
    );
  } finally {
    await pinned.close();
    await Promise.all([tls.shutdown(), plain.shutdown(), other.shutdown()]);
  }
});

Deno.test("pinned fetch: the loopback tunnel refuses anyone without this process's password (407)", async () => {
  const pinned = await pinnedFetch();
  try {
    for (
      const auth of ["", `Proxy-Authorization: Basic ${btoa("pin-3132372e302e302e31:guess")}\r\n`]
    ) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: pinned.port });
      await conn.write(
        new TextEncoder().encode(`CONNECT example.test:443 HTTP/1.1\r\n${auth}\r\n`),
      );
      const buf = new Uint8Array(256);
      const n = await conn.read(buf);
      assertEquals(
        new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\r\n")[0],
        "HTTP/1.1 407 Proxy Authentication Required",
      );
      conn.close();
    }
  } finally {
    await pinned.close();
  }
});
