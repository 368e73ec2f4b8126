/**
 * Test helper: run a real HTTP proxy (Debian's `tinyproxy`) on an ephemeral 127.0.0.1 port.
 *
 * The proxy binds its *outgoing* connections to {@link PROXY_EGRESS_IP} (`127.0.0.3`), so a
 * test server sees `remoteAddr.hostname === "127.0.0.3"` exactly when a request came through
 * the proxy and `127.0.0.1` when it came direct: an observable that cannot confuse the two.
 *
 * tinyproxy is a hard requirement: when it is missing the helper throws (tests FAIL, never
 * skip) with the install command.
 *
 * @example
 * ```ts
 * await using proxy = await startTinyproxy({ basicAuth: { user: "u", pass: "p" } });
 * console.log(proxy.url); // http://127.0.0.1:40123
 * ```
 * @module
 */

/** Source address of every connection tinyproxy makes to a target. */
export const PROXY_EGRESS_IP = "127.0.0.3";

/** A running tinyproxy. */
export interface Tinyproxy extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` (no credentials). */
  url: string;
  /** Listening port. */
  port: number;
  /** Number of `CONNECT`/proxied requests logged so far. */
  requestCount(): Promise<number>;
  /**
   * The request count once the log has stopped growing (two reads 300 ms apart agree; at most
   * 5 s): tinyproxy's worker processes may log a request that happened just before this call
   * a moment later, so a baseline taken right after other traffic would be too low.
   */
  settledCount(): Promise<number>;
  /** Stop the proxy and remove its files. */
  close(): Promise<void>;
}

/** Options of {@link startTinyproxy}. */
export interface TinyproxyOptions {
  /** Require `Proxy-Authorization: Basic` with these credentials. */
  basicAuth?: { user: string; pass: string };
  /** Only allow `CONNECT` to these ports (others get HTTP 403); default: any port. */
  connectPorts?: number[];
}

export { freePort } from "../support/ports.ts";
import { freePort } from "../support/ports.ts";

async function findTinyproxy(): Promise<string> {
  for (const p of ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy", "/usr/local/bin/tinyproxy"]) {
    try {
      await Deno.stat(p);
      return p;
    } catch { /* try next */ }
  }
  throw new Error(
    "tinyproxy is not installed; the proxy tests need a real proxy. " +
      "Install it with: apt-get update && apt-get install -y tinyproxy",
  );
}

async function waitForPort(port: number, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  for (let i = 0; i < 200; i++) {
    if (exited) throw new Error("tinyproxy exited during start-up");
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error("tinyproxy did not start listening within 5 s");
}

/** Start tinyproxy with a generated config on a free port. */
export async function startTinyproxy(opts: TinyproxyOptions = {}): Promise<Tinyproxy> {
  const bin = await findTinyproxy();
  const dir = await Deno.makeTempDir({ prefix: "mcs-tinyproxy-" });
  const port = freePort();
  const log = `${dir}/tinyproxy.log`;
  const conf = [
    `Port ${port}`,
    "Listen 127.0.0.1",
    `Bind ${PROXY_EGRESS_IP}`,
    "Timeout 30",
    `LogFile "${log}"`,
    "LogLevel Connect",
    "MaxClients 20",
    "Allow 127.0.0.1",
    ...(opts.basicAuth ? [`BasicAuth ${opts.basicAuth.user} ${opts.basicAuth.pass}`] : []),
    ...(opts.connectPorts ?? []).map((p) => `ConnectPort ${p}`),
  ].join("\n");
  await Deno.writeTextFile(`${dir}/tinyproxy.conf`, conf + "\n", { mode: 0o600 });
  const child = new Deno.Command(bin, {
    args: ["-d", "-c", `${dir}/tinyproxy.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitForPort(port, child);
  } catch (e) {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
  let closed = false;
  const requestCount = async () => {
    const text = await Deno.readTextFile(log).catch(() => "");
    return text.split("\n").filter((l) => /Request \(file descriptor \d+\):/.test(l)).length;
  };
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requestCount,
    async settledCount() {
      let last = await requestCount();
      for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 300));
        const now = await requestCount();
        if (now === last) return now;
        last = now;
      }
      return last;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
