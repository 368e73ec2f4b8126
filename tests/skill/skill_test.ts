/**
 * The Claude skill: SKILL.md is exactly what the catalogue generates (no drift), its frontmatter
 * follows the skill format, it documents the auth procedure and every tool, and the launcher
 * script runs the CLI.
 * @module
 */

import { TOOLS } from "../../lib/tools/catalog.ts";
import { renderSkillMd, SKILL_NAME } from "../../lib/tools/skill_md.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { doc, mcs, ROOT_PATH } from "../cli/_mcs.ts";

const SKILL_DIR = `${ROOT_PATH}/skills/${SKILL_NAME}`;

Deno.test("SKILL.md regenerates identically from the catalogue", async () => {
  assertEquals(await Deno.readTextFile(`${SKILL_DIR}/SKILL.md`), renderSkillMd());
  const check = await mcs(["skill", "build", "--check", "--json"]);
  assertEquals(check.code, 0, check.stdout + check.stderr);
  assertEquals(doc(check).result.up_to_date, true);
});

Deno.test("skill build --check fails on a stale file and build rewrites it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/SKILL.md`, "stale\n");
    const stale = await mcs(["skill", "build", "--check", "--out", dir]);
    assertEquals(stale.code, 1);
    assertEquals(await Deno.readTextFile(`${dir}/SKILL.md`), "stale\n", "--check writes nothing");
    assertEquals((await mcs(["skill", "build", "--out", dir])).code, 0);
    assertEquals(await Deno.readTextFile(`${dir}/SKILL.md`), renderSkillMd());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("frontmatter follows the skill format; body covers auth and every tool", () => {
  const text = renderSkillMd();
  const m = /^---\n([\s\S]*?)\n---\n/.exec(text);
  assert(m, "frontmatter");
  const fields = Object.fromEntries(
    m[1].split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
  );
  assertEquals(fields.name, SKILL_NAME);
  assert(/^[a-z0-9]+(-[a-z0-9]+)*$/.test(fields.name) && fields.name.length <= 64);
  const description = JSON.parse(fields.description);
  assert(description.length <= 1024, `description is ${description.length} chars`);
  assert(!/anthropic|claude/i.test(description));
  assert(JSON.parse(fields.compatibility).length <= 500);
  for (
    const s of [
      "auth_required",
      "url",
      "code",
      "Run the same command again",
      "gmail.googleapis.com",
      "MCS_CACHE_DIR",
    ]
  ) {
    assertStringIncludes(text, s);
  }
  for (const t of TOOLS) assertStringIncludes(text, `### ${t.name}\n`);
  assert(text.split("\n").length < 500, "SKILL.md stays under 500 lines");
});

Deno.test("the launcher runs the CLI from the source tree", async () => {
  const out = await new Deno.Command(`${SKILL_DIR}/scripts/mcs`, {
    args: ["tools", "--json"],
    env: { PATH: `${ROOT_PATH}/node_modules/.bin:${Deno.env.get("PATH") ?? ""}` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const d = JSON.parse(new TextDecoder().decode(out.stdout));
  assertEquals(d.result.tools.length, TOOLS.length);
});
