/**
 * Test helper: run the real CLI as a separate process (`deno run cli/main.ts ...`) with a clean
 * environment, and parse its single JSON document.
 * @module
 */

import { type Ran, runProcess } from "../support/process.ts";
import { toolchainEnv } from "../support/toolchain_env.ts";

const ROOT = new URL("../../", import.meta.url);
export const ROOT_PATH = ROOT.pathname.replace(/\/$/, "");
export const MAIN = `${ROOT_PATH}/cli/main.ts`;
export const CONFIG = `${ROOT_PATH}/deno.json`;
export type { Ran };

/** Options of {@link mcs}. */
export interface McsOptions {
  env?: Record<string, string>;
  stdin?: string;
  /** Deno permission flags (default `-P=mcs`). */
  perms?: string[];
  cwd?: string;
}

/**
 * The child's environment: only `extra`, no user config, plus the toolchain's variables
 * (PATH, Deno's cache, certificates, npm registry config, proxies unless `extra` sets its own;
 * see {@link toolchainEnv}).
 */
export function mcsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return toolchainEnv({
    // No user config; what the test gives wins.
    MCS_CONFIG: `${ROOT_PATH}/tests/cli/fixtures/absent-config.toml`,
    ...extra,
  });
}

/** `deno run` arguments for `mcs args...` (the CLI's own permission set unless `perms`). */
export function mcsArgs(args: string[], perms = ["-P=mcs"]): string[] {
  return ["run", "--no-prompt", ...perms, "--config", CONFIG, MAIN, ...args];
}

/** Drop Deno's own "experimental feature" warnings from stderr. */
function ours(stderr: string): string {
  return stderr.split("\n").filter((l) => !/experimental feature/.test(l)).join("\n");
}

/** Run `mcs args...`; the environment holds only `env` (plus the toolchain's, {@link mcsEnv}). */
export async function mcs(args: string[], o: McsOptions = {}): Promise<Ran> {
  const ran = await runProcess(Deno.execPath(), mcsArgs(args, o.perms), {
    env: mcsEnv(o.env),
    clearEnv: true,
    stdin: o.stdin,
    cwd: o.cwd ?? ROOT_PATH,
  });
  return { ...ran, stderr: ours(ran.stderr) };
}

/** A running `mcs` whose stderr is read as it comes (for commands that wait on the user). */
export interface LiveMcs {
  /** Read stderr until `pattern` matches what has arrived; null if the process ended first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray | null>;
  /** Everything read from stderr so far. */
  readonly stderr: string;
  /** Wait for the exit, reading the rest of stderr. */
  finish(): Promise<Ran>;
  /** Send a signal (default SIGTERM). */
  kill(signal?: Deno.Signal): void;
  /** The process id. */
  readonly pid: number;
}

/** Start `mcs args...` (stdin closed, same environment rules as {@link mcs}). */
export function spawnMcs(
  args: string[],
  o: { env?: Record<string, string>; denoFlags?: string[] } = {},
): LiveMcs {
  const child = new Deno.Command(Deno.execPath(), {
    args: mcsArgs(args, ["-P=mcs", ...(o.denoFlags ?? [])]),
    cwd: ROOT_PATH,
    env: mcsEnv(o.env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  return {
    pid: child.pid,
    get stderr() {
      return err;
    },
    async waitFor(pattern) {
      for (;;) {
        const hit = pattern.exec(err);
        if (hit) return hit;
        const { value, done } = await reader.read();
        if (done) return null;
        err += value;
      }
    },
    kill(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    },
    async finish() {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        err += value;
      }
      const status = await child.status;
      return { code: status.code, success: status.success, stdout: await stdout, stderr: err };
    },
  };
}

/** A long-running `mcs` (a server) started by {@link startMcs}. */
export interface RunningMcs {
  /** What the ready pattern matched. */
  ready: RegExpExecArray;
  /** The process id. */
  pid: number;
  /** Everything read from stderr so far (read on in the background until the exit). */
  readonly stderr: string;
  /** Send `signal` (default SIGTERM) once and wait for the exit; later calls wait for the same. */
  stop(signal?: Deno.Signal): Promise<Ran>;
  /** {@link RunningMcs.stop} with SIGTERM. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Start `mcs args...` ({@link spawnMcs}) and wait until stderr matches `ready` (its listening
 * line); throws with stderr if it ends first. Then stderr (the log) is read on in the background,
 * so a long log never fills the pipe.
 */
export async function startMcs(
  args: string[],
  ready: RegExp,
  o: { env?: Record<string, string>; denoFlags?: string[] } = {},
): Promise<RunningMcs> {
  const child = spawnMcs(args, o);
  const hit = await child.waitFor(ready);
  if (!hit) {
    const { stderr } = await child.finish();
    throw new Error(`mcs ${args.join(" ")} ended before ${ready}: ${stderr}`);
  }
  // Read on until the exit (appending only: a regex over the whole log per chunk would cost
  // the reader O(n²) CPU under a long access log, which the serve bench measures beside).
  const finished = child.finish();
  let done: Promise<Ran> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") =>
    done ??= (async () => {
      child.kill(signal);
      return await finished;
    })();
  return {
    ready: hit,
    pid: child.pid,
    get stderr() {
      return child.stderr;
    },
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** Parse stdout as exactly one JSON document (fails on any extra prose). */
// deno-lint-ignore no-explicit-any
export function doc<T = any>(r: Ran): T {
  const text = r.stdout;
  if (!text.endsWith("\n") || text.trimEnd().includes("\n")) {
    throw new Error(`stdout is not exactly one JSON line: ${JSON.stringify(text)} / ${r.stderr}`);
  }
  return JSON.parse(text);
}

/** Sleep. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
