/**
 * The network layer against a real proxy (tinyproxy) and HTTPS servers using the throwaway CA.
 * The target servers answer with the address the connection came from: tinyproxy binds its
 * outgoing connections to PROXY_EGRESS_IP (127.0.0.3), direct connections come from 127.0.0.1.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../support/assert.ts";
import { createTestCA } from "../../lib/emulators/tls.ts";
import { createNet } from "../../lib/net/http.ts";
import { NetworkError } from "../../lib/net/errors.ts";
import { ConfigError } from "../../lib/errors.ts";
import { freePort, PROXY_EGRESS_IP, startTinyproxy } from "./_tinyproxy.ts";

const ca = await createTestCA();

/** An HTTP(S) server that answers with the peer address of each request. */
async function startTarget(tls = true) {
  const options = tls ? await ca.issue(["127.0.0.1", "localhost"]) : {};
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...options },
    (_req, info) => new Response(info.remoteAddr.hostname),
  );
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${server.addr.port}/`,
    port: server.addr.port,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("HTTPS through the proxy uses CONNECT (the target sees the proxy's address)", async () => {
  await using proxy = await startTinyproxy();
  await using target = await startTarget();
  using net = createNet({ env: { HTTPS_PROXY: proxy.url }, caPem: [ca.caPem] });
  assertEquals(net.explain(target.url).route, "proxy");
  const res = await net(target.url);
  assertEquals(await res.text(), PROXY_EGRESS_IP);
  assert((await proxy.requestCount()) >= 1, "tinyproxy logged the CONNECT");
});

Deno.test("plain HTTP goes through HTTP_PROXY", async () => {
  await using proxy = await startTinyproxy();
  await using target = await startTarget(false);
  using net = createNet({ env: { http_proxy: proxy.url } });
  assertEquals(await (await net(target.url)).text(), PROXY_EGRESS_IP);
});

Deno.test("NO_PROXY sends matching hosts direct", async () => {
  await using proxy = await startTinyproxy();
  await using target = await startTarget();
  using net = createNet({
    env: { HTTPS_PROXY: proxy.url, NO_PROXY: "example.com,127.0.0.0/8" },
    caPem: [ca.caPem],
  });
  assertEquals(await (await net(target.url)).text(), "127.0.0.1");
  assertEquals(await proxy.requestCount(), 0);
});

Deno.test("NO_PROXY host:port entries only bypass that port", async () => {
  await using proxy = await startTinyproxy();
  await using target = await startTarget();
  using net = createNet({
    env: { HTTPS_PROXY: proxy.url, NO_PROXY: `127.0.0.1:${target.port + 1}` },
    caPem: [ca.caPem],
  });
  assertEquals(await (await net(target.url)).text(), PROXY_EGRESS_IP);
});

Deno.test("MCS_PROXY_FORCE overrides NO_PROXY; MCS_PROXY_BYPASS overrides both", async () => {
  await using proxy = await startTinyproxy();
  await using target = await startTarget();
  const env = { HTTPS_PROXY: proxy.url, NO_PROXY: "127.0.0.1", MCS_PROXY_FORCE: "127.0.0.1" };
  {
    using net = createNet({ env, caPem: [ca.caPem] });
    assertStringIncludes(net.explain(target.url).reason, "overrides NO_PROXY entry '127.0.0.1'");
    assertEquals(await (await net(target.url)).text(), PROXY_EGRESS_IP);
  }
  {
    using net = createNet({ env: { ...env, MCS_PROXY_BYPASS: "127.0.0.1" }, caPem: [ca.caPem] });
    assertEquals(await (await net(target.url)).text(), "127.0.0.1");
  }
});

Deno.test("the scheme-specific proxy beats ALL_PROXY (unlike Deno's own fetch)", async () => {
  await using proxy = await startTinyproxy();
  await using target = await startTarget();
  using net = createNet({
    env: { ALL_PROXY: `http://127.0.0.1:${freePort()}`, HTTPS_PROXY: proxy.url },
    caPem: [ca.caPem],
  });
  assertEquals(await (await net(target.url)).text(), PROXY_EGRESS_IP);
});

