/**
 * The dispatcher: parse argv strictly with {@link parseArgv} (`node:util` parseArgs semantics
 * without loading Node compat; unknown flags and commands are usage errors with a suggestion,
 * exit 2), load the command module lazily, and print exactly one
 * JSON document (`--json`, `exec`) or the human form. Returns the exit code.
 *
 * Help is a result like any other: with `--json` (and always for `exec`) it is printed as
 * `{"ok":true,"result":{"help":"<text>"}}`, so stdout is one JSON document whatever was asked.
 * Secret settings given as flags (`--auth0-client-secret=...`) are refused with
 * `secret_in_argv` (exit 3) before anything else, without echoing the value.
 *
 * @example
 * ```ts
 * import { runCli, denoIo } from "./run.ts";
 * const code = await runCli(["tools", "--json"], denoIo());
 * ```
 * @module
 */

import { denoEnv } from "../lib/config/env.ts";
import { SETTINGS } from "../lib/config/settings.ts";
import { ConfigError, UsageError } from "../lib/errors.ts";
import { didYouMean } from "../lib/tools/suggest.ts";
import { type ArgOption, ArgvError, parseArgv } from "./argv.ts";
import type { Context, Io, OptionValues } from "./context.ts";
import { commandHelp, groupHelp, mainHelp } from "./help.ts";
import { EXIT, failure, jsonLine, success } from "./output.ts";
import {
  COMMANDS,
  findCommand,
  GLOBAL_OPTIONS,
  groupOf,
  MODE_FLAGS,
  type OptionSpec,
} from "./spec.ts";
import denoJson from "../deno.json" with { type: "json" };

/** The program version (from deno.json). */
export const VERSION: string = denoJson.version;

function writeAll(f: { writeSync(p: Uint8Array): number }, text: string): void {
  let buf = new TextEncoder().encode(text);
  while (buf.length > 0) buf = buf.subarray(f.writeSync(buf));
}

function isTerminal(f: { isTerminal(): boolean }): boolean {
  try {
    return f.isTerminal();
  } catch {
    return false;
  }
}

/** The real process streams. */
export function denoIo(): Io {
  return {
    out: (t) => writeAll(Deno.stdout, t),
    err: (t) => writeAll(Deno.stderr, t),
    readStdin: async () => await new Response(Deno.stdin.readable).text(),
    stdinIsTerminal: isTerminal(Deno.stdin),
    stderrIsTerminal: isTerminal(Deno.stderr),
    env: denoEnv,
  };
}

/** Words that are not option values: a first pass to find the command path. */
function scanWords(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("-") && a !== "-") {
      const name = a.replace(/^--?/, "").split("=")[0];
      const opt = GLOBAL_OPTIONS[name] ??
        Object.values(GLOBAL_OPTIONS).find((o) => o.short === name);
      if (opt?.type === "string" && !a.includes("=")) i++;
      continue;
    }
    words.push(a);
  }
  return words;
}

function toParseOptions(specs: Record<string, OptionSpec>): Record<string, ArgOption> {
  return Object.fromEntries(
    Object.entries(specs).map(([k, o]) => [k, {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    }]),
  );
}

/**
 * The flag a secret setting would have if it had one (`auth0_client_secret` →
 * `auth0-client-secret`). Secrets have no flag on purpose (argv is visible in the process list),
 * so these names are recognised only to refuse them with a message that says where the value
 * belongs instead of "unknown option".
 */
const SECRET_FLAGS = new Map(
  SETTINGS.filter((s) => s.secret).map((s) => [s.name.replaceAll("_", "-"), s]),
);

/**
 * Refuse a secret given as a flag (`--auth0-client-secret=...` or `--auth0-client-secret ...`)
 * anywhere before `--`, whatever the command: exit 3 like the resolver's `secret_in_argv`. The
 * value is never echoed.
 */
function refuseSecretFlags(argv: string[]): void {
  for (const a of argv) {
    if (a === "--") return;
    if (!a.startsWith("--")) continue;
    const name = a.slice(2).split("=")[0];
    const s = SECRET_FLAGS.get(name);
    if (!s) continue;
    throw new ConfigError(
      "secret_in_argv",
      `--${name} is not accepted: ${s.name} is a secret and is never taken from the command line ` +
        `(it would be visible in the process list). Set ${s.env}, put ${s.name} in the config ` +
        `file, or pipe "${s.env}=..." on stdin with --secrets-stdin.`,
      { details: { setting: s.name, env: s.env, key: s.name, flag: `--${name}` } },
    );
  }
}

function parseError(e: unknown, known: string[]): unknown {
  if (!(e instanceof ArgvError)) return e;
  if (e.kind === "unknown") {
    const name = e.flag.replace(/^--?/, "").split("=")[0];
    return new UsageError(
      "unknown_option",
      `Unknown option ${e.flag}.${didYouMean(name, known, "--")} See --help.`,
    );
  }
  return new UsageError("invalid_option", `${e.message.split(".")[0]}. See --help.`);
}

/**
 * Run the CLI. Never throws; returns the exit code.
 * @param argv arguments after the program name.
 */
