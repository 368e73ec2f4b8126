/**
 * Tests that need a tool the machine may lack (Chromium, `script`, `unshare`, denort): no silent
 * skips. Without the tool a test is skipped with the reason in its name, so `deno test` prints
 * `<name> (skipped: <reason>) ... ignored` and `.ci/run` lists it; under CI (`CI=true`) it FAILS
 * instead, because `.ci/run` installs the tool — unless the requirement says why CI cannot
 * provide it (`ciCannotProvide`, e.g. denort has no package, a root user cannot be made
 * non-root), which keeps the skip.
 *
 * @example
 * ```ts
 * import { requires, testRequiring } from "./requires.ts";
 * const chromium = requires("chromium", await Deno.stat("/usr/bin/chromium").then(() => true, () => false));
 * testRequiring(chromium, { name: "sign in", async fn() {} });
 * // in a test body: await stepRequiring(t, chromium, { name: "step", fn: async () => {} });
 * ```
 * @module
 */

/** What a test needs. */
export interface Requirement {
  /** The tool or condition, for messages ("chromium", "script (util-linux)"). */
  tool: string;
  /** Whether it is there. */
  available: boolean;
  /** Why the tool is missing (default "`<tool>` is not installed"). */
  reason: string;
  /** Set when `.ci/run` cannot provide it: then CI skips too, with this explanation. */
  ciCannotProvide?: string;
}

/** True when running under CI (`CI=true` or `CI=1`, as CI systems and `.ci/run` set). */
export function underCi(): boolean {
  return /^(true|1)$/i.test(Deno.env.get("CI") ?? "");
}

/** A requirement on `tool` (`available` already probed). */
export function requires(
  tool: string,
  available: boolean,
  o: { reason?: string; ciCannotProvide?: string } = {},
): Requirement {
  return {
    tool,
    available,
    reason: o.reason ?? `${tool} is not installed`,
    ...(o.ciCannotProvide ? { ciCannotProvide: o.ciCannotProvide } : {}),
  };
}

/** How a requirement plays out here: run, skip (with the text for the name), or fail. */
export function verdict(
  req: Requirement,
): { run: true } | { run: false; skip: string } | { run: false; fail: string } {
  if (req.available) return { run: true };
  if (!underCi()) return { run: false, skip: req.reason };
  if (req.ciCannotProvide) return { run: false, skip: `${req.reason}; ${req.ciCannotProvide}` };
  return {
    run: false,
    fail: `${req.reason}, and CI=true: .ci/run installs ${req.tool}, so this test must run ` +
      `here instead of being skipped.`,
  };
}

type Def = Deno.TestDefinition;
type StepDef = Deno.TestStepDefinition;

function apply<D extends Def | StepDef>(reqs: Requirement[], def: D): D {
  for (const req of reqs) {
    const v = verdict(req);
    if ("skip" in v) return { ...def, name: `${def.name} (skipped: ${v.skip})`, ignore: true };
    if ("fail" in v) {
      return {
        ...def,
        ignore: false,
        fn: () => {
          throw new Error(v.fail);
        },
      };
    }
  }
  return def;
}

/** `Deno.test(def)` that needs `req` (one or several): skipped with a reason, or failed in CI. */
export function testRequiring(req: Requirement | Requirement[], def: Def): void {
  Deno.test(apply(Array.isArray(req) ? req : [req], def));
}

/** `t.step(def)` that needs `req`, with the same rules as {@link testRequiring}. */
export function stepRequiring(
  t: Deno.TestContext,
  req: Requirement | Requirement[],
  def: StepDef,
): Promise<boolean> {
  return t.step(apply(Array.isArray(req) ? req : [req], def));
}

/** Why CI keeps a mount-namespace skip: not a package `.ci/run` could install. */
const NAMESPACES =
  "user and mount namespaces are a kernel or container setting that .ci/run cannot change";

/** A private mount namespace (`unshare -rm` or `-m`), given the probe's flags. */
export function mountNamespace(flags: string[] | undefined): Requirement {
  return requires("a private mount namespace (unshare)", flags !== undefined, {
    reason: "unshare cannot make a private mount namespace here",
    ciCannotProvide: NAMESPACES,
  });
}
