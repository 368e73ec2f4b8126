/**
 * Helpers for the build tests: run `lib/build/main.ts` in a subprocess, build the bundle once per
 * test file into a temporary dist directory, run programs under its baked permission set, and
 * tell whether a denort base binary is available for a real `deno compile`.
 *
 * @example
 * ```ts
 * import { buildBundle, runUnder } from "./_build.ts";
 * const b = await buildBundle({ MCS_AUTH: "static", MCS_CACHE_DIR: "/tmp/c" });
 * const r = await runUnder(b, b.bundle, ["--version"]);
 * await b.cleanup();
 * ```
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Manifest, RUNTIME_BEHAVIOUR } from "../../lib/build/artifacts.ts";
import { denortZipPath } from "../../lib/build/denort.ts";
import { toolchainEnv } from "../support/toolchain_env.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUILD = join(ROOT, "lib", "build", "main.ts");

/** Output of a finished subprocess. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to completion (stdin closed unless given). */
export async function exec(
  cmd: string[],
  opts: { env?: Record<string, string>; clearEnv?: boolean; stdin?: string; cwd?: string } = {},
): Promise<Ran> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env: opts.env,
    clearEnv: opts.clearEnv,
    cwd: opts.cwd ?? ROOT,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The environment for `lib/build/main.ts`: HOME and the toolchain's (certificates, proxies,
 * npm config, Deno's cache: {@link toolchainEnv}), plus `vars`. */
export function buildEnv(vars: Record<string, string>): Record<string, string> {
  const home = Deno.env.get("HOME");
  return toolchainEnv({ ...(home ? { HOME: home } : {}), NO_COLOR: "1", ...vars });
}

/** Run `lib/build/main.ts <args>` with only `vars` as the deployment's environment. */
export function runBuild(args: string[], vars: Record<string, string>): Promise<Ran> {
  return exec([Deno.execPath(), "run", "-A", BUILD, ...args], {
    env: buildEnv(vars),
    clearEnv: true,
  });
}

/** A bundle built into a temporary directory. */
export interface BuiltBundle {
  dist: string;
  bundle: string;
  envFile?: string;
  manifest: Manifest;
  cleanup(): Promise<void>;
}

/** Build `dist/mcs.js` (+ sidecars) scoped to `vars` into a fresh temporary directory. */
export async function buildBundle(
  vars: Record<string, string>,
  args: string[] = [],
): Promise<BuiltBundle> {
  const dist = await Deno.makeTempDir({ prefix: "mcs-dist-" });
  const r = await runBuild(["bundle", "--dist", dist, ...args], vars);
  if (r.code !== 0) {
    await Deno.remove(dist, { recursive: true });
    throw new Error(`bundle failed (${r.code}):\n${r.stderr}`);
  }
  const manifest = JSON.parse(
    await Deno.readTextFile(join(dist, "mcs.permissions.json")),
  ) as Manifest;
  const envFile = Object.keys(manifest.env).length ? join(dist, "mcs.env") : undefined;
  return {
    dist,
    bundle: join(dist, "mcs.js"),
    envFile,
    manifest,
    cleanup: () => Deno.remove(dist, { recursive: true }),
  };
}

/**
 * Run `script` (the bundle or a probe) with `deno run` under exactly the bundle's baked flags
 * and env file, with a clean environment plus `env`.
 */
export function runUnder(
  b: BuiltBundle,
  script: string,
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; cwd?: string } = {},
): Promise<Ran> {
  return exec(
    [
      Deno.execPath(),
      "run",
      "--no-config",
      "--no-lock",
      "--no-remote",
      "--no-npm",
      RUNTIME_BEHAVIOUR,
      ...b.manifest.flags,
      ...(b.envFile ? [`--env-file=${b.envFile}`] : []),
      script,
      ...args,
    ],
    { env: { NO_COLOR: "1", ...opts.env }, clearEnv: true, stdin: opts.stdin, cwd: opts.cwd },
  );
}

/** Where `deno compile` would find a denort base binary offline, or undefined. */
export async function denortAvailable(): Promise<string | undefined> {
  const bin = Deno.env.get("DENORT_BIN");
  if (bin) return bin;
  const info = await exec([Deno.execPath(), "info", "--json"]);
  const zip = denortZipPath(
    JSON.parse(info.stdout).denoDir,
    Deno.version.deno,
    Deno.build.target,
  );
  try {
    await Deno.stat(zip);
    return zip;
  } catch {
    return undefined;
  }
}
