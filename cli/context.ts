/**
 * What a command module receives and returns. Commands return a result object (the `result` of
 * the JSON contract) and, optionally, the human rendering of it; `cli/main.ts` decides which
 * form to print. Commands never write to stdout themselves (so `--json` output is always exactly
 * one JSON document); progress and hints go through `ctx.io.err`.
 *
 * @example
 * ```ts
 * import type { CommandModule } from "./context.ts";
 * export const mod: CommandModule = {
 *   run: async (ctx) => ({ result: { hello: ctx.positionals[0] }, human: "hi" }),
 * };
 * ```
 * @module
 */

import type { EnvSource } from "../lib/config/env.ts";
import type { Config } from "../lib/config/resolve.ts";
import type { CommandSpec } from "./spec.ts";

/** The process's standard streams and environment, injectable for tests. */
export interface Io {
  /** Write to stdout (the command's output only). */
  out(text: string): void;
  /** Write to stderr (hints, progress, human errors). */
  err(text: string): void;
  /** Read all of stdin as text. */
  readStdin(): Promise<string>;
  /** Whether stdin is a terminal (then it is never read implicitly). */
  stdinIsTerminal: boolean;
  /** Whether stderr is a terminal (spinner, QR code, colours). */
  stderrIsTerminal: boolean;
  /** The environment. */
  env: EnvSource;
}

/** Parsed option values. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** A command's output. */
export interface CommandOutput {
  /** The machine form (`result` in `{"ok": true, "result": ...}`). */
  result: unknown;
  /** The human form (printed on stdout without --json); default: indented JSON of `result`. */
  human?: string;
  /** Exit code on success (default 0); `skill build --check` uses 1 for "would change". */
  exitCode?: number;
  /** The command already printed its output (long-running `mcs dev`). */
  printed?: boolean;
}

/** Everything a command gets. */
export interface Context {
  command: CommandSpec;
  /** Positionals after the command path. */
  positionals: string[];
  /** Option values (global and command-specific). */
  options: OptionValues;
  /** True when the JSON contract is in force (`--json` or an always-JSON command). */
  json: boolean;
  io: Io;
  /** Resolve the configuration (flags, stdin secrets, env, file); memoised. */
  config(): Promise<Config>;
  /** Read stdin once (shared between --secrets-stdin and body/JSON input). */
  stdin(): Promise<string>;
}

/** A command module: loaded lazily by `cli/main.ts`. */
export interface CommandModule {
  run(ctx: Context): Promise<CommandOutput>;
}
