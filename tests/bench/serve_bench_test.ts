/**
 * The team-server bench (`deno task bench:serve`) still runs, with each load driver: a two-second
 * run of two users, read back from `--json`. Speed is the bench's business, not a test's: this
 * checks that every call succeeded, that calls were counted and timed (a call waits for two
 * Gmail responses of 20 ms each, so no honest measurement is under 40 ms), and that both
 * replicas and the CPU accounting reported figures.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { requires, testRequiring } from "../support/requires.ts";

const BENCH = new URL("./serve.ts", import.meta.url).pathname;

const hasWrk = await new Deno.Command("wrk", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then(() => true, () => false);
const wrk = requires("wrk", hasWrk);

async function runBench(driver: string) {
  const env = Deno.env.toObject();
  // A short run on the file store, whatever the developer's shell has set for Redis.
  delete env.MCS_STORE;
  delete env.MCS_STORE_KEY;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--no-prompt", "-A", BENCH, "--json", "--driver", driver],
      ...["--users", "2", "--concurrency", "2", "--seconds", "2", "--single-seconds", "1"],
    ],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  const last = text.split("\n").at(-1) ?? "";
  assert(
    last.startsWith("{"),
    `no JSON result (exit ${out.code}): ${text}\n${new TextDecoder().decode(out.stderr)}`,
  );
  return JSON.parse(last);
}

for (const driver of ["fetch", "wrk"]) {
  testRequiring(driver === "wrk" ? [wrk] : [], {
    name: `serve bench: --driver ${driver} measures two users on two replicas`,
    async fn() {
      const r = await runBench(driver);
      assertEquals(r.driver, driver);
      assertEquals(r.errors, 0);
      assert(r.calls > 0, `calls: ${r.calls}`);
      for (const ms of [r.singleWarmP50Ms, r.p50Ms, r.p99Ms]) assert(ms >= 40, `latency ${ms}`);
      assertEquals(r.peakMemoryMiB.length, 2);
      for (const mib of r.peakMemoryMiB) assert(mib > 0);
      assert(r.cpuPerCallMs.replicas > 0 && r.cpuPerCallMs.total >= r.cpuPerCallMs.replicas);
      assert(r.neededPerSecond > 0 && r.capacityPerSecond > 0);
    },
  });
}
