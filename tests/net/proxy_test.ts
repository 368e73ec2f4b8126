import { assert, assertEquals } from "../support/assert.ts";

const assertFalse = (c: unknown, msg?: string) => assert(!c, msg);
import {
  explainRoute,
  findHostMatch,
  parseHostPatterns,
  parseProxyValue,
  readProxySettings,
  redactProxyUrl,
} from "../../lib/net/proxy.ts";
import { cidrContains, parseCidr, parseIp } from "../../lib/net/ip.ts";

// [NO_PROXY value, URL, expected match]
const NO_PROXY_TABLE: [string, string, boolean][] = [
  ["*", "https://anything.example/", true],
  ["example.com", "https://example.com/", true],
  ["example.com", "https://www.example.com/", true],
  ["example.com", "https://a.b.example.com/", true],
  ["example.com", "https://badexample.com/", false],
  ["example.com", "https://example.com.evil.net/", false],
  [".example.com", "https://example.com/", true],
  [".example.com", "https://www.example.com/", true],
  ["*.example.com", "https://example.com/", true],
  ["*.example.com", "https://www.example.com/", true],
  ["*.example.com", "https://wwwexample.com/", false],
  ["EXAMPLE.com", "https://www.Example.COM/", true],
  ["example.com.", "https://example.com./", true],
  ["foo*.com", "https://foobar.com/", false],
  ["localhost", "http://localhost:8080/", true],
  ["localhost", "http://127.0.0.1/", false],
  ["127.0.0.1", "http://127.0.0.1:9/", true],
  ["127.0.0.1", "http://localhost/", false],
  ["127.0.0.1", "http://127.0.0.2/", false],
  ["127.0.0.0/8", "http://127.200.1.1/", true],
  ["10.0.0.0/8", "http://11.0.0.1/", false],
  ["169.254.0.0/16", "http://169.254.169.254/", true],
  ["0.0.0.0/0", "http://8.8.8.8/", true],
  ["::1", "http://[::1]:3000/", true],
  ["[::1]", "http://[::1]/", true],
  ["::1", "http://127.0.0.1/", false],
  ["fd00::/8", "http://[fd12:3456::1]/", true],
  ["fd00::/8", "http://[fe80::1]/", false],
  ["2001:db8::/32", "https://[2001:db8:0:1::5]/", true],
  ["localhost:8080", "http://localhost:8080/", true],
  ["localhost:8080", "http://localhost:8081/", false],
  ["example.com:443", "https://api.example.com/", true],
  ["example.com:443", "http://api.example.com/", false],
  ["example.com:80", "http://example.com/", true],
  ["127.0.0.1:5000", "http://127.0.0.1:5000/", true],
  ["127.0.0.1:5000", "http://127.0.0.1:5001/", false],
  ["[::1]:8443", "https://[::1]:8443/", true],
  ["[::1]:8443", "https://[::1]/", false],
  ["a.com, b.com  c.com", "https://x.c.com/", true],
  ["a.com,,b.com", "https://b.com/", true],
  ["", "https://example.com/", false],
];

Deno.test("NO_PROXY matcher follows the documented table", () => {
  for (const [list, url, expected] of NO_PROXY_TABLE) {
    const hit = findHostMatch(parseHostPatterns(list), url);
    assertEquals(hit !== undefined, expected, `NO_PROXY=${JSON.stringify(list)} url=${url}`);
  }
});

Deno.test("host patterns: invalid entries are kept as invalid and never match", () => {
  const ps = parseHostPatterns("foo*.com,10.0.0.0/99,host:notaport,ok.com");
  assertEquals(ps.map((p) => p.kind), ["invalid", "invalid", "invalid", "domain"]);
});

Deno.test("ip helpers: IPv6 forms and CIDR boundaries", () => {
  assertEquals(parseIp("::ffff:1.2.3.4")?.slice(10), new Uint8Array([255, 255, 1, 2, 3, 4]));
  assertEquals(parseIp("1::2::3"), undefined);
  assertEquals(parseIp("256.0.0.1"), undefined);
  assertEquals(parseIp("1:2:3:4:5:6:7:8:9"), undefined);
  const net = parseCidr("192.168.0.0/23")!;
  assert(cidrContains(net, parseIp("192.168.1.255")!));
  assertFalse(cidrContains(net, parseIp("192.168.2.0")!));
  assertFalse(cidrContains(net, parseIp("::1")!));
});

