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
import { staticEnv } from "../mcp/_mcp.ts";
import { type Serve, startServe, userJwt } from "../serve/_serve.ts";

const SECRET = "bench-openwebui-jwt-secret-0123456789";
const ARGS = { query: "in:inbox", limit: 20 };
const LATENCY_MS = 20;

const WRK_SCRIPT = new URL("./serve_wrk.lua", import.meta.url).pathname;

/** What a load run measured: latencies in ms. */
interface Run {
  calls: number;
  errors: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

/** A run from the latencies (ms) of the good calls. */
function summarize(ms: number[], errors: number, seconds: number): Run {
  return {
    calls: ms.length + errors,
    errors,
    perSecond: ms.length / seconds,
    p50: quantile(ms, 0.5),
    p95: quantile(ms, 0.95),
    p99: quantile(ms, 0.99),
  };
}

/** Whether `wrk` is on PATH. */
async function hasWrk(): Promise<boolean> {
  try {
    await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/**
 * Load from `wrk` (serve_wrk.lua): a thread per user and replica, `concurrency / replicas`
 * connections each, so every user keeps `concurrency` calls in flight, half on each replica.
 */
async function wrk(o: {
  servers: Serve[];
  /** A line per user: the user's tokens, one per second from `base` (Unix seconds). */
  tokens: string;
  base: number;
  users: number;
  concurrency: number;
  seconds: number;
  tmp: string;
}): Promise<Run> {
  const replicas = o.servers.map((s) => new URL(s.base).host);
  if (o.concurrency % replicas.length) {
    throw new Error(
      `--concurrency ${o.concurrency} is not a multiple of --replicas ${replicas.length}, which ` +
        `the wrk driver needs (one thread per user and replica); or use --driver fetch`,
    );
  }
  const out = `${o.tmp}/wrk.json`;
  const ran = await new Deno.Command("wrk", {
    args: [
      ...["-t", String(o.users * replicas.length), "-c", String(o.users * o.concurrency)],
      ...["-d", `${o.seconds}s`, "--timeout", "10s", "-s", WRK_SCRIPT, `${o.servers[0].base}/`],
      ...["--", o.tokens, String(o.base), "/tools/search_emails", JSON.stringify(ARGS)],
    ],
    env: { MCS_WRK_REPLICAS: replicas.join(","), MCS_WRK_OUT: out },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!ran.success) {
    throw new Error(`wrk failed: ${new TextDecoder().decode(ran.stderr)}`);
  }
  const r = JSON.parse(await Deno.readTextFile(out));
  // response() sees every answer, so badBodies includes the non-200s (statusErrors).
  const errors = r.badBodies + r.socketErrors + r.timeouts;
  return {
    calls: r.calls + r.socketErrors + r.timeouts,
    errors,
    perSecond: (r.calls - r.badBodies) / (r.durationUs / 1e6),
    p50: r.p50Us / 1000,
    p95: r.p95Us / 1000,
    p99: r.p99Us / 1000,
  };
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

/** CPU seconds the whole machine has been busy (all cores; Linux /proc/stat), NaN elsewhere. */
async function machineBusySeconds(): Promise<number> {
  try {
    const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    return (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) / 100;
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
      driver: { type: "string" },
      "single-seconds": { type: "string", default: "5" },
    },
  });
  const driver = values.driver ?? (await hasWrk() ? "wrk" : "fetch");
  if (driver !== "wrk" && driver !== "fetch") {
    throw new Error(`--driver ${driver}: use wrk (apt install wrk) or fetch`);
  }
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
    const env: Record<string, string> = {
      ...staticEnv(stack),
      MCS_GMAIL_API_BASE: gmail.url, // the bench's own emulator, quota metering off
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
    // Open WebUI signs a fresh token for every request (iat = now, 300 s lifetime), so tokens
    // minted within the same second are the same bytes: one token per user per second, as it
    // would send them, so the replicas verify what they would verify in a deployment.
    const base = Math.floor(Date.now() / 1000);
    const span = seconds + 180; // warm-up, the single-call phase and the run
    const tokens = await Promise.all(
      Array.from(
        { length: users },
        (_, i) =>
          Promise.all(
            Array.from({ length: span }, (_, k) =>
              userJwt(SECRET, `bench-user-${i}`, {
                issuedAt: base + k,
                expiresIn: base + k + 300,
              })),
          ),
      ),
    );
    const jwtOf = (user: number) =>
      tokens[user][Math.min(span - 1, Math.floor(Date.now() / 1000) - base)];
    const call = async (server: Serve, user: number): Promise<{ ms: number; ok: boolean }> => {
      const t0 = performance.now();
      const r = await server.post("/tools/search_emails", ARGS, {
        "x-openwebui-user-jwt": jwtOf(user),
      });
      const body = await r.json().catch(() => undefined);
      const ms = performance.now() - t0;
      return { ms, ok: r.status === 200 && body?.messages?.length === 20 };
    };
    const everyUser = Array.from({ length: users }, (_, i) => i);
    gmail.setLatency(LATENCY_MS);
    // Warm every user on every replica (their scopes are built on first use).
    await Promise.all(everyUser.flatMap((u) => servers.map((s) => call(s, u))));
    for (let i = 0; i < 5; i++) await call(servers[0], 0);

    // The emulator logs every API call it serves (for tests); nothing here reads that log, so
    // it is emptied every second rather than grown to ~10^6 entries in this process.
    const forget = setInterval(() => gmail.resetCounters(), 1_000);
    let run: Run;
    let single: Run;
    let cpu0: number[];
    let t0 = 0;
    try {
      if (driver === "wrk") {
        // A line per user: its tokens, one per second from `base`.
        const file = `${tmp}/tokens`;
        await Deno.writeTextFile(file, tokens.map((t) => t.join(" ")).join("\n") + "\n", {
          mode: 0o600,
        });
        const w = { tokens: file, base, tmp };
        // A single warm call: one user, one connection to one replica, nothing else running.
        single = await wrk({
          ...w,
          servers: [servers[0]],
          users: 1,
          concurrency: 1,
          seconds: Number(values["single-seconds"]),
        });
        t0 = performance.now();
        cpu0 = await Promise.all([
          ...servers.map((s) => cpuSeconds(s.pid)),
          cpuSeconds("self"),
          machineBusySeconds(),
        ]);
        run = await wrk({ ...w, servers, users, concurrency, seconds });
      } else {
        // A single warm call: one user, one replica, nothing else running.
        const ms: number[] = [];
        for (let i = 0; i < 30; i++) ms.push((await call(servers[0], 0)).ms);
        single = summarize(ms, 0, 30);
        t0 = performance.now();
        cpu0 = await Promise.all([
          ...servers.map((s) => cpuSeconds(s.pid)),
          cpuSeconds("self"),
          machineBusySeconds(),
        ]);
        const lat: number[] = [];
        let errors = 0;
        let turn = 0;
        const end = performance.now() + seconds * 1000;
        const worker = async (user: number) => {
          while (performance.now() < end) {
            const r = await call(servers[turn++ % servers.length], user);
            if (r.ok) lat.push(r.ms);
            else errors++;
          }
        };
        await Promise.all(
          everyUser.flatMap((u) => Array.from({ length: concurrency }, () => worker(u))),
        );
        run = summarize(lat, errors, seconds);
      }
    } finally {
      clearInterval(forget);
    }
    const memory = await Promise.all(servers.map((s) => peakMiB(s.pid)));
    const elapsed = (performance.now() - t0) / 1000; // the run plus the driver's start and end
    const cpu1 = await Promise.all([
      ...servers.map((s) => cpuSeconds(s.pid)),
      cpuSeconds("self"),
      machineBusySeconds(),
    ]);
    const used = cpu1.map((c, i) => c - cpu0[i]);
    const machine = used.pop()!;
    const cpuShare = used.map((c) => Math.round((c / elapsed) * 100) / 100);
    // CPU per call (ms), the figure that decides capacity: the replicas together, this process
    // (the emulators, and the load generator with --driver fetch), and the rest of the machine
    // (wrk, Redis, the kernel's network stack).
    const perCall = (cpu: number) => Math.round((cpu * 1000 / run.calls) * 100) / 100;
    const replicasCpu = used.slice(0, -1).reduce((a, b) => a + b, 0);
    const cpuPerCallMs = {
      replicas: perCall(replicasCpu),
      benchProcess: perCall(used.at(-1)!),
      rest: perCall(machine - replicasCpu - used.at(-1)!),
      total: perCall(machine),
    };
    const cores = navigator.hardwareConcurrency;
    // Little's law: calls in flight = calls/s x mean latency, so a mean of at most 3x the single
    // call (a floor for a p99 of 3x) needs at least this many calls/s.
    const neededPerSecond = Math.round((users * concurrency) / (3 * single.p50 / 1000));
    const result = {
      users,
      concurrency,
      seconds,
      replicas,
      store: env.MCS_STORE ? "redis" : "file",
      gmailLatencyMs: LATENCY_MS,
      driver,
      calls: run.calls,
      errors: run.errors,
      callsPerSecond: Math.round(run.perSecond * 10) / 10,
      singleWarmP50Ms: round1(single.p50),
      p50Ms: round1(run.p50),
      p95Ms: round1(run.p95),
      p99Ms: round1(run.p99),
      p99OverSingle: Math.round((run.p99 / single.p50) * 100) / 100,
      peakMemoryMiB: memory,
      /** CPU cores used on average: each replica, then this process (client and emulators). */
      cpuCores: cpuShare,
      /** The whole machine's busy cores over the run. */
      machineBusyCores: Math.round((machine / elapsed) * 100) / 100,
      cpuPerCallMs,
      /** Calls/s these CPU costs allow on this machine's cores, and the floor the target needs. */
      capacityPerSecond: Math.round((cores * 1000) / cpuPerCallMs.total),
      neededPerSecond,
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(
        `${users} users x ${concurrency} in flight, ${seconds} s, ${replicas} replicas ` +
          `(${result.store} store), Gmail at ${LATENCY_MS} ms per response`,
      );
      console.log(
        `calls ${result.calls}, errors ${run.errors}, ${result.callsPerSecond} calls/s ` +
          `(load from ${driver})`,
      );
      console.log(
        `single warm call p50 ${result.singleWarmP50Ms} ms; under load p50 ${result.p50Ms} ms, ` +
          `p95 ${result.p95Ms} ms, p99 ${result.p99Ms} ms (${result.p99OverSingle}x single)`,
      );
      console.log(`peak memory per replica: ${memory.map((m) => `${m} MiB`).join(", ")}`);
      console.log(
        `CPU cores used: replicas ${cpuShare.slice(0, -1).join(", ")}; ` +
          `emulators${driver === "fetch" ? " and load generator" : ""} ${cpuShare.at(-1)}; ` +
          `whole machine ${result.machineBusyCores} (of ${cores})`,
      );
      console.log(
        `CPU per call: replicas ${cpuPerCallMs.replicas} ms, emulators ${cpuPerCallMs.benchProcess} ms, ` +
          `rest (${driver === "wrk" ? "wrk, " : ""}Redis, kernel) ${cpuPerCallMs.rest} ms; ` +
          `total ${cpuPerCallMs.total} ms, so ${cores} cores carry at most ` +
          `${result.capacityPerSecond} calls/s; p99 ≤ 3x single needs at least ${neededPerSecond}`,
      );
    }
    if (run.errors > 0 || result.p99OverSingle > 3) Deno.exitCode = 1;
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
    await gmail.close();
    await stack.close();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
