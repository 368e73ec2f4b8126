/**
 * Run the broker: {@link startBroker} listens (HTTP, or HTTPS with a certificate and key) and
 * serves {@link brokerHandler}, sweeps expired sessions every 30 s, and shuts down gracefully:
 * `close()` stops accepting connections, lets requests in flight finish, waits for pending
 * `callback_url` deliveries, then returns.
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
  /** Stop gracefully. */
  close(): Promise<void>;
}

/** Listen and serve. */
export function startBroker(o: StartBrokerOptions): Promise<RunningBroker> {
  const handler = brokerHandler(o);
  const hostname = o.hostname ?? "127.0.0.1";
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
    close: () =>
      closing ??= (async () => {
        clearInterval(sweeper);
        await server.shutdown();
        await handler.close();
      })(),
  });
}