export async function runCli(args: string[], io: Io): Promise<number> {
  // `deno task mcs -- <command>` passes the `--` through: a leading one separates nothing.
  const argv = args[0] === "--" ? args.slice(1) : args;
  const debug = io.env.get("MCS_DEBUG") === "1";
  // Decided before parsing (so parse errors honour --json), refined once the command is known.
  let wantsJson = argv.includes("--json") || argv[0] === "exec";
  const fail = (e: unknown): number => {
    const f = failure(e, debug);
    if (wantsJson) io.out(jsonLine(f.doc));
    io.err(f.hint + "\n");
    if (!wantsJson && "auth_required" in f.doc && f.doc.url) {
      io.err(`  URL:  ${f.doc.url}\n${f.doc.code ? `  Code: ${f.doc.code}\n` : ""}`);
    }
    return f.exitCode;
  };
  /** Help text: the human form, or `{ok:true,result:{help}}` when one JSON document is due. */
  const help = (text: string): number => {
    io.out(wantsJson ? jsonLine(success({ help: text })) : text);
    return EXIT.ok;
  };
  try {
    refuseSecretFlags(argv);
    const words = scanWords(argv);
    const found = findCommand(words);
    if (!found) {
      if (argv.includes("--version") || argv.includes("-V")) {
        if (wantsJson) io.out(jsonLine(success({ version: VERSION })));
        else io.out(`mcs ${VERSION}\n`);
        return EXIT.ok;
      }
      if (words.length === 0) return help(mainHelp());
      if (words[0] === "help") {
        const c = findCommand(words.slice(1));
        const g = groupOf(words.slice(1));
        return help(c ? commandHelp(c.command) : g ? groupHelp(g) : mainHelp());
      }
      const group = groupOf(words);
      if (group && words.length === group.length) return help(groupHelp(group));
      if (group) {
        const sub = words[group.length];
        const subs = COMMANDS.filter((c) => group.every((g, i) => c.path[i] === g))
          .map((c) => c.path[group.length]);
        throw new UsageError(
          "unknown_command",
          `Unknown command "mcs ${group.join(" ")} ${sub}".${
            didYouMean(sub, subs, `mcs ${group.join(" ")} `)
          } See mcs ${group.join(" ")} --help.`,
        );
      }
      const tops = [...new Set(COMMANDS.map((c) => c.path[0]))];
      throw new UsageError(
        "unknown_command",
        `Unknown command "${words[0]}".${didYouMean(words[0], tops, "mcs ")} See mcs --help.`,
      );
    }
    const { command } = found;
    if (command.alwaysJson) wantsJson = true;
    const specs = { ...GLOBAL_OPTIONS, ...(command.options ?? {}) };
    let parsed: { values: OptionValues; positionals: string[] };
    try {
      parsed = parseArgv(argv, toParseOptions(specs)) as {
        values: OptionValues;
        positionals: string[];
      };
    } catch (e) {
      throw parseError(e, Object.keys(specs));
    }
    const { values } = parsed;
    if (values.help) return help(commandHelp(command));
    const positionals = parsed.positionals.slice(command.path.length);
    const { min, max } = command.positionals;
    if (positionals.length < min || (max !== undefined && positionals.length > max)) {
      throw new UsageError(
        "invalid_arguments",
        `${positionals.length < min ? "Missing" : "Too many"} arguments. Usage: mcs ${
          command.path.join(" ")
        }${command.args ? ` ${command.args}` : ""}`,
      );
    }
    const json = command.alwaysJson === true || values.json === true;
    const ctx = makeContext(command, positionals, values, json, io);
    const mod = await command.load();
    const out = await mod.run(ctx);
    if (out.printed) return out.exitCode ?? EXIT.ok;
    if (json) io.out(jsonLine(success(out.result)));
    else io.out(out.human ?? JSON.stringify(out.result, null, 2) + "\n");
    return out.exitCode ?? EXIT.ok;
  } catch (e) {
    return fail(e);
  }
}

function makeContext(
  command: Context["command"],
  positionals: string[],
  options: OptionValues,
  json: boolean,
  io: Io,
): Context {
  let stdinText: Promise<string> | undefined;
  const stdin = () => stdinText ??= io.readStdin();
  let config: Promise<import("../lib/config/resolve.ts").Config> | undefined;
  return {
    command,
    positionals,
    options,
    json,
    io,
    stdin,
    config: () =>
      config ??= (async () => {
        const { resolveConfig, parseSecretsInput } = await import("../lib/config/resolve.ts");
        const { SETTINGS } = await import("../lib/config/settings.ts");
        const flags: Record<string, string> = {};
        for (const s of SETTINGS) {
          const v = s.flag ? options[s.flag] : undefined;
          if (typeof v === "string") flags[s.name] = v;
          else if (v === true) flags[s.name] = "true";
        }
        const modes = MODE_FLAGS.filter((m) => options[m] === true);
        if (modes.length > 1 || (modes.length === 1 && flags.auth && flags.auth !== modes[0])) {
          throw new UsageError(
            "conflicting_options",
            `Choose one auth path; got ${
              [...modes.map((m) => `--${m}`), ...(flags.auth ? [`--auth ${flags.auth}`] : [])].join(
                " and ",
              )
            }.`,
          );
        }
        if (modes.length === 1) flags.auth = modes[0];
        const secrets = options["secrets-stdin"] === true
          ? parseSecretsInput(await stdin())
          : undefined;
        return await resolveConfig({
          flags,
          stdin: secrets,
          env: io.env,
          profile: typeof options.profile === "string" ? options.profile : undefined,
          configPath: typeof options.config === "string" ? options.config : undefined,
        });
      })(),
  };
}