// [env, url, route, reason substring, proxy]
const ROUTE_TABLE: [Record<string, string>, string, "proxy" | "direct", string, string?][] = [
  [{}, "https://a.com/", "direct", "no proxy is configured for https"],
  [{ HTTPS_PROXY: "http://p:1" }, "https://a.com/", "proxy", "HTTPS_PROXY is set", "http://p:1"],
  [{ HTTPS_PROXY: "http://p:1" }, "http://a.com/", "direct", "no proxy is configured for http"],
  [{ HTTP_PROXY: "http://p:1" }, "http://a.com/", "proxy", "HTTP_PROXY is set", "http://p:1"],
  // lowercase before uppercase
  [
    { https_proxy: "http://lower:1", HTTPS_PROXY: "http://upper:1" },
    "https://a.com/",
    "proxy",
    "https_proxy",
    "http://lower:1",
  ],
  // empty lowercase falls through
  [{ https_proxy: "", HTTPS_PROXY: "http://u:1" }, "https://a.com/", "proxy", "HTTPS_PROXY"],
  // scheme-specific beats ALL_PROXY (Deno's fetch does the opposite)
  [
    { ALL_PROXY: "http://all:1", HTTPS_PROXY: "http://s:1" },
    "https://a.com/",
    "proxy",
    "HTTPS_PROXY",
    "http://s:1",
  ],
  [{ ALL_PROXY: "socks5h://all:1" }, "http://a.com/", "proxy", "ALL_PROXY", "socks5h://all:1"],
  // CGI protection
  [{ HTTP_PROXY: "http://p:1", REQUEST_METHOD: "GET" }, "http://a.com/", "direct", "no proxy"],
  // scheme-less proxy value means http
  [{ HTTPS_PROXY: "p:3128" }, "https://a.com/", "proxy", "HTTPS_PROXY", "http://p:3128"],
  [
    { HTTPS_PROXY: "http://p:1", NO_PROXY: "*.a.com" },
    "https://x.a.com/",
    "direct",
    "NO_PROXY entry '*.a.com' matches",
  ],
  [
    { HTTPS_PROXY: "http://p:1", no_proxy: "a.com", NO_PROXY: "b.com" },
    "https://b.com/",
    "proxy",
    "no no_proxy entry matches",
  ],
  [
    {
      HTTPS_PROXY: "http://p:1",
      NO_PROXY: "localhost,*.googleapis.com",
      MCS_PROXY_FORCE: "googleapis.com",
    },
    "https://gmail.googleapis.com/",
    "proxy",
    "MCS_PROXY_FORCE entry 'googleapis.com' overrides NO_PROXY entry '*.googleapis.com'",
  ],
  [
    { MCS_PROXY_FORCE: "*" },
    "https://a.com/",
    "direct",
    "MCS_PROXY_FORCE entry '*' matches but no proxy is configured",
  ],
  [
    { HTTPS_PROXY: "http://p:1", MCS_PROXY_FORCE: "*", MCS_PROXY_BYPASS: "127.0.0.1" },
    "https://127.0.0.1:8443/",
    "direct",
    "MCS_PROXY_BYPASS entry '127.0.0.1' matches",
  ],
  [{ HTTPS_PROXY: "http://p:1" }, "file:///etc/hosts", "direct", "never use a proxy"],
  [{ HTTPS_PROXY: "http://p:1" }, "wss://a.com/", "proxy", "HTTPS_PROXY"],
];

Deno.test("explainRoute follows the documented precedence", () => {
  for (const [env, url, route, reason, proxy] of ROUTE_TABLE) {
    const d = explainRoute(url, env);
    const label = `${JSON.stringify(env)} ${url} → ${JSON.stringify(d)}`;
    assertEquals(d.route, route, label);
    assert(d.reason.includes(reason), label);
    if (proxy) assertEquals(d.proxy, proxy, label);
    assertEquals(d.error, undefined, label);
  }
});

Deno.test("explainRoute redacts proxy credentials and flags unusable proxy values", () => {
  const d = explainRoute("https://a.com/", { HTTPS_PROXY: "http://bob:s3cret@p:3128" });
  assertEquals(d.proxy, "http://***@p:3128");
  assertFalse(JSON.stringify(d).includes("s3cret"));
  const bad = explainRoute("https://a.com/", { HTTPS_PROXY: "ftp://bob:s3cret@p:21" });
  assertEquals(bad.route, "proxy");
  assert(bad.error?.includes("unsupported scheme 'ftp'"), bad.error);
  assertFalse(JSON.stringify(bad).includes("s3cret"));
});

Deno.test("proxy values: credentials are percent-decoded, paths dropped", () => {
  const p = parseProxyValue("http://us%65r:p%40ss@proxy.local:3128/ignored", "HTTPS_PROXY");
  assert(!("invalid" in p));
  assertEquals(p.url, "http://proxy.local:3128");
  assertEquals(p.basicAuth, { username: "user", password: "p@ss" });
  assertEquals(p.transport, "http");
  const s = parseProxyValue("socks5h://proxy:1080", "ALL_PROXY");
  assert(!("invalid" in s));
  assertEquals(s.transport, "socks5");
  assertEquals(s.url, "socks5h://proxy:1080");
});

Deno.test("redactProxyUrl hides userinfo with or without a scheme", () => {
  assertEquals(redactProxyUrl("http://a:b@h:1"), "http://***@h:1");
  assertEquals(redactProxyUrl("a:b@h:1"), "***@h:1");
  assertEquals(redactProxyUrl("http://h:1"), "http://h:1");
});

Deno.test("readProxySettings reads NO_PROXY source name", () => {
  const s = readProxySettings({ no_proxy: "a.com" });
  assertEquals(s.noProxy.source, "no_proxy");
  assertEquals(s.https, undefined);
});
