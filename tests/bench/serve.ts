/**
 * `mcs serve` under a team's load: `--users` users (default 50), each with `--concurrency` calls
 * in flight (default 4), for `--seconds` (default 60), spread over `--replicas` `mcs serve`
 * processes (default 2) on one store, against the Gmail emulator at 20 ms per response. Every
 * call is a warm `search_emails` of 20 with metadata through `POST /tools/search_emails`, each
 * user identified by Open WebUI's signed header (team mode: one runner and App per user per
 * replica).
 *
 * What it reports: errors (any non-200; the target is zero), calls per second, p50/p95/p99 of a
 * call under load against a single warm call (p50 of 30 sequential calls by one user, nothing
 * else running; target p99 under load ≤ 3 × that), and each replica's peak resident memory
 * (`VmHWM` from /proc). Exit 1 when a target is missed.
 *
 * The auth path is `static` (one Google token): this measures serving (per-user scopes, the
 * gates, the runner) rather than sign-in, which the tests cover. The store is the cache
 * directory's file store, shared by the replicas as CLI processes share it; set `MCS_STORE`
 * (e.g. `redis://127.0.0.1:6379/0`, with `MCS_STORE_KEY`) in the environment to run the replicas
 * on Redis instead.
 *
 * ```sh
 * deno run -A tests/bench/serve.ts                       # 50 users x 4, 60 s, 2 replicas
 * deno run -A tests/bench/serve.ts --users 10 --seconds 10 --json
 * deno run -A tests/bench/serve.ts --cpu-prof /tmp/prof   # replicas' V8 CPU profiles
 * deno run -A tests/bench/serve.ts --deno-flags=--v8-flags=--max-semi-space-size=2
 * ```
 *
 * @example
 * ```sh
 * deno run -A tests/bench/serve.ts --seconds 20
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { startStack } from "../../lib/emulators/stack.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { type Serve, startServe, userJwt } from "../serve/_serve.ts";

const SECRET = "bench-openwebui-jwt-secret-0123456789";
const ARGS = { query: "in:inbox", limit: 20 };
const LATENCY_MS = 20;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

/** Peak resident memory of a process in MiB (Linux), NaN elsewhere. */
async function peakMiB(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    return Math.round(kb / 102.4) / 10;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process has used so far (Linux), NaN elsewhere. */
async function cpuSeconds(pid: number | "self"): Promise<number> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      users: { type: "string", default: "50" },
      concurrency: { type: "string", default: "4" },
      seconds: { type: "string", default: "60" },
      replicas: { type: "string", default: "2" },
      json: { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
      "deno-flags": { type: "string", default: "" },
    },
  });
  const users = Number(values.users);
  const concurrency = Number(values.concurrency);
  const seconds = Number(values.seconds);
  const replicas = Number(values.replicas);
  const tmp = await Deno.makeTempDir({ prefix: "mcs-bench-serve-" });
  const stack = await startStack({ tls: false, stateDir: tmp });
  const gmail = await startGmailEmulator({
    googleTokens: stack.googleTokens,
    seed: true,
    userUnitsPerMinute: false,
  });
  const servers: Serve[] = [];
  try {
    const { token } = stack.googleTokens.issue({
      sub: stack.auth0.user.googleSub,
      email: stack.auth0.user.email,
      scopes: ["https://mail.google.com/"],
      ttlS: 3600,
    });
    const env: Record<string, string> = {
      MCS_AUTH: "static",
      MCS_GMAIL_TOKEN: token,
      MCS_GMAIL_API_BASE: gmail.url,
      MCS_CACHE_DIR: `${tmp}/cache`,
      MCS_SERVE_USER_JWT_SECRET: SECRET,
      MCS_SERVE_MAX_CONCURRENT: String(concurrency),
    };
    for (const name of ["MCS_STORE", "MCS_STORE_KEY"]) {
      const v = Deno.env.get(name);
      if (v) env[name] = v;
    }
    // `--cpu-prof <dir>`: each replica writes a V8 CPU profile there when it stops.
    const profile = values["cpu-prof"];
    const flags = [
      ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
      ...values["deno-flags"].split(/\s+/).filter(Boolean),
    ];
    for (let i = 0; i < replicas; i++) servers.push(await startServe(env, [], flags));
    const jwts = await Promise.all(
      Array.from(
        { length: users },
        (_, i) => userJwt(SECRET, `bench-user-${i}`, { expiresIn: "1h" }),
      ),
    );
    const call = async (server: Serve, jwt: string): Promise<{ ms: number; ok: boolean }> => {
      const t0 = performance.now();
      const r = await server.post("/tools/search_emails", ARGS, { "x-openwebui-user-jwt": jwt });
      const body = await r.json().catch(() => undefined);
      const ms = performance.now() - t0;
      return { ms, ok: r.status === 200 && body?.messages?.length === 20 };
    };

    // A single warm call: one user, one replica, nothing else running.
    gmail.setLatency(LATENCY_MS);
    for (let i = 0; i < 5; i++) await call(servers[0], jwts[0]);
    const single: number[] = [];
    for (let i = 0; i < 30; i++) single.push((await call(servers[0], jwts[0])).ms);
    const singleP50 = quantile(single, 0.5);

    // Warm every user on every replica (their scopes are built on first use).
    await Promise.all(jwts.flatMap((jwt) => servers.map((s) => call(s, jwt))));

    const cpu0 = await Promise.all([...servers.map((s) => cpuSeconds(s.pid)), cpuSeconds("self")]);
    const lat: number[] = [];
    let errors = 0;
    let turn = 0;
    const end = performance.now() + seconds * 1000;
    const worker = async (jwt: string) => {
      while (performance.now() < end) {
        const r = await call(servers[turn++ % servers.length], jwt);
        if (r.ok) lat.push(r.ms);
        else errors++;
      }
    };
    // The emulator logs every API call it serves (for tests); nothing here reads that log, so
    // it is emptied every second rather than grown to ~10^6 entries in this process.
    const forget = setInterval(() => gmail.resetCounters(), 1_000);
    try {
      await Promise.all(
        jwts.flatMap((jwt) => Array.from({ length: concurrency }, () => worker(jwt))),
      );
    } finally {
      clearInterval(forget);
    }
    const memory = await Promise.all(servers.map((s) => peakMiB(s.pid)));
    const cpu1 = await Promise.all([...servers.map((s) => cpuSeconds(s.pid)), cpuSeconds("self")]);
    const cpuShare = cpu1.map((c, i) => Math.round(((c - cpu0[i]) / seconds) * 100) / 100);
    const result = {
      users,
      concurrency,
      seconds,
      replicas,
      store: env.MCS_STORE ? "redis" : "file",
      gmailLatencyMs: LATENCY_MS,
      calls: lat.length + errors,
      errors,
      callsPerSecond: Math.round((lat.length / seconds) * 10) / 10,
      singleWarmP50Ms: Math.round(singleP50 * 10) / 10,
      p50Ms: Math.round(quantile(lat, 0.5) * 10) / 10,
      p95Ms: Math.round(quantile(lat, 0.95) * 10) / 10,
      p99Ms: Math.round(quantile(lat, 0.99) * 10) / 10,
      p99OverSingle: Math.round((quantile(lat, 0.99) / singleP50) * 100) / 100,
      peakMemoryMiB: memory,
      /** CPU cores used on average: each replica, then this process (client and emulators). */
      cpuCores: cpuShare,
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(
        `${users} users x ${concurrency} in flight, ${seconds} s, ${replicas} replicas ` +
          `(${result.store} store), Gmail at ${LATENCY_MS} ms per response`,
      );
      console.log(`calls ${result.calls}, errors ${errors}, ${result.callsPerSecond} calls/s`);
      console.log(
        `single warm call p50 ${result.singleWarmP50Ms} ms; under load p50 ${result.p50Ms} ms, ` +
          `p95 ${result.p95Ms} ms, p99 ${result.p99Ms} ms (${result.p99OverSingle}x single)`,
      );
      console.log(`peak memory per replica: ${memory.map((m) => `${m} MiB`).join(", ")}`);
      console.log(
        `CPU cores used: replicas ${cpuShare.slice(0, -1).join(", ")}; ` +
          `load generator and emulators ${cpuShare.at(-1)} (of ${navigator.hardwareConcurrency})`,
      );
    }
    if (errors > 0 || result.p99OverSingle > 3) Deno.exitCode = 1;
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
    await gmail.close();
    await stack.close();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
