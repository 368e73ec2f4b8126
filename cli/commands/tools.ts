/**
 * `mcs tools [--json]`: the agent tool catalogue. Loads only the catalogue (data), never auth or
 * Gmail code, and needs no configuration.
 *
 * @example
 * ```sh
 * mcs tools --json | jq '.result.tools[].name'
 * ```
 * @module
 */

import { toolList, TOOLS } from "../../lib/tools/catalog.ts";
import type { CommandOutput } from "../context.ts";

function human(): string {
  const lines: string[] = [];
  for (const t of TOOLS) {
    lines.push(`${t.name}${t.legacy ? " (original SDK)" : ""}`, `  ${t.description}`);
    for (const [p, s] of Object.entries(t.parameters.properties)) {
      const req = t.parameters.required.includes(p) ? "required" : "optional";
      const type = s.type === "array" ? "list" : s.type;
      lines.push(`    ${p} (${type}, ${req}): ${s.description ?? ""}`);
    }
    lines.push("");
  }
  lines.push("Run one: mcs exec <tool> '<json arguments>'");
  return lines.join("\n") + "\n";
}

/** Run the command. */
export function run(): Promise<CommandOutput> {
  return Promise.resolve({ result: { tools: toolList() }, human: human() });
}
