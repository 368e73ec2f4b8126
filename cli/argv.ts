/**
 * A strict argv parser with exactly the semantics of `node:util` `parseArgs({ strict: true,
 * allowPositionals: true })` (same tokens, same values, same error messages), written here
 * because importing `node:util` initialises Deno's Node compatibility layer: measured on
 * deno 2.9.6, a script importing only `node:util` starts in ~30 ms against ~19 ms for an empty
 * one (+6 MB RSS), which alone put `mcs --version` outside its 1.5× target. npm parsers that do
 * not touch `node:` (mri, minimist) differ in semantics (no strict unknown-option errors,
 * implicit number coercion, `--no-x` negation), so matching the contract would need a wrapper as
 * large as this module. `tests/cli/argv_test.ts` checks this parser against `node:util` on a
 * corpus of argument vectors, so the two cannot drift.
 *
 * Supported forms: `--name value`, `--name=value`, `-n value`, `-nvalue`, short groups
 * (`-wn 5`), `--` (everything after it is positional), a lone `-` (positional), repeated
 * options (last wins, or collected when `multiple`).
 *
 * @example
 * ```ts
 * import { parseArgv } from "./argv.ts";
 * const { values, positionals } = parseArgv(["search", "-n", "5", "--json", "is:unread"], {
 *   limit: { type: "string", short: "n" },
 *   json: { type: "boolean" },
 * });
 * // values = { limit: "5", json: true }, positionals = ["search", "is:unread"]
 * ```
 * @module
 */

/** One option's shape (the `node:util` parseArgs option config, without defaults). */
export interface ArgOption {
  type: "string" | "boolean";
  /** A single-character alias, e.g. `n` for `-n`. */
  short?: string;
  /** Collect every occurrence into an array. */
  multiple?: boolean;
}

/** Parsed values: `true` for booleans, the string(s) for string options. */
export type ArgValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The parse result (`values` has a null prototype, like `node:util`'s). */
export interface ParsedArgv {
  values: ArgValues;
  positionals: string[];
}

/**
 * A malformed command line. `kind` is `unknown` for an option that is not declared (then `flag`
 * is the option as written, e.g. `--nope` or `-x`) and `invalid` for a declared option used
 * wrongly (missing, superfluous or ambiguous value). The message is `node:util`'s.
 */
export class ArgvError extends Error {
  override name = "ArgvError";
  constructor(
    readonly kind: "unknown" | "invalid",
    message: string,
    readonly flag: string,
  ) {
    super(message);
  }
}

/** One option occurrence. */
interface Token {
  name: string;
  rawName: string;
  value: string | undefined;
  /** true: `--x=v` / `-xv`; false: value taken from the next argument; undefined: none. */
  inlineValue: boolean | undefined;
}

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function longFor(short: string, options: Record<string, ArgOption>): string {
  for (const [name, o] of Object.entries(options)) if (o.short === short) return name;
  return short;
}

function typeOf(name: string, options: Record<string, ArgOption>): string | undefined {
  return own(options, name) ? options[name].type : undefined;
}

function check(t: Token, options: Record<string, ArgOption>): void {
  if (!own(options, t.name)) {
    throw new ArgvError(
      "unknown",
      `Unknown option '${t.rawName}'. To specify a positional argument starting with a '-', ` +
        `place it at the end of the command after '--', as in '-- ${JSON.stringify(t.rawName)}`,
      t.rawName,
    );
  }
  const o = options[t.name];
  const shortAndLong = `${o.short ? `-${o.short}, ` : ""}--${t.name}`;
  if (o.type === "string" && typeof t.value !== "string") {
    throw new ArgvError("invalid", `Option '${shortAndLong} <value>' argument missing`, t.rawName);
  }
  if (o.type === "boolean" && t.value != null) {
    throw new ArgvError("invalid", `Option '${shortAndLong}' does not take an argument`, t.rawName);
  }
  if (!t.inlineValue && t.value !== undefined && t.value.length > 1 && t.value[0] === "-") {
    const example = t.rawName.startsWith("--")
      ? `'${t.rawName}=-XYZ'`
      : `'--${t.name}=-XYZ' or '${t.rawName}-XYZ'`;
    throw new ArgvError(
      "invalid",
      `Option '${t.rawName}' argument is ambiguous.\n` +
        `Did you forget to specify the option argument for '${t.rawName}'?\n` +
        `To specify an option argument starting with a dash use ${example}.`,
      t.rawName,
    );
  }
}

function store(t: Token, options: Record<string, ArgOption>, values: ArgValues): void {
  if (t.name === "__proto__") return;
  const v = t.value ?? true;
  if (options[t.name].multiple) {
    const prev = values[t.name];
    if (Array.isArray(prev)) prev.push(v);
    else values[t.name] = [v];
  } else values[t.name] = v;
}

/**
 * Parse `args` strictly against `options`; positionals are allowed. Throws {@link ArgvError}
 * on the first malformed option, in argument order.
 */
export function parseArgv(args: readonly string[], options: Record<string, ArgOption>): ParsedArgv {
  const values: ArgValues = Object.create(null);
  const positionals: string[] = [];
  const rest = [...args];
  const option = (t: Token) => {
    check(t, options);
    store(t, options, values);
  };
  while (rest.length > 0) {
    const arg = rest.shift()!;
    if (arg === "--") {
      positionals.push(...rest);
      break;
    }
    const shortForm = arg.length >= 2 && arg[0] === "-" && arg[1] !== "-";
    if (shortForm && arg.length === 2) {
      // -n [value]
      const name = longFor(arg[1], options);
      const takes = typeOf(name, options) === "string" && rest[0] !== undefined;
      const value = takes ? rest.shift() : undefined;
      option({ name, rawName: arg, value, inlineValue: takes ? false : undefined });
    } else if (shortForm) {
      const name = longFor(arg[1], options);
      if (typeOf(name, options) === "string") {
        // -nVALUE
        option({ name, rawName: `-${arg[1]}`, value: arg.slice(2), inlineValue: true });
        continue;
      }
      // -abc → -a -b -c; a string option inside the group takes the rest: -wn5 → -w -n5.
      const expanded: string[] = [];
      for (let i = 1; i < arg.length; i++) {
        const short = arg[i];
        if (typeOf(longFor(short, options), options) !== "string" || i === arg.length - 1) {
          expanded.push(`-${short}`);
        } else {
          expanded.push(`-${arg.slice(i)}`);
          break;
        }
      }
      rest.unshift(...expanded);
    } else if (arg.length > 2 && arg.startsWith("--")) {
      const eq = arg.indexOf("=", 3);
      if (eq === -1) {
        // --name [value]
        const name = arg.slice(2);
        const takes = typeOf(name, options) === "string" && rest[0] !== undefined;
        const value = takes ? rest.shift() : undefined;
        option({ name, rawName: arg, value, inlineValue: takes ? false : undefined });
      } else {
        // --name=value
        const name = arg.slice(2, eq);
        option({ name, rawName: `--${name}`, value: arg.slice(eq + 1), inlineValue: true });
      }
    } else {
      positionals.push(arg);
    }
  }
  return { values, positionals };
}
