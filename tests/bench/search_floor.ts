/**
 * A cached-token search against its floor, side by side in one run: the bundle's
 * `mcs exec search_emails '{"query":"in:inbox","limit":20}'` (auth path `auth0`, Google token and
 * label list already in the cache dir) against `tests/bench/floor_search.ts`, a minimal Deno
 * script that reads one token and makes the same two HTTPS requests to the same server (the
 * Gmail emulator over TLS, with its throwaway CA). Both are fresh processes, interleaved run by
 * run (alternating which goes first) so a busy machine slows both alike; each round is measured
 * with 20 ms of injected latency per Gmail response and with none. Prints the medians, the ratio
 * of the medians and the spread of the per-pair ratios (p25–p75, the noise). Targets: ≤ 1.15×
 * at 20 ms per response, ≤ 1.3× with none. Also the median CPU time of each process (`perf stat`
 * task-clock, all threads; else /usr/bin/time at 10 ms resolution): on a busy machine the wall
 * times swing with the other load, the CPU times much less.
 *
 * The Gmail emulator is reached through a small TLS front in this process
 * ({@link startTlsFront}) unless `--direct` is given: Deno.serve's own TLS (deno 2.9.6) sends a
 * response's body in a second segment that waits for the client's delayed ACK (about 40 ms per
 * response, on every request after the first on a connection and on the first too; curl sees
 * the same), which no real Google front end does and which would hide every cost of mcs behind
 * two 40 ms stalls. The front relays bytes to the emulator's plain-HTTP port with TCP_NODELAY and
 * writes each response to the client in one piece.
 *
 * Before measuring it checks that both print the same 20 messages and that the mcs run makes
 * exactly the floor's two requests (no token exchange, no label listing).
 *
 * ```sh
 * deno run -A tests/bench/search_floor.ts              # 21 pairs per latency
 * deno run -A tests/bench/search_floor.ts --runs 41 --split --json
 * git archive <commit> | tar -x -C /tmp/base && deno install --frozen  # (in /tmp/base)
 * deno run -A tests/bench/search_floor.ts --baseline /tmp/base   # before/after in one run
 * ```
 *
 * @example
 * ```sh
 * deno task bench          # runs this after the cold-start table
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startStack } from "../../lib/emulators/stack.ts";
import { createTestCA } from "../../lib/emulators/tls.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { bundleFor } from "./cold_start.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FLOOR = join(ROOT, "tests", "bench", "floor_search.ts");
const ARGS = '{"query":"in:inbox","limit":20}';
/** CPU time per process: `perf stat` task-clock (all threads, µs resolution), else /usr/bin/time. */
const PERF = "/usr/bin/perf";
const TIME = "/usr/bin/time";
/** Injected latency per Gmail response, ms, and the target ratio for each. */
const ROUNDS = [{ latencyMs: 20, target: 1.15 }, { latencyMs: 0, target: 1.3 }];

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.ceil(i)] - s[lo]) * (i - lo);
}

/** A TLS listener relaying to a plain-HTTP or HTTPS upstream; see the module doc. */
interface TlsFront {
  url: string;
  /** The front's CA followed by the stack's (one file trusts both). */
  caFile: string;
  close(): void;
}

/**
 * Copy `from` to `to`, writing what arrives within 1 ms as one chunk: a TLS connection from
 * `Deno.listenTls` has no TCP_NODELAY, so a response's body written after its headers would wait
 * for the client's delayed ACK (~40 ms) like Deno.serve's own TLS; one write per response does not.
 */
export async function relayCoalesced(
  from: ReadableStream<Uint8Array>,
  to: WritableStream<Uint8Array>,
): Promise<void> {
  const reader = from.getReader();
  const writer = to.getWriter();
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  let done = false;
  try {
    while (!done) {
      const first = await (pending ?? reader.read());
      pending = undefined;
      if (first.done) break;
      const parts = [first.value];
      for (;;) {
        pending = reader.read();
        const next = await Promise.race([
          pending,
          new Promise<null>((r) => setTimeout(() => r(null), 1)),
        ]);
        if (next === null) break; // nothing more for now; `pending` carries over
        pending = undefined;
        if (next.done) {
          done = true;
          break;
        }
        parts.push(next.value);
      }
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      await writer.write(out);
    }
  } finally {
    await writer.close().catch(() => {});
  }
}

