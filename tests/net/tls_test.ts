import { assertEquals, assertRejects, assertStringIncludes } from "../support/assert.ts";
import { createTestCA } from "../../lib/emulators/tls.ts";

Deno.test("createTestCA: Deno.serve accepts the leaf and a client trusting caPem connects", async () => {
  const ca = await createTestCA();
  assertStringIncludes(ca.caPem, "-----BEGIN CERTIFICATE-----");
  const { cert, key } = await ca.issue(["127.0.0.1", "localhost"]);
  assertStringIncludes(key, "-----BEGIN PRIVATE KEY-----");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
    () => new Response("hello"),
  );
  const trusting = Deno.createHttpClient({ caCerts: [ca.caPem] });
  const other = Deno.createHttpClient({ caCerts: [(await createTestCA()).caPem] });
  try {
    for (const host of ["127.0.0.1", "localhost"]) {
      const res = await fetch(`https://${host}:${server.addr.port}/`, { client: trusting });
      assertEquals(await res.text(), "hello");
    }
    // A client that trusts another CA must refuse the certificate.
    await assertRejects(() => fetch(`https://127.0.0.1:${server.addr.port}/`, { client: other }));
  } finally {
    trusting.close();
    other.close();
    await server.shutdown();
  }
});

Deno.test("createTestCA: a leaf is valid only for the names it was issued for", async () => {
  const ca = await createTestCA();
  const { cert, key } = await ca.issue(["localhost"]);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
    () => new Response("hello"),
  );
  const client = Deno.createHttpClient({ caCerts: [ca.caPem] });
  try {
    const ok = await fetch(`https://localhost:${server.addr.port}/`, { client });
    assertEquals(await ok.text(), "hello");
    const err = await assertRejects(() =>
      fetch(`https://127.0.0.1:${server.addr.port}/`, { client })
    );
    assertStringIncludes(String((err as Error).cause), "certificate");
  } finally {
    client.close();
    await server.shutdown();
  }
});
