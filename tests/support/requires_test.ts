/** No silent skips: a missing tool skips with its reason, but fails under CI unless CI cannot provide it. */
import { assertEquals } from "./assert.ts";
import { requires, verdict } from "./requires.ts";

function withCi<T>(value: string | undefined, fn: () => T): T {
  const saved = Deno.env.get("CI");
  value === undefined ? Deno.env.delete("CI") : Deno.env.set("CI", value);
  try {
    return fn();
  } finally {
    saved === undefined ? Deno.env.delete("CI") : Deno.env.set("CI", saved);
  }
}

Deno.test("a missing tool: skipped with its reason locally, a failure under CI", () => {
  const tool = requires("chromium", false, { reason: "no Chromium at /x" });
  assertEquals(withCi(undefined, () => verdict(tool)), { run: false, skip: "no Chromium at /x" });
  for (const ci of ["true", "1"]) {
    const v = withCi(ci, () => verdict(tool)) as { fail?: string };
    assertEquals(typeof v.fail, "string", `CI=${ci} fails`);
    assertEquals(v.fail!.includes("no Chromium at /x"), true);
  }
  assertEquals(withCi("true", () => verdict(requires("chromium", true))), { run: true });
});

Deno.test("a tool CI cannot provide stays a skip under CI, with both reasons", () => {
  const denort = requires("denort", false, { reason: "no denort", ciCannotProvide: "no package" });
  assertEquals(withCi("true", () => verdict(denort)), {
    run: false,
    skip: "no denort; no package",
  });
});
