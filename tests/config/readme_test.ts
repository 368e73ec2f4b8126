/**
 * README.md documents what the code does: every setting (config key, env variable and alias),
 * every exit code and every agent tool appears there, and it starts with the two commands.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { allEnvNames, SETTINGS } from "../../lib/config/settings.ts";

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
    assert(readme.includes(plain) || /_PROXY$/i.test(name), `README mentions ${name}`);
  }
});
