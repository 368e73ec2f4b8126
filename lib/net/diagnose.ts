/**
 * Failure diagnosis for proxies. Deno reports every refused `CONNECT` as "unsuccessful tunnel"
 * without the proxy's status; after such a failure the network layer asks the proxy itself,
 * with one `CONNECT` of its own, to tell a 407 (credentials) from a 403 (host not allowed) or a
 * 5xx (target unreachable).
 *
 * @example
 * ```ts
 * import { probeConnectStatus } from "./diagnose.ts";
 * const status = await probeConnectStatus(server, "gmail.googleapis.com:443"); // e.g. 407
 * ```
 * @module
 */
import type { ProxyServer } from "./proxy.ts";

/**
 * Send `CONNECT target` to an HTTP(S) proxy and return the status code of its answer, or
 * `undefined` when the proxy cannot be asked (SOCKS, unreachable, no permission, timeout).
 */
export async function probeConnectStatus(
  server: ProxyServer,
  target: string,
  timeoutMs = 5000,
): Promise<number | undefined> {
  if (server.transport === "socks5") return undefined;
  const u = new URL(server.url);
  const port = Number(u.port || (server.transport === "https" ? 443 : 80));
  const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
  let conn: Deno.Conn | undefined;
  const timer = setTimeout(() => {
    try {
      conn?.close();
    } catch { /* already closed */ }
  }, timeoutMs);
  try {
    conn = server.transport === "https"
      ? await Deno.connectTls({ hostname, port })
      : await Deno.connect({ hostname, port });
    const auth = server.basicAuth
      ? `Proxy-Authorization: Basic ${
        btoa(
          String.fromCharCode(
            ...new TextEncoder().encode(
              `${server.basicAuth.username}:${server.basicAuth.password}`,
            ),
          ),
        )
      }\r\n`
      : "";
    await conn.write(
      new TextEncoder().encode(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`),
    );
    const buf = new Uint8Array(512);
    let text = "";
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* already closed */ }
  }
}
