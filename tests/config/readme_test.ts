/**
 * README.md documents what the code does: every setting (config key, env variable and alias),
 * every exit code, every CLI command and every agent tool appears there, and it starts with the
 * two commands.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { allEnvNames, SETTINGS } from "../../lib/config/settings.ts";
import { TOOLS } from "../../lib/tools/catalog.ts";
import { COMMANDS } from "../../cli/spec.ts";
import { EXIT } from "../../cli/output.ts";

const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

Deno.test("README starts with the demo and the test command, and CI runs that test command", async () => {
  const block = readme.match(/```sh\n([\s\S]*?)```/)?.[1] ?? "";
  const commands = block.split("\n").map((l) => l.replace(/#.*$/, "").trim()).filter(Boolean);
  assertEquals(commands, ["npx -y deno@2.9.6 task demo", "npx -y deno@2.9.6 task test"]);
  assert(readme.indexOf("```sh") < readme.indexOf("## "), "the commands come before any section");
  const ci = await Deno.readTextFile(new URL("../../.ci/run", import.meta.url));
  assert(ci.includes(`\n${commands[1]} 2>&1`), ".ci/run runs the README's test command");
});

Deno.test("README's configuration table lists every setting with its env names", () => {
  for (const s of SETTINGS) {
    // deno fmt pads table cells, so match the first cell loosely.
    const row = readme.split("\n").find((l) => new RegExp(`^\\|\\s*\`${s.name}\`\\s*\\|`).test(l));
    assert(row, `README row for ${s.name}`);
    for (const env of [s.env, ...(s.aliases ?? [])]) {
      assert(row.includes(`\`${env}\``), `${env} in row ${s.name}`);
    }
    if (s.default) assert(row.includes(`\`${s.default}\``), `default of ${s.name}`);
  }
  for (const name of allEnvNames()) {
    const plain = name.replace("_*", "_<SCOPE>");
    const named = name.replace("_*", "_<NAME>_"); // OAUTH_<NAME>_CLIENT_ID, ...
    assert(
      readme.includes(plain) || readme.includes(named) || /_PROXY$/i.test(name),
      `README mentions ${name}`,
    );
  }
});

/** The text of the README section that starts with heading `title`, up to the next `## `. */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  assert(start >= 0, `README has a section "${title}"`);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

Deno.test("README's agent contract names every tool of the catalogue", () => {
  const contract = section("The agent contract");
  const missing = TOOLS.map((t) => t.name).filter((n) => !contract.includes(`\`${n}\``));
  assertEquals(missing, [], "tools missing from README's agent contract");
});

Deno.test("README's exit code table has a row for every exit code the CLI uses", () => {
  const rows = section("The agent contract").split("\n")
    .map((l) => /^\|\s*(\d+)\s*\|/.exec(l)?.[1]).filter((x) => x !== undefined).map(Number);
  assertEquals(rows.sort(), Object.values(EXIT).sort(), "README exit rows vs cli/output.ts EXIT");
});

Deno.test("README's command list shows every CLI command with its full path", () => {
  const commands = section("Commands");
  const missing = COMMANDS.map((c) => `mcs ${c.path.join(" ")}`).filter((cmd) =>
    !new RegExp("`" + cmd.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "[ `]").test(commands)
  );
  assertEquals(missing, [], "commands missing from README's Commands section");
});
