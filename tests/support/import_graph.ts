/**
 * The module graph of a source file as far as relative imports reach: what an independence test
 * walks to prove an emulator or the broker loads no client code. Static imports and re-exports
 * count, and `import("…")` calls; type-only imports too unless `types: false` (they load
 * nothing at run time, but they tie the code to the other side's types).
 *
 * @example
 * ```ts
 * import { importGraph } from "./import_graph.ts";
 * const graph = await importGraph("lib/emulators/gmail/mod.ts"); // path → its specifiers
 * ```
 * @module
 */

const ROOT = new URL("../../", import.meta.url);

/** Every module reachable from `entry` through relative imports (paths relative to the repo). */
export async function importGraph(
  entry: string,
  o: { types?: boolean } = {},
): Promise<Map<string, string[]>> {
  const types = o.types ?? true;
  const graph = new Map<string, string[]>();
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop()!;
    if (graph.has(file)) continue;
    const text = await Deno.readTextFile(new URL(file, ROOT));
    const specs = [
      ...text.matchAll(/^\s*(?:import|export)\b(\s+type\b)?[^'"]*?from\s+["']([^"']+)["']/gm),
      ...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g),
    ].filter((m) => types || m.length < 3 || !m[1]).map((m) => m[m.length - 1]);
    const local = specs.filter((s) => s.startsWith("."))
      .map((s) => new URL(s, new URL(file, ROOT)).pathname.slice(ROOT.pathname.length));
    graph.set(file, specs);
    todo.push(...local);
  }
  return graph;
}
