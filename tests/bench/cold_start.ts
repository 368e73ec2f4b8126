/**
 * Cold-start benchmark: every row is a fresh process, as every mcs invocation is.
 *
 * ```sh
 * deno task bench                 # 15 runs per row
 * deno task bench --runs 31 --binary dist/mcs --json
 * ```
 *
 * Rows: `deno run` of an empty script (the floor), then `mcs --version`, `mcs tools --json` and
 * `mcs mail search` with a static token against the local Gmail emulator, each from source
 * (`deno run -P=mcs cli/main.ts`), from the bundle (`dist/mcs.js` under its baked permission set)
 * and from a compiled binary when `--binary` is given. For each: median and p90 wall time, the
 * ratio to the floor, and the median peak RSS (`/usr/bin/time -f %M`; `apt-get install time`).
 * The bundle is built fresh, scoped to the emulator, so it runs under exactly the least-privilege
 * set a deployment would get. Targets: `--version` ≤ 1.5× floor, a cached-token search ≤ 3× floor
 * plus the emulator round trips, peak memory < 80 MB. Then runs `tests/bench/search_floor.ts`
 * (a cached-token `search_emails` against a minimal script making the same two HTTPS requests:
 * the two ratios, 20 ms per response and none) and `tests/bench/gmail.ts`. Prints Markdown
 * tables to paste in the README.
 *
 * @example
 * ```sh
 * deno run -A tests/bench/cold_start.ts --runs 5
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { RUNTIME_BEHAVIOUR } from "../../lib/build/artifacts.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { genericPermissions, scopedPermissions, toDenoFlags } from "../../lib/build/permissions.ts";
import { resolveConfig } from "../../lib/config/resolve.ts";
import { mapEnv } from "../../lib/config/env.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { GoogleTokenRegistry } from "../../lib/emulators/google_tokens.ts";
import { GmailClient } from "../../lib/gmail/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TIME = "/usr/bin/time";

/** One benchmarked command. */
interface Row {
  name: string;
  cmd: string[];
  env: Record<string, string>;
  /** Compare against the floor with this target ratio (informational). */
  target?: string;
  /** Expected exit code (default 0). */
  expect?: number;
}

/** Measured figures of a row. */
interface Result {
  name: string;
  medianMs: number;
  p90Ms: number;
  ratio: number;
  rssMb?: number;
  target?: string;
  note?: string;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.ceil(i)] - s[lo]) * (i - lo);
}

async function hasTime(): Promise<boolean> {
  try {
    return (await Deno.stat(TIME)).isFile;
  } catch {
    return false;
  }
}

async function once(row: Row, rssFile?: string): Promise<{ ms: number; rssKb?: number }> {
  const cmd = rssFile ? [TIME, "-o", rssFile, "-f", "%M", ...row.cmd] : row.cmd;
  const t0 = performance.now();
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env: row.env,
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (out.code !== (row.expect ?? 0)) {
    throw new Error(
      `${row.name}: exit ${out.code}\n${new TextDecoder().decode(out.stderr).slice(0, 2000)}`,
    );
  }
  let rssKb: number | undefined;
  if (rssFile) {
    const text = await Deno.readTextFile(rssFile);
    rssKb = Number(text.trim().split("\n").at(-1));
  }
  return { ms, rssKb };
}

async function measure(row: Row, runs: number, rssFile?: string): Promise<Omit<Result, "ratio">> {
  await once(row); // warm the OS page cache and deno's code cache
  const ms: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(row, rssFile);
    ms.push(r.ms);
    if (r.rssKb !== undefined && Number.isFinite(r.rssKb)) rss.push(r.rssKb);
  }
  return {
    name: row.name,
    medianMs: quantile(ms, 0.5),
    p90Ms: quantile(ms, 0.9),
    rssMb: rss.length ? quantile(rss, 0.5) / 1024 : undefined,
    target: row.target,
  };
}

/** A Gmail emulator with a static token, if the emulator module is present. */
interface SearchTarget {
  apiBase: string;
  token: string;
  /** One plain list request from this warm process (the bare round trip). */
  rttMs: number;
  /**
   * The same search `mcs mail search in:inbox` makes (list, batch metadata, labels), run warm
   * in this process through the real Gmail client: the emulator's round trips including its own
   * service time, without any process start-up. The search target is 3 × floor + this.
   */
  searchTripsMs: number;
  /** HTTP requests the emulator has received so far. */
  requests(): number;
  close(): Promise<void>;
}

