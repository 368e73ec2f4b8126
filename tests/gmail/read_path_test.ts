/**
 * What the Gmail client loads at run time: Google's API description is for types only.
 * @module
 */
import assert from "node:assert/strict";

interface InfoModule {
  specifier: string;
  dependencies?: { specifier: string; code?: { specifier: string } }[];
}

/** Modules reached from `entry` through runtime (`code`) imports only. */
async function runtimeGraph(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "deno info failed");
  const modules: InfoModule[] = JSON.parse(new TextDecoder().decode(out.stdout)).modules;
  const bySpec = new Map(modules.map((m) => [m.specifier, m]));
  const root = new URL(entry, `file://${Deno.cwd()}/`).href;
  const seen = new Set<string>([root]);
  const todo = [root];
  while (todo.length) {
    for (const dep of bySpec.get(todo.pop()!)?.dependencies ?? []) {
      const next = dep.code?.specifier;
      if (next && !seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

Deno.test("Google's API description is a type-only dependency: nothing of it loads at run time", async () => {
  // types.ts is itself imported for types only today; walk from it too, so a value import of
  // the package there is caught before anything starts importing types.ts at run time.
  const graph = new Set([
    ...await runtimeGraph("lib/gmail/mod.ts"),
    ...await runtimeGraph("lib/gmail/types.ts"),
  ]);
  assert.deepEqual([...graph].filter((s) => s.includes("googleapis")), []);
});
