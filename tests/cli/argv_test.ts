/**
 * `cli/argv.ts` must behave exactly like `node:util` parseArgs (strict, positionals allowed):
 * same values, same positionals, same error kind and message, on hand-picked edge cases and on
 * a deterministic pseudo-random corpus built from option-like and plain words.
 */

import { parseArgs } from "node:util";
import { type ArgOption, ArgvError, parseArgv } from "../../cli/argv.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import { COMMANDS, GLOBAL_OPTIONS } from "../../cli/spec.ts";

const OPTIONS: Record<string, ArgOption> = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  wait: { type: "boolean", short: "w" },
  limit: { type: "string", short: "n" },
  to: { type: "string", multiple: true },
  attach: { type: "string", multiple: true, short: "a" },
  subject: { type: "string", short: "s" },
  "page-token": { type: "string" },
};

type Outcome =
  | { ok: true; values: Record<string, unknown>; positionals: string[] }
  | { ok: false; kind: "unknown" | "invalid"; message: string };

function viaNode(args: string[], options: Record<string, ArgOption>): Outcome {
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { ok: true, values: { ...r.values }, positionals: r.positionals };
  } catch (e) {
    const code = (e as { code?: string }).code;
    assert(code?.startsWith("ERR_PARSE_ARGS_"), String(e));
    return {
      ok: false,
      kind: code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? "unknown" : "invalid",
      message: (e as Error).message,
    };
  }
}

function viaOurs(args: string[], options: Record<string, ArgOption>): Outcome {
  try {
    const r = parseArgv(args, options);
    return { ok: true, values: { ...r.values }, positionals: r.positionals };
  } catch (e) {
    if (!(e instanceof ArgvError)) throw e;
    return { ok: false, kind: e.kind, message: e.message };
  }
}

const EDGE_CASES: string[][] = [
  [],
  ["mail", "search", "is:unread", "--json"],
  ["--json=1"],
  ["--limit"],
  ["--limit", "5"],
  ["--limit=5"],
  ["--limit="],
  ["--limit", "-5"],
  ["--limit", "--json"],
  ["--limit", "-"],
  ["-n", "-5"],
  ["-n", "--"],
  ["-n"],
  ["-n5"],
  ["-n="],
  ["-wn", "5"],
  ["-wn5"],
  ["-nw"],
  ["-hw"],
  ["-w=1"],
  ["-x"],
  ["-wx"],
  ["--nope"],
  ["--nope=3"],
  ["--no-json"],
  ["--=x"],
  ["---x"],
  ["-"],
  ["--"],
  ["a", "--", "--json", "-n"],
  ["--to", "a", "--to=b", "--to", "c,d"],
  ["--to"],
  ["-a", "x", "-ay", "--attach=z"],
  ["--limit", "1", "--limit", "2"],
  ["--json", "--json"],
  ["-s", "hello world", "--subject=x=y"],
  ["--page-token", "abc", "tail"],
  ["--__proto__"],
  ["--constructor"],
];

Deno.test("argv: edge cases match node:util parseArgs", () => {
  for (const args of EDGE_CASES) {
    assertEquals(viaOurs(args, OPTIONS), viaNode(args, OPTIONS), JSON.stringify(args));
  }
});

Deno.test("argv: a pseudo-random corpus matches node:util parseArgs", () => {
  const words = [
    "--json",
    "--json=",
    "--help",
    "-h",
    "-w",
    "-hw",
    "-wh",
    "--limit",
    "--limit=3",
    "-n",
    "-n7",
    "-wn",
    "-nw",
    "--to",
    "--to=a@b",
    "-a",
    "-afile",
    "-s",
    "--subject",
    "--page-token",
    "--",
    "-",
    "-x",
    "--unknown",
    "word",
    "is:unread",
    "-5",
    "a=b",
    "",
  ];
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  let errors = 0;
  for (let i = 0; i < 3000; i++) {
    const args = Array.from({ length: rand(6) }, () => words[rand(words.length)]);
    const node = viaNode(args, OPTIONS);
    if (!node.ok) errors++;
    assertEquals(viaOurs(args, OPTIONS), node, JSON.stringify(args));
  }
  // The corpus exercises both outcomes.
  assert(errors > 300 && errors < 2700, `errors: ${errors}`);
});

Deno.test("argv: every command's real option table parses like node:util", () => {
  for (const c of COMMANDS) {
    const specs = { ...GLOBAL_OPTIONS, ...(c.options ?? {}) };
    const options = Object.fromEntries(
      Object.entries(specs).map(([k, o]) => [k, {
        type: o.type,
        ...(o.short ? { short: o.short } : {}),
        ...(o.multiple ? { multiple: true } : {}),
      }]),
    );
    const flags = Object.entries(options).flatMap(([k, o]) =>
      o.type === "string" ? [`--${k}`, "v", `--${k}=w`] : [`--${k}`]
    );
    for (const args of [[...c.path, ...flags], [...c.path, "-hV"], [...c.path, "--bogus"]]) {
      assertEquals(viaOurs(args, options), viaNode(args, options), JSON.stringify(args));
    }
  }
});

Deno.test("argv: errors carry the option as written", () => {
  const e = assertThrows(() => parseArgv(["-wx"], OPTIONS), ArgvError);
  assertEquals([e.kind, e.flag], ["unknown", "-x"]);
  const m = assertThrows(() => parseArgv(["--limit"], OPTIONS), ArgvError);
  assertEquals([m.kind, m.flag], ["invalid", "--limit"]);
});

Deno.test("argv: values has no prototype (a `--constructor` flag cannot collide)", () => {
  const { values } = parseArgv(["--json"], OPTIONS);
  assertEquals(Object.getPrototypeOf(values), null);
  assertEquals(values.constructor, undefined);
});