async function startSearchTarget(): Promise<SearchTarget> {
  const googleTokens = new GoogleTokenRegistry();
  const emu = await startGmailEmulator({ googleTokens, seed: true });
  const { token } = googleTokens.issue({
    sub: "google-oauth2|bench",
    email: "ada@example.com",
    scopes: ["https://mail.google.com/"],
    ttlS: 3600,
  });
  // The round trip of one list request from this (warm) process, for the search target.
  const rtt: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    const res = await fetch(`${emu.url}/gmail/v1/users/me/messages?q=in:inbox&maxResults=10`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body?.cancel();
    rtt.push(performance.now() - t0);
  }
  const gmail = new GmailClient({
    apiBase: emu.url,
    credentials: { getToken: () => Promise.resolve(token), invalidate: () => Promise.resolve() },
  });
  const trips: number[] = [];
  for (let i = 0; i < 16; i++) {
    // A fresh client per run would re-list labels: the CLI does too (one process per call).
    const fresh = i === 0 ? gmail : new GmailClient({
      apiBase: emu.url,
      credentials: { getToken: () => Promise.resolve(token), invalidate: () => Promise.resolve() },
    });
    const t0 = performance.now();
    await fresh.search({ query: "in:inbox", limit: 20 });
    if (i > 0) trips.push(performance.now() - t0);
  }
  return {
    apiBase: emu.url,
    token,
    rttMs: quantile(rtt, 0.5),
    searchTripsMs: quantile(trips, 0.5),
    requests: () => emu.requestCount,
    close: () => emu.close(),
  };
}

/**
 * Build the bundle into `dist`, scoped to `vars` (the deployment's non-secret settings), and
 * return the `deno run` command that runs it under its baked permission set. `root`: the checkout
 * whose build tool and sources to use (default this one; another for a before/after comparison).
 */
export async function bundleFor(
  dist: string,
  vars: Record<string, string>,
  split: boolean,
  root: string = ROOT,
): Promise<string[]> {
  const build = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(root, "lib", "build", "main.ts"),
      "bundle",
      "--dist",
      dist,
      ...(split ? ["--split"] : []),
    ],
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...vars },
    clearEnv: true,
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (build.code !== 0) throw new Error(new TextDecoder().decode(build.stderr));
  const m = JSON.parse(await Deno.readTextFile(join(dist, "mcs.permissions.json")));
  const envFile = Object.keys(m.env).length ? [`--env-file=${join(dist, "mcs.env")}`] : [];
  return [
    Deno.execPath(),
    "run",
    "--no-config",
    "--no-lock",
    "--no-remote",
    "--no-npm",
    RUNTIME_BEHAVIOUR,
    ...m.flags,
    ...envFile,
    join(dist, "mcs.js"),
  ];
}

