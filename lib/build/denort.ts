/**
 * Finding the `denort` base binary `deno compile` needs, and turning its absence or a failed
 * compile into one actionable {@link McsError} instead of a raw download error.
 *
 * Deno (2.9.6) looks for the base binary in this order: `DENORT_BIN` (a raw denort executable),
 * then `$DENO_DIR/dl/release/v<version>/denort-<target>.zip`, then it downloads that zip from
 * `https://dl.deno.land/release/v<version>/denort-<target>.zip`. `--cached-only` does *not*
 * stop that download (verified), so the check is ours: {@link locateDenort} up front and
 * {@link explainCompileFailure} when the compile fails anyway.
 *
 * @example
 * ```ts
 * import { denortZipPath, locateDenort } from "./denort.ts";
 * const found = await locateDenort({
 *   env: { DENORT_BIN: undefined },
 *   denoDir: "/root/.cache/deno",
 *   version: "2.9.6",
 *   target: "x86_64-unknown-linux-gnu",
 * });
 * if (!found) console.log(`put the zip at ${denortZipPath("/root/.cache/deno", "2.9.6", "x86_64-unknown-linux-gnu")}`);
 * ```
 * @module
 */

import { join } from "node:path";
import { McsError, redact } from "../errors.ts";

/** Where a usable base binary was found. */
export type DenortSource =
  | { kind: "env"; path: string }
  | { kind: "cached-zip"; path: string };

/** Inputs of {@link locateDenort}. */
export interface LocateOptions {
  /** `DENORT_BIN` from the environment. */
  env: { DENORT_BIN?: string };
  /** Deno's cache directory (`deno info --json` → `denoDir`). */
  denoDir: string;
  /** Exact Deno version, e.g. `2.9.6` (`Deno.version.deno`). */
  version: string;
  /** Target triple, e.g. `x86_64-unknown-linux-gnu` (`Deno.build.target`). */
  target: string;
}

/** `$DENO_DIR/dl/release/v<version>/denort-<target>.zip`. */
export function denortZipPath(denoDir: string, version: string, target: string): string {
  return join(denoDir, "dl", "release", `v${version}`, `denort-${target}.zip`);
}

/** The URL Deno would download the zip from (for the message; we never fetch it). */
export function denortUrl(version: string, target: string): string {
  return `https://dl.deno.land/release/v${version}/denort-${target}.zip`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * The base binary `deno compile` will use without touching the network, or `undefined`.
 * @throws {McsError} `denort_bin_invalid` when `DENORT_BIN` is set but is not a file.
 */
export async function locateDenort(options: LocateOptions): Promise<DenortSource | undefined> {
  const bin = options.env.DENORT_BIN;
  if (bin) {
    if (await isFile(bin)) return { kind: "env", path: bin };
    throw new McsError(
      "denort_bin_invalid",
      `DENORT_BIN is set to "${bin}", which is not a file. Point it at the denort executable of Deno ${options.version} for ${options.target} (unzipped from ${
        denortUrl(options.version, options.target)
      }), or unset it.`,
      "config",
    );
  }
  const zip = denortZipPath(options.denoDir, options.version, options.target);
  if (await isFile(zip)) return { kind: "cached-zip", path: zip };
  return undefined;
}

/** The message for "no base binary and we will not download one". */
export function denortMissingError(options: LocateOptions): McsError {
  const zip = denortZipPath(options.denoDir, options.version, options.target);
  const url = denortUrl(options.version, options.target);
  return new McsError(
    "denort_missing",
    [
      `deno compile needs the denort base binary of Deno ${options.version} for ${options.target}, and it is not available offline.`,
      `Provide it in one of two ways (the version must match exactly):`,
      `  1. DENORT_BIN=/path/to/denort deno task compile   (the executable unzipped from ${url})`,
      `  2. copy denort-${options.target}.zip to ${zip}`,
      `On a machine with internet access, deno compile downloads it by itself (the release workflow does).`,
      `Without it, use the bundle: deno task bundle (dist/mcs.js + dist/mcs.sh).`,
    ].join("\n"),
    "config",
    { details: { zip, url, version: options.version, target: options.target } },
  );
}

/**
 * Translate a failed `deno compile` (its stderr) into an actionable error: a failed denort
 * download, a `DENORT_BIN` that is not a denort executable, or otherwise the last lines of
 * Deno's own message (redacted).
 */
export function explainCompileFailure(stderr: string, options: LocateOptions): McsError {
  // deno colours its output; strip ANSI codes before matching.
  // deno-lint-ignore no-control-regex
  const text = stderr.replace(/\x1b\[[0-9;]*m/g, "");
  if (/dl\.deno\.land|Setting up base binary|error sending request/i.test(text)) {
    return denortMissingError(options);
  }
  if (/Could not find denort/i.test(text)) {
    return new McsError(
      "denort_bin_invalid",
      `deno compile could not find denort at DENORT_BIN="${
        options.env.DENORT_BIN ?? ""
      }". Point DENORT_BIN at the denort executable of Deno ${options.version} for ${options.target}.`,
      "config",
    );
  }
  if (/Not an? (ELF|Mach-O|PE)|Invalid object|Writing binary bytes/i.test(text)) {
    return new McsError(
      "denort_bin_invalid",
      `The base binary (${
        options.env.DENORT_BIN ? `DENORT_BIN="${options.env.DENORT_BIN}"` : "the cached denort zip"
      }) is not a denort executable for ${options.target}: use the denort of Deno ${options.version} from ${
        denortUrl(options.version, options.target)
      } (not the full deno binary).`,
      "config",
    );
  }
  const tail = text.trim().split("\n").filter((l) => !/^\s*\d+: <unknown>|Stack backtrace/.test(l))
    .slice(-6).join("\n");
  return new McsError("compile_failed", `deno compile failed:\n${redact(tail)}`);
}
