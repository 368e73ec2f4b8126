/**
 * `mcs broker serve [--host H] [--port P]`: run a production LinkAuth v0.2-compatible broker
 * (`lib/broker`) until SIGINT or SIGTERM, then shut down gracefully. Configured from the
 * environment with LinkAuth's names (`LINKAUTH_*`, `OAUTH_<NAME>_*`) plus `MCS_BROKER_*`; see
 * `lib/broker/config.ts`. Logs one redacted line per request on stderr.
 *
 * @example
 * ```sh
 * LINKAUTH_API_KEYS=$(openssl rand -hex 32) LINKAUTH_BASE_URL=https://broker.example.com \
 *   LINKAUTH_ALLOWED_DOMAINS='*.auth0.com' OAUTH_AUTH0_CLIENT_ID=… OAUTH_AUTH0_CLIENT_SECRET=… \
 *   OAUTH_AUTH0_ISSUER=tenant.eu.auth0.com MCS_BROKER_STATE_DIR=/var/lib/mcs-broker \
 *   mcs broker serve --host 0.0.0.0
 * ```
 * @module
 */
import { ConfigError, McsError } from "../../lib/errors.ts";
import type { CommandOutput, Context } from "../context.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { listen, parsePort } from "../listen.ts";

/** How to get a grant to listen on `addr`, for {@link listen}. */
const brokerListenAdvice = (addr: string): string =>
  `. Run the broker from a release binary or from source with --allow-net=${addr} (a scoped ` +
  `build may listen only where it was built to).`;

/** Read a PEM file named by a setting. @throws {ConfigError} `broker_tls_unreadable` */
async function readPem(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    throw new ConfigError(
      "broker_tls_unreadable",
      `Cannot read the TLS ${what} file ${path} (${(cause as Error).name}).`,
      { cause },
    );
  }
}

/**
 * The broker is its own module graph in the bundle (`mcs-broker`): its `ConfigError` is not this
 * graph's class, so typed errors are rebuilt here from their code, message and category.
 */
async function asOurs<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    const err = e as { code?: unknown; message?: string; category?: string };
    if (typeof err?.code === "string" && err.category === "config" && !(e instanceof McsError)) {
      throw new ConfigError(err.code, err.message ?? err.code, { cause: e });
    }
    throw e;
  }
}

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const env = ctx.io.env;
  const { brokerSettings, envProviders, openBrokerStore, pinnedFetch, startBroker } = await import(
    "mcs-broker"
  );
  const settings = await asOurs(brokerSettings(env));
  const host = typeof ctx.options.host === "string" ? ctx.options.host : settings.host;
  const port = ctx.options.port !== undefined
    ? parsePort(ctx.options.port, settings.port)
    : settings.port;
  const caFile = env.get("MCS_CA_FILE")?.trim();
  const caCerts = caFile ? [await readPem(caFile, "CA")] : undefined;
  const client = caCerts ? Deno.createHttpClient({ caCerts }) : undefined;
  const upstream = (input: string | URL | Request, init?: RequestInit) =>
    fetch(input, client ? { ...init, client } : init);
  const tls = settings.tls
    ? {
      cert: await readPem(settings.tls.certFile, "certificate"),
      key: await readPem(settings.tls.keyFile, "key"),
    }
    : undefined;
  const opened = await asOurs(openBrokerStore(env, settings.stateDir));
  // Proxied calls and callbacks connect to the address the guard checked (no DNS rebinding).
  const pinned = settings.allowPrivate ? undefined : await pinnedFetch({ caCerts });
  const log = (line: string) => ctx.io.err(`mcs broker: ${line}\n`);
  let broker;
  try {
    broker = await listen(host, port, brokerListenAdvice, () =>
      startBroker({
        ...settings,
        hostname: host,
        port,
        tls,
        store: opened.store,
        compact: opened.compact,
        check: opened.check,
        pinned: pinned?.fetch,
        upstream,
        providers: envProviders(env, upstream),
        log,
      }));
  } catch (e) {
    await opened.close();
    await pinned?.close();
    throw e;
  }
  // Where the state is (a Redis URL without its password), and whether it answers now.
  const ready = await opened.check().then(() => "", () => " (not answering yet: /health is 503)");
  ctx.io.err(`mcs broker: state in ${opened.kind} store ${opened.describe}${ready}\n`);
  if (broker.metrics === "off") {
    ctx.io.err(
      `mcs broker: /metrics is off (listening on ${host}, not loopback, without ` +
        `MCS_BROKER_METRICS_TOKEN): set MCS_BROKER_METRICS_TOKEN and give your scraper that ` +
        `bearer token to enable it\n`,
    );
  }
  ctx.io.err(
    `mcs broker ${denoJson.version}: listening on ${broker.addr.hostname}:${broker.addr.port}, ` +
      `links use ${broker.url}\n`,
  );
  await new Promise<void>((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const handlers = signals.map((sig) => {
      const h = () => {
        signals.forEach((s, i) => Deno.removeSignalListener(s, handlers[i]));
        resolve();
      };
      Deno.addSignalListener(sig, h);
      return h;
    });
  });
  ctx.io.err("mcs broker: shutting down\n");
  await broker.close();
  await pinned?.close();
  await opened.close();
  client?.close();
  return { result: null, printed: true };
}