Deno.test("Deno's own env proxy handling is neutralised", async () => {
  await using proxy = await startTinyproxy();
  await using target = await startTarget();
  const saved = { HTTPS_PROXY: Deno.env.get("HTTPS_PROXY"), NO_PROXY: Deno.env.get("NO_PROXY") };
  try {
    // Process env says "dead proxy" and "bypass 127.0.0.1"; mcs's env says "use the live proxy".
    Deno.env.set("HTTPS_PROXY", `http://127.0.0.1:${freePort()}`);
    Deno.env.set("NO_PROXY", "127.0.0.1");
    {
      using net = createNet({ env: { HTTPS_PROXY: proxy.url }, caPem: [ca.caPem] });
      assertEquals(await (await net(target.url)).text(), PROXY_EGRESS_IP);
      assertEquals(Deno.env.get("HTTPS_PROXY"), undefined, "scrubbed from the process env");
    }
    {
      using direct = createNet({ env: {}, caPem: [ca.caPem] });
      Deno.env.set("HTTPS_PROXY", `http://127.0.0.1:${freePort()}`);
      assertEquals(await (await direct(target.url)).text(), "127.0.0.1");
    }
    // Default: snapshot of the process env, then scrub.
    Deno.env.set("HTTPS_PROXY", proxy.url);
    Deno.env.set("NO_PROXY", "example.com");
    {
      using net = createNet({ caPem: [ca.caPem] });
      assertEquals(net.settings.noProxy.patterns.map((p) => p.raw), ["example.com"]);
      assertEquals(await (await net(target.url)).text(), PROXY_EGRESS_IP);
    }
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
});

Deno.test("proxy authentication: percent-encoded user:pass@ succeeds", async () => {
  await using proxy = await startTinyproxy({ basicAuth: { user: "user", pass: "s3cret" } });
  await using target = await startTarget();
  const authed = proxy.url.replace("http://", "http://us%65r:s3cret@");
  using net = createNet({ env: { HTTPS_PROXY: authed }, caPem: [ca.caPem] });
  assertEquals(net.explain(target.url).proxy, `http://***@127.0.0.1:${proxy.port}`);
  assertEquals(await (await net(target.url)).text(), PROXY_EGRESS_IP);
});

Deno.test("proxy authentication: wrong or missing credentials give a clear 407 error", async () => {
  await using proxy = await startTinyproxy({ basicAuth: { user: "user", pass: "s3cret" } });
  await using target = await startTarget();
  await using plain = await startTarget(false);
  const wrong = proxy.url.replace("http://", "http://user:WRONGpass@");
  {
    using net = createNet({ env: { HTTPS_PROXY: wrong }, caPem: [ca.caPem] });
    const err = await assertRejects(() => net(target.url), NetworkError);
    assertEquals(err.code, "proxy_auth_required");
    assertStringIncludes(err.message, "rejected the credentials in HTTPS_PROXY");
    assertStringIncludes(err.message, `127.0.0.1:${proxy.port}`);
    assert(!JSON.stringify([err.message, err.details]).includes("WRONGpass"));
  }
  {
    using net = createNet({ env: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url } });
    const err = await assertRejects(() => net(target.url), NetworkError);
    assertEquals(err.code, "proxy_auth_required");
    assertStringIncludes(err.message, "requires authentication (HTTP 407)");
    // Plain HTTP: the 407 arrives as a response and is still turned into the same error.
    const err2 = await assertRejects(() => net(plain.url), NetworkError);
    assertEquals(err2.code, "proxy_auth_required");
  }
});

Deno.test("a dead proxy gives an error naming the proxy (redacted) and the host", async () => {
  const port = freePort();
  using net = createNet({
    env: { HTTPS_PROXY: `http://bob:hunter2@127.0.0.1:${port}` },
    retries: 3,
  });
  const err = await assertRejects(() => net("https://gmail.googleapis.com/x"), NetworkError);
  assertEquals(err.code, "proxy_unreachable");
  assertEquals(err.host, "gmail.googleapis.com");
  assertEquals(err.proxy, `http://***@127.0.0.1:${port}`);
  assertStringIncludes(err.message, `http://***@127.0.0.1:${port}`);
  assertStringIncludes(err.message, "HTTPS_PROXY");
  assertStringIncludes(err.message, "gmail.googleapis.com");
  assert(!JSON.stringify([err.message, err.details, String(err.cause)]).includes("hunter2"));
});

Deno.test("a proxy that refuses the tunnel (403) is reported as such", async () => {
  await using proxy = await startTinyproxy({ connectPorts: [443] });
  await using target = await startTarget();
  using net = createNet({ env: { HTTPS_PROXY: proxy.url }, caPem: [ca.caPem] });
  const err = await assertRejects(() => net(target.url), NetworkError);
  assertEquals(err.code, "proxy_tunnel_failed");
  assertStringIncludes(err.message, "answered HTTP 403");
  assertStringIncludes(err.message, "allow-list");
});

