/**
 * The toolchain's environment for child processes started with a clean environment
 * (`clearEnv: true`). Tests clear the environment so that no user setting leaks into the
 * program under test, but Deno itself still needs what the machine gave it to reach the npm
 * registry and its module cache; without it a fresh machine fails (`deno bundle` cannot fetch
 * esbuild where the registry needs the system CA, and a child with another cache re-resolves
 * every npm package). What passes through:
 *
 * - `PATH`;
 * - certificates: `DENO_CERT`, `DENO_TLS_CA_STORE`, `SSL_CERT_FILE`, `SSL_CERT_DIR`,
 *   `NODE_EXTRA_CA_CERTS`;
 * - npm registry configuration: `NPM_CONFIG_*` and `npm_config_*`, `DENO_AUTH_TOKENS`;
 * - the Deno cache as Deno resolves it: `DENO_DIR`, else `deno info --json`'s `denoDir`, else
 *   the platform default (omit with `denoDir: false` when the test is about the cache);
 * - proxies (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, both cases), only when the
 *   test sets none of them itself (proxy tests set their own and get nothing from here). The
 *   program has no implicit loopback bypass, so inherited proxies get `127.0.0.1,localhost,::1`
 *   added to `NO_PROXY`: the emulators the tests start are on loopback.
 *
 * What the test passes wins over all of these.
 *
 * @example
 * ```ts
 * import { toolchainEnv } from "./toolchain_env.ts";
 * const env = toolchainEnv({ MCS_CACHE_DIR: "/tmp/c" }); // PATH, DENO_DIR, certs, ... + ours
 * new Deno.Command(Deno.execPath(), { args: ["--version"], env, clearEnv: true });
 * ```
 * @module
 */

import { STANDARD_PROXY_ENV_NAMES } from "../../lib/net/proxy.ts";

/** Certificate variables Deno (and npm, for `npx`) read. */
export const CERT_VARS = [
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
] as const;

/** Proxy variables, both cases: the ones the network layer reads. */
export const PROXY_VARS = STANDARD_PROXY_ENV_NAMES;

const LOOPBACK = ["127.0.0.1", "localhost", "::1"];

let denoDirMemo: string | undefined;

/** Deno's module cache directory as Deno resolves it for this process's environment. */
export function denoDir(): string {
  if (denoDirMemo) return denoDirMemo;
  const set = Deno.env.get("DENO_DIR");
  if (set) return denoDirMemo = set;
  try {
    const out = new Deno.Command(Deno.execPath(), {
      args: ["info", "--json"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const dir = JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
    if (typeof dir === "string" && dir) return denoDirMemo = dir;
  } catch { /* fall through to the platform default */ }
  const home = Deno.env.get("HOME") ?? "";
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  denoDirMemo = Deno.build.os === "darwin"
    ? `${home}/Library/Caches/deno`
    : Deno.build.os === "windows"
    ? `${Deno.env.get("LOCALAPPDATA")}\\deno`
    : `${xdg || `${home}/.cache`}/deno`;
  return denoDirMemo;
}

/** Options of {@link toolchainEnv}. */
export interface ToolchainEnvOptions {
  /** Pass Deno's cache directory (default true). */
  denoDir?: boolean;
}

/** The toolchain's variables (see the module doc), overridden by `vars`. */
export function toolchainEnv(
  vars: Record<string, string> = {},
  options: ToolchainEnvOptions = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  const copy = (name: string) => {
    const v = Deno.env.get(name);
    if (v !== undefined && v !== "") env[name] = v;
  };
  copy("PATH");
  for (const name of CERT_VARS) copy(name);
  copy("DENO_AUTH_TOKENS");
  for (const name of Object.keys(Deno.env.toObject())) {
    if (/^npm_config_/i.test(name)) copy(name);
  }
  if (options.denoDir !== false) env.DENO_DIR = denoDir();
  if (!PROXY_VARS.some((name) => name in vars)) {
    for (const name of PROXY_VARS) copy(name);
    if (PROXY_VARS.some((name) => name in env && !/no_proxy/i.test(name))) {
      for (const name of ["NO_PROXY", "no_proxy"]) {
        const have = (env[name] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
        env[name] = [...have, ...LOOPBACK.filter((l) => !have.includes(l))].join(",");
      }
    }
  }
  return { ...env, ...vars };
}