function table(results: Result[]): string {
  const head = "| command | median ms | p90 ms | × floor | peak RSS MB | target |\n" +
    "|---|---:|---:|---:|---:|---|";
  const lines = results.map((r) =>
    `| ${r.name} | ${r.medianMs.toFixed(1)} | ${r.p90Ms.toFixed(1)} | ${r.ratio.toFixed(2)} | ${
      r.rssMb === undefined ? "n/a" : r.rssMb.toFixed(1)
    } | ${r.target ?? ""}${r.note ? ` ${r.note}` : ""} |`
  );
  return [head, ...lines].join("\n");
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "15" },
      binary: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  const tmp = await Deno.makeTempDir({ prefix: "mcs-bench-" });
  const notes: string[] = [];
  const useTime = await hasTime();
  if (!useTime) notes.push(`${TIME} not found (apt-get install time): no memory figures.`);
  const rssFile = useTime ? join(tmp, "rss") : undefined;
  const search = await startSearchTarget();
  try {
    const cache = join(tmp, "cache");
    await Deno.mkdir(cache);
    const empty = join(tmp, "empty.js");
    await Deno.writeTextFile(empty, "");
    // HOME points into the scratch dir (no user config leaks in); DENO_DIR stays the real cache.
    const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
    const denoDir = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir as string;
    const base = { PATH: Deno.env.get("PATH") ?? "", HOME: tmp, DENO_DIR: denoDir, NO_COLOR: "1" };
    const mcsVars: Record<string, string> = {
      MCS_AUTH: "static",
      MCS_CACHE_DIR: cache,
      MCS_GMAIL_API_BASE: search.apiBase,
    };

    const dist = join(tmp, "dist");
    const splitDist = join(tmp, "dist-split");
    let bundle: string[] | undefined;
    let split: string[] | undefined;
    let bundleSize = 0;
    let splitEntrySize = 0;
    let chunkSize = 0;
    let chunkCount = 0;
    try {
      bundle = await bundleFor(dist, mcsVars, false);
      bundleSize = (await Deno.stat(join(dist, "mcs.js"))).size;
      split = await bundleFor(splitDist, mcsVars, true);
      splitEntrySize = (await Deno.stat(join(splitDist, "mcs.js"))).size;
      for await (const e of Deno.readDir(join(splitDist, "mcs-chunks"))) {
        chunkSize += (await Deno.stat(join(splitDist, "mcs-chunks", e.name))).size;
        chunkCount++;
      }
    } catch (e) {
      notes.push(`bundle rows skipped: ${String(e).split("\n").slice(0, 3).join(" ")}`);
    }
    const source = [
      Deno.execPath(),
      "run",
      "--no-prompt",
      "-P=mcs",
      join(ROOT, "cli", "main.ts"),
    ];
    // The binary was built elsewhere: grant it the same scoped set by env only.
    const binary = values.binary ? [values.binary] : undefined;
    const rows: Row[] = [
      {
        name: "`deno run` empty script (floor)",
        cmd: [Deno.execPath(), "run", "--no-config", empty],
        env: base,
      },
    ];
    const variants: [string, string[]][] = [["source", source]];
    if (bundle) variants.push(["bundle", bundle]);
    if (split) variants.push(["bundle --split", split]);
    if (binary) variants.push(["binary", binary]);
    const env = { ...base, ...mcsVars };
    for (const [label, cmd] of variants) {
      rows.push({
        name: `mcs --version (${label})`,
        cmd: [...cmd, "--version"],
        env,
        target: "≤ 1.5×",
      });
      rows.push({ name: `mcs tools --json (${label})`, cmd: [...cmd, "tools", "--json"], env });
      rows.push({
        name: `mcs mail search (${label}, static token)`,
        cmd: [...cmd, "mail", "search", "in:inbox", "--json"],
        env: { ...env, MCS_GMAIL_TOKEN: search.token },
        target: "≤ 3× + RTT",
      });
    }
    const measured: Omit<Result, "ratio">[] = [];
    let tripsPerSearch = 0;
    for (const row of rows) {
      const before = search.requests();
      measured.push(await measure(row, runs, rssFile));
      if (row.target === "≤ 3× + RTT") {
        tripsPerSearch = (search.requests() - before) / (runs + 1);
      }
    }
    const floor = measured[0].medianMs;
    const results: Result[] = measured.map((m) => ({ ...m, ratio: m.medianMs / floor }));
    for (const r of results) {
      if (r.target === "≤ 1.5×") r.note = r.ratio <= 1.5 ? "✓" : "✗";
      if (r.target === "≤ 3× + RTT") {
        r.note = r.medianMs <= 3 * floor + search.searchTripsMs ? "✓" : "✗";
      }
      if (r.rssMb !== undefined && r.rssMb >= 80) r.note = `${r.note ?? ""} RSS ✗`;
    }
    if (values.json) {
      console.log(JSON.stringify({
        runs,
        floorMs: floor,
        searchTripsMs: search.searchTripsMs,
        bundleBytes: bundleSize,
        splitEntryBytes: splitEntrySize,
        chunkBytes: chunkSize,
        chunks: chunkCount,
        results,
      }));
    } else {
      const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
        .match(/model name\s*:\s*(.*)/)?.[1] ?? Deno.build.target;
      console.log(
        `mcs cold start — deno ${Deno.version.deno}, ${cpu}, ${navigator.hardwareConcurrency} cores, ${runs} runs per row (median of fresh processes)\n`,
      );
      console.log(table(results));
      if (bundle) {
        console.log(
          `\nBundle: dist/mcs.js ${(bundleSize / 1024).toFixed(0)} KiB, one file (minified, npm ` +
            `deps inlined). --split: entry ${
              (splitEntrySize / 1024).toFixed(0)
            } KiB (argv, help, ` +
            `--version, tools) + dist/mcs-chunks/ ${chunkCount} files, ${
              (chunkSize / 1024).toFixed(0)
            } KiB, each loaded only by the commands that need it.`,
        );
      }
      console.log(
        `Gmail emulator: ${tripsPerSearch.toFixed(1)} HTTP requests per search; one bare round ` +
          `trip ${search.rttMs.toFixed(1)} ms; the search's round trips (same client calls, ` +
          `warm, in-process, incl. the emulator's service time) ${
            search.searchTripsMs.toFixed(1)
          } ms; search target = 3 × floor + that = ${
            (3 * floor + search.searchTripsMs).toFixed(1)
          } ms.`,
      );
      console.log(
        `Permission sets: source = deno.json "mcs"; bundle = ${
          toDenoFlags(scopedPermissions(
            await resolveConfig({
              env: mapEnv(mcsVars),
              readFile: () => Promise.resolve(undefined),
            }),
            { configFileExists: false },
          )).filter((f) => !f.startsWith("--allow-env")).join(" ")
        } --allow-env=<allEnvNames()>; generic binaries: ${
          toDenoFlags(genericPermissions()).slice(1, 4).join(" ")
        } ...`,
      );
      for (const n of notes) console.log(`Note: ${n}`);
      console.log(
        "\nReproduce: deno task bench (or deno run -A tests/bench/cold_start.ts --runs 15)",
      );
    }
  } finally {
    await search.close();
    await Deno.remove(tmp, { recursive: true });
  }
  console.log("\n## Search against its floor (tests/bench/search_floor.ts)\n");
  const floor = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "tests", "bench", "search_floor.ts"), "--runs", String(runs)],
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (floor.code !== 0) return floor.code;
  const gmailBench = join(ROOT, "tests", "bench", "gmail.ts");
  if (await Deno.stat(gmailBench).then(() => true, () => false)) {
    console.log("\n## Gmail benchmark (tests/bench/gmail.ts)\n");
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", gmailBench],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (r.code !== 0) return r.code;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
