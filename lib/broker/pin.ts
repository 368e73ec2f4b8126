/**
 * Pinned outbound connections: {@link PinnedFetch} connects to the address the guard checked,
 * never to a second DNS answer, so DNS rebinding (a name that resolves to a public address for
 * the check, then to a private one for the connection) cannot reach what the guard refused.
 *
 * How, with Deno's `fetch` (which resolves names itself and has no resolver hook):
 * - `https://`: each call gets an HTTP client whose proxy is a CONNECT proxy inside this process
 *   (loopback, random port, a random password only this process knows). The client sends
 *   `CONNECT host:port` with the pinned address in the proxy user name; the proxy connects to
 *   that address and tunnels bytes. TLS runs end to end through the tunnel, so SNI and the
 *   certificate check still use the URL's host name.
 * - `http://`: each call gets a client with Deno's `tcp` transport to the pinned address (the
 *   request keeps the URL's `Host`).
 *
 * The body is read whole before the client is closed (callers cap and read it anyway).
 *
 * @example
 * ```ts
 * import { pinnedFetch } from "./pin.ts";
 * const pinned = await pinnedFetch();
 * const res = await pinned.fetch(new URL("https://api.example.com/x"), "93.184.216.34", {});
 * await pinned.close();
 * ```
 * @module
 */
import { safeEqual } from "./problem.ts";
import { hex } from "./session.ts";

/** Fetch `url`, connecting to `address` (an IP the guard checked). */
export interface PinnedFetch {
  fetch(url: URL, address: string, init: RequestInit): Promise<Response>;
  /** The loopback port of the CONNECT tunnel (it answers only this process's password). */
  readonly port: number;
  close(): Promise<void>;
}

/** The pinned address in the proxy user name (hex: an IPv6 address has colons). */
const hexOf = (s: string) => hex(new TextEncoder().encode(s));
const unhex = (s: string) =>
  new TextDecoder().decode(Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16)));

/** Start the pinning machinery (the CONNECT proxy listens on 127.0.0.1 until `close`). */
export function pinnedFetch(o: { caCerts?: string[] } = {}): Promise<PinnedFetch> {
  const secret = Array.from(
    crypto.getRandomValues(new Uint8Array(24)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      tunnel(conn, secret).catch(() => {}).finally(() => {
        open.delete(conn);
        try {
          conn.close();
        } catch {
          // already closed
        }
      });
    }
  })().catch(() => {});
  return Promise.resolve({
    port,
    async fetch(url, address, init) {
      const tls = url.protocol === "https:";
      const target = Number(url.port || (tls ? 443 : 80));
      const client = Deno.createHttpClient({
        caCerts: o.caCerts,
        proxy: tls
          ? {
            url: `http://127.0.0.1:${port}`,
            basicAuth: { username: `pin-${hexOf(address)}`, password: secret },
          }
          : { transport: "tcp", hostname: address, port: target },
      });
      try {
        const res = await fetch(url, { ...init, client });
        const body = await res.arrayBuffer();
        return new Response(res.status === 204 || res.status === 304 ? null : body, {
          status: res.status,
          statusText: res.statusText,
          headers: res.headers,
        });
      } finally {
        client.close();
      }
    },
    async close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await serving;
    },
  });
}

/** One CONNECT: check the password, connect to the pinned address, tunnel both ways. */
async function tunnel(conn: Deno.Conn, secret: string): Promise<void> {
  const buf = new Uint8Array(8192);
  let used = 0;
  let end = -1;
  while (end < 0) {
    const n = await conn.read(buf.subarray(used));
    if (n === null) return;
    used += n;
    end = new TextDecoder().decode(buf.subarray(0, used)).indexOf("\r\n\r\n");
    if (end < 0 && used === buf.length) return;
  }
  const head = new TextDecoder().decode(buf.subarray(0, end));
  const rest = buf.subarray(end + 4, used);
  const refuse = (status: string) =>
    conn.write(new TextEncoder().encode(`HTTP/1.1 ${status}\r\n\r\n`));
  const [line, ...fields] = head.split("\r\n");
  const m = /^CONNECT [^\s]+:(\d+) HTTP\/1\.[01]$/.exec(line);
  const auth = fields.find((f) => /^proxy-authorization:/i.test(f))?.slice(20).trim() ?? "";
  const basic = /^Basic (.+)$/i.exec(auth);
  let user = "";
  let pass = "";
  try {
    [user, pass] = basic ? atob(basic[1]).split(/:(.*)/s) : ["", ""];
  } catch {
    // not base64
  }
  if (!m || !basic || !safeEqual(pass ?? "", secret) || !/^pin-(?:[0-9a-f]{2})+$/.test(user)) {
    await refuse("407 Proxy Authentication Required");
    return;
  }
  const address = unhex(user.slice(4));
  let target: Deno.Conn;
  try {
    target = await Deno.connect({ hostname: address, port: Number(m[1]) });
  } catch {
    await refuse("502 Bad Gateway");
    return;
  }
  try {
    await conn.write(new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
    if (rest.length) await target.write(rest);
    await Promise.allSettled([
      conn.readable.pipeTo(target.writable),
      target.readable.pipeTo(conn.writable),
    ]);
  } finally {
    try {
      target.close();
    } catch {
      // closed by the pipe
    }
  }
}