Deno.test("TLS through the proxy fails clearly without the CA and works with it", async () => {
  await using proxy = await startTinyproxy();
  await using target = await startTarget();
  {
    using net = createNet({ env: { HTTPS_PROXY: proxy.url } });
    const err = await assertRejects(() => net(target.url), NetworkError);
    assertEquals(err.code, "tls_error");
    assertStringIncludes(err.message, "MCS_CA_FILE");
  }
  {
    using net = createNet({ env: { HTTPS_PROXY: proxy.url }, caPem: [ca.caPem] });
    assertEquals(await (await net(target.url)).text(), PROXY_EGRESS_IP);
  }
});

Deno.test("an unusable proxy value is a ConfigError, not a silent direct connection", async () => {
  await using target = await startTarget();
  using net = createNet({ env: { HTTPS_PROXY: "ftp://u:pw@proxy:21" }, caPem: [ca.caPem] });
  const err = await assertRejects(() => net(target.url), ConfigError);
  assertEquals(err.code, "proxy_invalid");
  assert(!err.message.includes(":pw@"));
});

Deno.test("a CONNECT answered 407 is proxy_auth_required, not retryable, credentials unechoed", async () => {
  // A minimal proxy that answers every CONNECT with 407 (Deno reports it as "proxy
  // authentication required", which used to be a retryable network_error).
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const conns: Deno.Conn[] = [];
  const served = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      await conn.read(new Uint8Array(4096)).catch(() => null);
      await conn.write(
        new TextEncoder().encode(
          "HTTP/1.1 407 Proxy Authentication Required\r\n" +
            'Proxy-Authenticate: Basic realm="x"\r\ncontent-length: 0\r\n\r\n',
        ),
      ).catch(() => 0);
    }
  })();
  try {
    for (const proxyUrl of [`http://127.0.0.1:${port}`, `http://bob:hunter2@127.0.0.1:${port}`]) {
      using net = createNet({ env: { HTTPS_PROXY: proxyUrl }, retries: 3 });
      const err = await assertRejects(() => net("https://gmail.googleapis.com/x"), NetworkError);
      assertEquals(err.code, "proxy_auth_required");
      assertEquals(err.retryable, false);
      assertStringIncludes(err.message, "HTTPS_PROXY");
      assert(/user:password/.test(err.message), err.message);
      assert(!JSON.stringify([err.message, err.details]).includes("hunter2"));
    }
  } finally {
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await served.catch(() => {});
  }
});

Deno.test("the sandbox quirk: NO_PROXY sent a host direct while a proxy is set, and DNS fails", async () => {
  // The sandbox: the only way out is the proxy, NO_PROXY lists the API's domain.
  await using proxy = await startTinyproxy();
  const env = {
    HTTPS_PROXY: `http://user:pw@127.0.0.1:${proxy.port}`,
    NO_PROXY: "localhost,*.mcs-sandbox.invalid",
  };
  const host = "gmail.mcs-sandbox.invalid";
  {
    using net = createNet({ env, retries: 3 });
    const err = await assertRejects(() => net(`https://${host}/gmail/v1/x`), NetworkError);
    assertEquals(err.code, "direct_route_failed");
    assertEquals(err.retryable, false);
    assertEquals(err.details?.fix, "MCS_PROXY_FORCE=mcs-sandbox.invalid");
    assertEquals(err.details?.no_proxy_entry, "*.mcs-sandbox.invalid");
    assertStringIncludes(err.message, `Cannot resolve the host name ${host}`);
    assertStringIncludes(err.message, "NO_PROXY entry '*.mcs-sandbox.invalid' matches");
    assertStringIncludes(err.message, "MCS_PROXY_FORCE=mcs-sandbox.invalid");
    assert(!JSON.stringify([err.message, err.details]).includes(":pw@"));
  }
  {
    // The named fix sends it through the proxy (which then cannot resolve it either).
    using net = createNet({ env: { ...env, MCS_PROXY_FORCE: "mcs-sandbox.invalid" } });
    const err = await assertRejects(() => net(`https://${host}/gmail/v1/x`), NetworkError);
    assertEquals(err.host, host);
    assert(err.code !== "direct_route_failed" && err.code !== "dns_error", err.code);
    assert((await proxy.requestCount()) > 0, "went through the proxy");
  }
  {
    // Without a proxy, a DNS failure stays a plain dns_error.
    using net = createNet({ env: { NO_PROXY: env.NO_PROXY }, retries: 0 });
    const err = await assertRejects(() => net(`https://${host}/`), NetworkError);
    assertEquals(err.code, "dns_error");
  }
});
