/**
 * Run the broker: {@link startBroker} listens (HTTP, or HTTPS with a certificate and key) and
 * serves {@link brokerHandler}, sweeps expired sessions every 30 s, and shuts down gracefully:
 * `close()` stops accepting connections, lets requests in flight finish, waits for pending
 * `callback_url` deliveries, then returns. `/metrics` is open on a loopback address; on any other
 * it needs `metricsTokenHash` (without one it answers 404, and {@link RunningBroker.metrics} says
 * `"off"` so the caller can tell the operator).
 *
 * @example
 * ```ts
 * import { MemoryCacheStore } from "../cache/memory.ts";
 * import { startBroker } from "./server.ts";
 * const broker = await startBroker({
 *   store: new MemoryCacheStore(),
 *   apiKeyHashes: [],
 *   allowedHosts: [],
 *   providers: () => Promise.resolve(undefined),
 *   port: 0,
 * });
 * await broker.close();
 * ```
 * @module
 */
import { cidrContains, parseCidr, parseIp } from "../net/ip.ts";
import { type BrokerHandler, brokerHandler, type BrokerHandlerOptions } from "./handler.ts";

/** Options: the handler's, plus where to listen. */
export interface StartBrokerOptions extends BrokerHandlerOptions {
  /** Default 127.0.0.1. */
  hostname?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** PEM certificate chain and key: serve HTTPS directly. */
  tls?: { cert: string; key: string };
  /** Public base URL (default: the listening address). */
  baseUrl?: string;
}

/** A running broker. */
export interface RunningBroker {
  /** The public base URL, no trailing slash. */
  readonly url: string;
  /** The listening address. */
  readonly addr: Deno.NetAddr;
  readonly handler: BrokerHandler;
  /** Who may read `/metrics`: anyone (loopback), bearers of the token, or nobody (404). */
  readonly metrics: "open" | "token" | "off";
  /** Stop gracefully. */
  close(): Promise<void>;
}

/** Listen and serve. */
export function startBroker(o: StartBrokerOptions): Promise<RunningBroker> {
  const hostname = o.hostname ?? "127.0.0.1";
  const metricsOff = o.metricsOff ?? !loopbackHost(hostname);
  const handler = brokerHandler({ ...o, metricsOff });
  const server = Deno.serve(
    {
      hostname,
      port: o.port ?? 8080,
      onListen: () => {},
      ...(o.tls ? { cert: o.tls.cert, key: o.tls.key } : {}),
    },
    (req, info) => handler.handle(req, (info.remoteAddr as Deno.NetAddr).hostname),
  );
  const addr = server.addr;
  const shown = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = (o.baseUrl ?? `${o.tls ? "https" : "http"}://${shown}:${addr.port}`).replace(
    /\/+$/,
    "",
  );
  handler.setBase(url);
  const sweeper = setInterval(() => handler.sweep().catch(() => {}), 30_000);
  Deno.unrefTimer(sweeper);
  let closing: Promise<void> | undefined;
  return Promise.resolve({
    url,
    addr,
    handler,
    metrics: o.metricsTokenHash ? "token" : metricsOff ? "off" : "open",
    close: () =>
      closing ??= (async () => {
        clearInterval(sweeper);
        await server.shutdown();
        await handler.close();
      })(),
  });
}

const LOOPBACK = ["127.0.0.0/8", "::1/128", "::ffff:127.0.0.0/104"].map((c) => parseCidr(c)!);

/** Whether a listen address reaches loopback only (`localhost`, 127.0.0.0/8, `::1`). */
export function loopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (host === "localhost") return true;
  const ip = parseIp(host);
  return !!ip && LOOPBACK.some((c) => cidrContains(c, ip));
}
