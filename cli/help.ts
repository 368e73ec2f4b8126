/**
 * Help text generated from the command table ({@link COMMANDS}) and the settings catalogue.
 *
 * @example
 * ```ts
 * import { mainHelp } from "./help.ts";
 * console.log(mainHelp());
 * ```
 * @module
 */

import { COMMANDS, type CommandSpec, GLOBAL_OPTIONS, type OptionSpec } from "./spec.ts";

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.arg ? ` ${o.arg}` : ""}`;
    return [flag, o.help] as const;
  });
  const w = Math.min(34, Math.max(...rows.map(([f]) => f.length)));
  return rows.map(([f, h]) => `  ${f.padEnd(w)}  ${h}`);
}

/** `mcs --help`. */
export function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.path.join(" ").length + (c.args?.length ?? 0) + 1));
  const cmds = COMMANDS.map((c) => {
    const name = `${c.path.join(" ")}${c.args ? ` ${c.args}` : ""}`;
    return `  ${name.padEnd(w)}  ${c.summary}`;
  });
  return [
    "mcs — Gmail for agents and scripts, through Auth0 Token Vault",
    "",
    "Usage: mcs <command> [options]",
    "",
    "Commands:",
    ...cmds,
    "",
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Exit codes: 0 ok, 1 failure, 2 invalid arguments, 3 configuration, 4 authorization needed.",
    "Run `mcs <command> --help` for a command's options. Start with `deno task demo`.",
    "",
  ].join("\n");
}

/** `mcs <command> --help`. */
export function commandHelp(c: CommandSpec): string {
  return [
    `Usage: mcs ${c.path.join(" ")}${c.args ? ` ${c.args}` : ""} [options]`,
    "",
    c.summary,
    ...(c.details ? ["", c.details] : []),
    ...(c.options ? ["", "Options:", ...optionLines(c.options)] : []),
    "",
    "Global options: see `mcs --help`.",
    "",
  ].join("\n");
}

/** Help for a group such as `mcs mail`. */
export function groupHelp(group: string[]): string {
  const subs = COMMANDS.filter((c) => group.every((g, i) => c.path[i] === g));
  const w = Math.max(...subs.map((c) => c.path.join(" ").length + (c.args?.length ?? 0) + 1));
  return [
    `Usage: mcs ${group.join(" ")} <command> [options]`,
    "",
    "Commands:",
    ...subs.map((c) =>
      `  ${`${c.path.join(" ")}${c.args ? ` ${c.args}` : ""}`.padEnd(w)}  ${c.summary}`
    ),
    "",
  ].join("\n");
}