/**
 * Serve TLS on 127.0.0.1 (a leaf of a new throwaway CA) and relay each connection's bytes to
 * `upstream` (a plain-HTTP Gmail emulator) with TCP_NODELAY. `stackCa` is appended to the CA
 * file so the same file also trusts the stack's Auth0 emulator.
 */
async function startTlsFront(upstream: string, stackCa: string, dir: string): Promise<TlsFront> {
  const ca = await createTestCA();
  const leaf = await ca.issue(["127.0.0.1"]);
  const caFile = join(dir, "front-ca.pem");
  await Deno.writeTextFile(caFile, ca.caPem + "\n" + stackCa);
  const up = new URL(upstream);
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.cert,
    key: leaf.key,
  });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const u = await Deno.connect({ hostname: up.hostname, port: Number(up.port) });
        u.setNoDelay(true);
        conns.add(conn).add(u);
        await Promise.all([
          conn.readable.pipeTo(u.writable).catch(() => {}),
          relayCoalesced(u.readable, conn.writable).catch(() => {}),
        ]);
        conns.delete(conn);
        conns.delete(u);
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    url: `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    caFile,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}

interface Ran {
  ms: number;
  /** User + system CPU time of the process (from /usr/bin/time), when available. */
  cpuMs?: number;
  stdout: string;
  requests: number;
}

/** Figures of one latency round. */
export interface RoundResult {
  latencyMs: number;
  target: number;
  runs: number;
  floorMedianMs: number;
  mcsMedianMs: number;
  /** mcs median / floor median. */
  ratio: number;
  /** Per-pair ratios (mcs_i / floor_i): median, p25, p75. */
  pairRatio: { median: number; p25: number; p75: number };
  floorP90Ms: number;
  mcsP90Ms: number;
  /** Distinct Gmail request counts seen per mcs run (2 expected). */
  mcsRequests: number[];
  /** With --baseline: the other checkout's bundle, same runs. */
  baselineMedianMs?: number;
  baselineRatio?: number;
  baselinePairRatio?: number;
  baselineCpuMs?: number;
  /** Median user + system CPU time (when /usr/bin/time is there): less sensitive to a busy machine. */
  floorCpuMs?: number;
  mcsCpuMs?: number;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "21" },
      split: { type: "boolean", default: false },
      direct: { type: "boolean", default: false },
      baseline: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  const tmp = await Deno.makeTempDir({ prefix: "mcs-bench-floor-" });
  const stack = await startStack({ tls: true, stateDir: tmp });
  // Without --direct: a plain-HTTP Gmail emulator sharing the stack's Google tokens, behind the
  // TLS front.
  const plain = values.direct
    ? undefined
    : await startGmailEmulator({ googleTokens: stack.googleTokens, seed: true });
  const gmail = plain ?? stack.gmail;
  const front = plain && await startTlsFront(plain.url, stack.caPem, tmp);
  try {
    const gmailBase = front?.url ?? stack.env.MCS_GMAIL_API_BASE;
    const caFile = front?.caFile ?? stack.caFile;
    stack.auth0.connectAccount();
    const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
    const denoDir = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir as string;
    const base = { PATH: Deno.env.get("PATH") ?? "", HOME: tmp, DENO_DIR: denoDir, NO_COLOR: "1" };
    const vars: Record<string, string> = {
      MCS_AUTH: "auth0",
      MCS_AUTH0_DOMAIN: stack.env.MCS_AUTH0_DOMAIN,
      MCS_AUTH0_CLIENT_ID: stack.env.MCS_AUTH0_CLIENT_ID,
      MCS_GMAIL_API_BASE: gmailBase,
      MCS_CA_FILE: caFile,
      MCS_CACHE_DIR: join(tmp, "cache"),
    };
    const bundle = await bundleFor(join(tmp, "dist"), vars, values.split);
    // --baseline CHECKOUT: that tree's bundle too, measured in the same interleaved runs.
    const baseline = values.baseline
      ? await bundleFor(join(tmp, "dist-baseline"), vars, values.split, values.baseline)
      : undefined;
    const mcsEnv = {
      ...base,
      ...vars,
      MCS_AUTH0_CLIENT_SECRET: stack.env.MCS_AUTH0_CLIENT_SECRET,
      MCS_AUTH0_REFRESH_TOKEN: stack.auth0.issueRefreshToken(),
    };
    const cpuFile = join(tmp, "cpu");
    const isFile = (p: string) => Deno.stat(p).then((s) => s.isFile, () => false);
    const cpuTool = await isFile(PERF) &&
        (await new Deno.Command(PERF, {
          args: ["stat", "-x,", "-e", "task-clock", "-o", cpuFile, "true"],
          stdout: "null",
          stderr: "null",
        }).output()).success
      ? "perf"
      : await isFile(TIME)
      ? "time"
      : undefined;
    const run = async (cmd: string[], env: Record<string, string>): Promise<Ran> => {
      const before = gmail.requestCount;
      const full = cpuTool === "perf"
        ? [PERF, "stat", "-x,", "-e", "task-clock", "-o", cpuFile, ...cmd]
        : cpuTool === "time"
        ? [TIME, "-o", cpuFile, "-f", "%U %S", ...cmd]
        : cmd;
      const t0 = performance.now();
      const out = await new Deno.Command(full[0], {
        args: full.slice(1),
        env,
        clearEnv: true,
        cwd: tmp,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const ms = performance.now() - t0;
      const dec = new TextDecoder();
      if (out.code !== 0) {
        throw new Error(`${cmd.at(-1)}: exit ${out.code}\n${dec.decode(out.stderr)}`);
      }
      let cpuMs: number | undefined;
      if (cpuTool === "perf") {
        const line = (await Deno.readTextFile(cpuFile)).split("\n").find((l) =>
          l.includes("task-clock")
        );
        cpuMs = Number(line?.split(",")[0]);
      } else if (cpuTool === "time") {
        const [u, sys] = (await Deno.readTextFile(cpuFile)).trim().split("\n").at(-1)!.split(" ");
        cpuMs = (Number(u) + Number(sys)) * 1000;
      }
      return {
        ms,
        cpuMs,
        stdout: dec.decode(out.stdout),
        requests: gmail.requestCount - before,
      };
    };
    const mcsCmd = [...bundle, "exec", "search_emails", ARGS];
    const baseCmd = baseline && [...baseline, "exec", "search_emails", ARGS];

    // Warm the cache (token exchange, label list), then hand the cached token to the floor.
    await run(mcsCmd, mcsEnv);
    const tokenFile = join(tmp, "token");
    const token = (await run([...bundle, "auth", "token"], mcsEnv)).stdout.trim();
    await Deno.writeTextFile(tokenFile, token, { mode: 0o600 });
    const floorCmd = [
      Deno.execPath(),
      "run",
      "--no-config",
      "--no-lock",
      "--no-remote",
      "--no-npm",
      "--no-prompt",
      `--allow-net=${new URL(gmailBase).host}`,
      `--allow-read=${tokenFile},${caFile}`,
      "--allow-env=FLOOR_TOKEN_FILE,FLOOR_QUERY,FLOOR_LIMIT,MCS_GMAIL_API_BASE,MCS_CA_FILE",
      FLOOR,
    ];
    const floorEnv = {
      ...base,
      FLOOR_TOKEN_FILE: tokenFile,
      MCS_GMAIL_API_BASE: gmailBase,
      MCS_CA_FILE: caFile,
    };

    // Same answer, same requests.
    const m = await run(mcsCmd, mcsEnv);
    const f = await run(floorCmd, floorEnv);
    const ids = (s: string) =>
      (JSON.parse(s).result.messages as { id: string }[]).map((x) => x.id).join(",");
    if (ids(m.stdout) !== ids(f.stdout) || ids(f.stdout).split(",").length !== 20) {
      throw new Error(`mcs and the floor disagree:\n${m.stdout}\n${f.stdout}`);
    }
    if (m.requests !== 2 || f.requests !== 2) {
      throw new Error(`expected 2 Gmail requests each; mcs ${m.requests}, floor ${f.requests}`);
    }

    const results: RoundResult[] = [];
    const samples = ROUNDS.map(() => ({
      floor: [] as number[],
      mcs: [] as number[],
      floorCpu: [] as number[],
      mcsCpu: [] as number[],
      req: [] as number[],
      base: [] as number[],
      baseCpu: [] as number[],
    }));
    // Interleave: every pair, both latencies, alternating which of the two starts.
    for (let i = 0; i < runs; i++) {
      for (const [k, round] of ROUNDS.entries()) {
        gmail.setLatency(round.latencyMs);
        const s = samples[k];
        const floor = async () => {
          const r = await run(floorCmd, floorEnv);
          s.floor.push(r.ms);
          if (r.cpuMs !== undefined) s.floorCpu.push(r.cpuMs);
        };
        const mcs = async () => {
          const r = await run(mcsCmd, mcsEnv);
          s.mcs.push(r.ms);
          if (r.cpuMs !== undefined) s.mcsCpu.push(r.cpuMs);
          s.req.push(r.requests);
        };
        const base = async () => {
          if (!baseCmd) return;
          const r = await run(baseCmd, mcsEnv);
          s.base.push(r.ms);
          if (r.cpuMs !== undefined) s.baseCpu.push(r.cpuMs);
        };
        const order = [floor, mcs, base];
        for (let j = 0; j < 3; j++) await order[(i + j) % 3]();
      }
    }
    gmail.setLatency(0);
    for (const [k, round] of ROUNDS.entries()) {
      const s = samples[k];
      const pairs = s.mcs.map((x, i) => x / s.floor[i]);
      const floorMedianMs = quantile(s.floor, 0.5);
      const mcsMedianMs = quantile(s.mcs, 0.5);
      results.push({
        latencyMs: round.latencyMs,
        target: round.target,
        runs,
        floorMedianMs,
        mcsMedianMs,
        ratio: mcsMedianMs / floorMedianMs,
        pairRatio: {
          median: quantile(pairs, 0.5),
          p25: quantile(pairs, 0.25),
          p75: quantile(pairs, 0.75),
        },
        floorP90Ms: quantile(s.floor, 0.9),
        mcsP90Ms: quantile(s.mcs, 0.9),
        mcsRequests: [...new Set(s.req)].sort(),
        ...(s.base.length
          ? {
            baselineMedianMs: quantile(s.base, 0.5),
            baselineRatio: quantile(s.base, 0.5) / floorMedianMs,
            baselinePairRatio: quantile(s.base.map((x, i) => x / s.floor[i]), 0.5),
            ...(s.baseCpu.length ? { baselineCpuMs: quantile(s.baseCpu, 0.5) } : {}),
          }
          : {}),
        ...(s.mcsCpu.length
          ? {
            floorCpuMs: quantile(s.floorCpu, 0.5),
            mcsCpuMs: quantile(s.mcsCpu, 0.5),
          }
          : {}),
      });
    }
    if (values.json) {
      console.log(JSON.stringify({ form: values.split ? "bundle --split" : "bundle", results }));
      return 0;
    }
    console.log(
      `cached-token search_emails of 20 (${
        values.split ? "bundle --split" : "bundle"
      }) vs its floor (tests/bench/floor_search.ts): ${runs} interleaved pairs per latency, ` +
        `Gmail emulator over TLS\n`,
    );
    console.log(
      "| latency per response | floor median ms | mcs median ms | × floor | pair ratio p25–p75 | target | CPU ms floor / mcs |",
    );
    console.log("|---:|---:|---:|---:|---|---|---|");
    for (const r of results) {
      console.log(
        `| ${r.latencyMs} ms | ${r.floorMedianMs.toFixed(1)} | ${r.mcsMedianMs.toFixed(1)} | ${
          r.ratio.toFixed(2)
        } | ${r.pairRatio.p25.toFixed(2)}–${r.pairRatio.p75.toFixed(2)} | ≤ ${r.target}× ${
          r.ratio <= r.target ? "✓" : "✗"
        } | ${
          r.mcsCpuMs === undefined
            ? "n/a"
            : `${r.floorCpuMs!.toFixed(1)} / ${r.mcsCpuMs.toFixed(1)} (${
              (r.mcsCpuMs / r.floorCpuMs!).toFixed(2)
            }×)`
        } |`,
      );
    }
    for (const r of results) {
      if (r.baselineRatio !== undefined) {
        console.log(
          `baseline (${values.baseline}) at ${r.latencyMs} ms: median ${
            r.baselineMedianMs!.toFixed(1)
          } ms, ${r.baselineRatio.toFixed(2)}× floor (pair median ${
            r.baselinePairRatio!.toFixed(2)
          }×); this tree ${r.ratio.toFixed(2)}× (pair median ${r.pairRatio.median.toFixed(2)}×)${
            r.baselineCpuMs === undefined
              ? ""
              : `; CPU ms floor / baseline / this tree: ${r.floorCpuMs!.toFixed(1)} / ${
                r.baselineCpuMs.toFixed(1)
              } / ${r.mcsCpuMs!.toFixed(1)}`
          }`,
        );
      }
    }
    const extra = results.flatMap((r) => r.mcsRequests).some((n) => n !== 2);
    if (extra) {
      console.log("Note: some mcs runs made more than 2 Gmail requests (label cache expired?).");
    }
    return 0;
  } finally {
    front?.close();
    await plain?.close();
    await stack.close();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
