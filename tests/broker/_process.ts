/**
 * A real `mcs broker serve` process for tests: started with the CLI's own permission set and a
 * clean environment (only what the test gives), its listening address read from stderr, its
 * request log kept for inspection, and a restart on the same port and state directory.
 *
 * @example
 * ```ts
 * import { spawnBroker } from "./_process.ts";
 * const b = await spawnBroker({ LINKAUTH_API_KEYS: "k", MCS_BROKER_STATE_DIR: "/tmp/s" });
 * await fetch(`${b.url}/health`);
 * await b.restart();
 * await b.close();
 * ```
 * @module
 */
import { type RunningMcs, startMcs } from "../cli/_mcs.ts";

/** A running broker process. */
export interface BrokerProcess {
  /** Base URL (`http(s)://127.0.0.1:<port>`). */
  readonly url: string;
  readonly port: number;
  /** Everything the broker wrote on stderr (across restarts). */
  log(): string;
  /** SIGTERM, wait for the exit, start again on the same port with the same environment. */
  restart(): Promise<void>;
  /** SIGTERM and wait; returns the exit code. */
  close(): Promise<number>;
}

/** Start `mcs broker serve` with `env` (port 0 unless `MCS_BROKER_PORT` is set). */
export async function spawnBroker(env: Record<string, string>): Promise<BrokerProcess> {
  let past = "";
  let live: RunningMcs;
  let port = Number(env.MCS_BROKER_PORT ?? 0);
  let url = "";
  const start = async () => {
    live = await startMcs(["broker", "serve"], /listening on [^:]+:(\d+), links use (\S+)\n/, {
      env: { ...env, MCS_BROKER_PORT: String(port) },
    });
    port = Number(live.ready[1]);
    url = live.ready[2];
  };
  const stop = async () => {
    const ran = await live.stop();
    past += ran.stderr;
    return ran.code;
  };
  await start();
  return {
    get url() {
      return url;
    },
    get port() {
      return port;
    },
    log: () => past + live.stderr,
    restart: async () => {
      await stop();
      await start();
    },
    close: stop,
  };
}
