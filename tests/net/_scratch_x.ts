import { createTestCA } from "../../lib/emulators/tls.ts";
const ca = await createTestCA();
const { cert, key } = await ca.issue(["127.0.0.1", "localhost", "::1"]);
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, cert, key, onListen() {} }, () => new Response("hi"));
const client = Deno.createHttpClient({ caCerts: [ca.caPem] });
for (const h of ["127.0.0.1", "localhost"]) {
  const res = await fetch(`https://${h}:${server.addr.port}/`, { client });
  console.log(h, await res.text());
}
try { await fetch(`https://127.0.0.1:${server.addr.port}/`); } catch (e) { console.log("untrusted:", String(e).slice(0,200)); }
const ca2 = await createTestCA();
const c2 = Deno.createHttpClient({ caCerts: [ca2.caPem] });
try { await fetch(`https://127.0.0.1:${server.addr.port}/`, {client: c2}); } catch (e) { console.log("other CA:", e.name, String(e).slice(0,300)); }
c2.close();
client.close();
await server.shutdown();
