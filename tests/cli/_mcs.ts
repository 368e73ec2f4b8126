/**
 * Test helper: run the real CLI as a separate process (`deno run cli/main.ts ...`) with a clean
 * environment, and parse its single JSON document.
 * @module
 */

const ROOT = new URL("../../", import.meta.url);
export const ROOT_PATH = ROOT.pathname.replace(/\/$/, "");
export const MAIN = `${ROOT_PATH}/cli/main.ts`;
export const CONFIG = `${ROOT_PATH}/deno.json`;

/** What a run returned. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link mcs}. */
export interface McsOptions {
  env?: Record<string, string>;
  stdin?: string;
  /** Deno permission flags (default `-P=mcs`). */
  perms?: string[];
  cwd?: string;
}

/** Run `mcs args...`; the environment holds only `env` (plus what Deno needs). */
export async function mcs(args: string[], o: McsOptions = {}): Promise<Ran> {
  const env: Record<string, string> = {
    // No user config, no proxies; Deno's module cache stays reachable.
    MCS_CONFIG: `${ROOT_PATH}/tests/cli/fixtures/absent-config.toml`,
    ...o.env,
  };
  for (const name of ["DENO_DIR", "PATH"]) {
    const v = Deno.env.get(name);
    if (v && !(name in env)) env[name] = v;
  }
  if (!env.DENO_DIR) env.DENO_DIR = `${Deno.env.get("HOME")}/.cache/deno`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...(o.perms ?? ["-P=mcs"]), "--config", CONFIG, MAIN, ...args],
    cwd: o.cwd ?? ROOT_PATH,
    env,
    clearEnv: true,
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
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr).split("\n").filter((l) => !/experimental feature/.test(l))
      .join("\n"),
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
