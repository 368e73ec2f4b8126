/**
 * Child processes for tests: run a command to completion with optional stdin, and run a Deno
 * script as its own process (an agent step, a browser session) that prints one JSON line.
 *
 * @example
 * ```ts
 * import { runDenoJson, runProcess } from "./process.ts";
 * const ran = await runProcess("git", ["--version"]); // { code, stdout, stderr }
 * const out = await runDenoJson<{ ok: boolean }>("tests/x/fixtures/agent.ts", {
 *   perms: ["--allow-net=127.0.0.1"],
 *   input: { cacheDir: "/tmp/c" }, // JSON on stdin: secrets never in argv
 * });
 * ```
 * @module
 */

/** What a finished process returned. */
export interface Ran {
  code: number;
  success: boolean;
  stdout: string;
  stderr: string;
}

/** Options of {@link runProcess}. */
export interface RunOptions {
  env?: Record<string, string>;
  /** Start from an empty environment (only `env`). */
  clearEnv?: boolean;
  /** Written to stdin, which is then closed (default: no stdin). */
  stdin?: string;
  cwd?: string | URL;
}

/** Run `cmd args...` to completion, capturing stdout and stderr as text. */
export async function runProcess(cmd: string, args: string[], o: RunOptions = {}): Promise<Ran> {
  const child = new Deno.Command(cmd, {
    args,
    env: o.env,
    clearEnv: o.clearEnv,
    cwd: o.cwd,
    stdin: o.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (o.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(o.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    success: out.success,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** Options of {@link runDenoJson}. */
export interface DenoJsonOptions {
  /** Permission flags, e.g. `["--allow-net=127.0.0.1"]` or `["-A"]`. */
  perms: string[];
  env?: Record<string, string>;
  /** Sent as JSON on stdin. */
  input?: unknown;
}

/**
 * Run `deno run --no-prompt <perms> <script>` and parse its stdout, which must be exactly one
 * JSON line. Throws with the child's stderr when it fails or prints anything else.
 */
export async function runDenoJson<T>(script: string, o: DenoJsonOptions): Promise<T> {
  const ran = await runProcess(Deno.execPath(), ["run", "--no-prompt", ...o.perms, script], {
    env: o.env,
    stdin: o.input === undefined ? undefined : JSON.stringify(o.input),
  });
  const text = ran.stdout.trim();
  if (!ran.success || !text || text.includes("\n")) {
    throw new Error(
      `${script} (exit ${ran.code}) did not print one JSON line: ${
        JSON.stringify(text.slice(0, 500))
      }\n${ran.stderr}`,
    );
  }
  return JSON.parse(text);
}
