/**
 * Tool runners sharing one network layer (what `mcs serve` does across its users): each runner's
 * requests carry its own account's token, and closing one runner leaves the shared layer open
 * for the others.
 * @module
 */
import { buildNet } from "../../lib/app/mod.ts";
import { resolveConfig } from "../../lib/config/resolve.ts";
import { toolRunner } from "../../lib/mcp/runner.ts";
import { assertEquals } from "../support/assert.ts";

Deno.test("runners over one shared network layer: own tokens, and closing one keeps it open", async () => {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(req.headers.get("authorization") ?? "");
    return Response.json({ resultSizeEstimate: 0 }); // messages.list: nothing found
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const configOf = (token: string) =>
    resolveConfig({
      env: {
        get: (n) =>
          ({
            MCS_AUTH: "static",
            MCS_GMAIL_TOKEN: token,
            MCS_GMAIL_API_BASE: base,
            MCS_CONFIG: "/nonexistent/mcs-absent.toml",
          })[n],
      },
    });
  const net = await buildNet(await configOf("x"));
  try {
    const shared = () => Promise.resolve(net);
    const a = toolRunner(() => configOf("token-a"), { net: shared });
    const b = toolRunner(() => configOf("token-b"), { net: shared });
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? b : a).call("search_emails", { query: "x" })),
    );
    // Three calls each, the same requests each: every request carries its own runner's token.
    const a3 = seen.filter((h) => h === "Bearer token-a").length;
    assertEquals([a3 > 0, seen.filter((h) => h === "Bearer token-b").length], [true, a3]);
    assertEquals(seen.length, 2 * a3);
    a.close();
    await new Promise((r) => setTimeout(r, 10)); // close() settles asynchronously
    await b.call("search_emails", { query: "x" });
    assertEquals(seen.at(-1), "Bearer token-b", "b still works after a closed");
    b.close();
  } finally {
    net.close();
    await server.shutdown();
  }
});
