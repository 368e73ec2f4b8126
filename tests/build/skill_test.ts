/**
 * The skill package's folder handling (lib/build/skill.ts): which targets may be replaced, the
 * files written next to the bundle, and the move into place; the upload zip
 * (lib/build/skill_zip.ts) read back with the system's zipinfo. The full build and the container
 * run are in tests/skill/package_test.ts.
 * @module
 */

import { join } from "node:path";
import { assertEquals, assertRejects, assertStringIncludes } from "../support/assert.ts";
import { writeSkillZip } from "../../lib/build/skill_zip.ts";
import { runBuild } from "./_build.ts";
import { extractZip, zipEntries } from "./_zip.ts";
import {
  checkSkillTarget,
  defaultSkillDir,
  replaceWithStage,
  writeSkillFiles,
} from "../../lib/build/skill.ts";
import { UsageError } from "../../lib/errors.ts";

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "mcs-skill-dir-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("defaultSkillDir is dist/skill/<name>", () => {
  assertEquals(defaultSkillDir("gmail"), join("dist", "skill", "gmail"));
});

Deno.test("checkSkillTarget: absent, empty or a previous package is fine; anything else is not", async () => {
  await using tmp = await tempDir();
  await checkSkillTarget(join(tmp.path, "absent"));
  await checkSkillTarget(tmp.path);
  await Deno.writeTextFile(join(tmp.path, "SKILL.md"), "old");
  await Deno.writeTextFile(join(tmp.path, "other"), "x");
  await checkSkillTarget(tmp.path);
  await Deno.remove(join(tmp.path, "SKILL.md"));
  const e = await assertRejects(() => checkSkillTarget(tmp.path), UsageError);
  assertEquals(e.code, "skill_dir_not_package");
  const e2 = await assertRejects(() => checkSkillTarget(join(tmp.path, "other")), UsageError);
  assertEquals(e2.code, "skill_dir_not_package");
});

Deno.test("writeSkillFiles + replaceWithStage: the new package replaces the old one whole", async () => {
  await using tmp = await tempDir();
  const target = join(tmp.path, "gmail");
  await Deno.mkdir(join(target, "scripts"), { recursive: true });
  await Deno.writeTextFile(join(target, "SKILL.md"), "old");
  await Deno.writeTextFile(join(target, "scripts", "mcs-bin"), "stale binary");
  const launcher = join(tmp.path, "launcher");
  await Deno.writeTextFile(launcher, "#!/bin/sh\necho hi\n");
  const stage = await Deno.makeTempDir({ dir: tmp.path, prefix: ".stage-" });
  await writeSkillFiles(stage, { skillMd: "new", launcher });
  await replaceWithStage(stage, target);
  assertEquals(await Deno.readTextFile(join(target, "SKILL.md")), "new");
  assertEquals(await Deno.readTextFile(join(target, "scripts", "mcs")), "#!/bin/sh\necho hi\n");
  assertEquals([...Deno.readDirSync(join(target, "scripts"))].map((e) => e.name), ["mcs"]);
  if (Deno.build.os !== "windows") {
    assertEquals(Deno.statSync(join(target, "scripts", "mcs")).mode! & 0o777, 0o755);
    assertEquals(Deno.statSync(target).mode! & 0o777, 0o755);
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["gmail", "launcher"]);
});

Deno.test({
  name:
    "writeSkillZip: one top-level folder named as the skill, executables 0755, same bytes every build",
  async fn() {
    await using tmp = await tempDir();
    const skill = join(tmp.path, "folder-with-another-name");
    await Deno.mkdir(join(skill, "scripts", "mcs-chunks"), { recursive: true });
    await Deno.writeTextFile(join(skill, "SKILL.md"), "---\nname: gmail\n---\n");
    for (const f of ["mcs", "mcs.sh", "mcs-bin", "mcs.js", "mcs.permissions.json"]) {
      await Deno.writeTextFile(join(skill, "scripts", f), `${f}\n`);
    }
    await Deno.writeTextFile(
      join(skill, "scripts", "mcs-chunks", "mcs"),
      "a chunk, not the launcher\n",
    );
    const zip = join(tmp.path, "out", "gmail.zip");
    const r = await writeSkillZip(skill, zip, "gmail");
    const rows = new Map(
      zipEntries(await Deno.readFile(zip)).map((e) => [e.name, e.mode.toString(8)]),
    );
    assertEquals([...rows.keys()], r.entries);
    assertEquals(r.entries, [
      "gmail/",
      "gmail/SKILL.md",
      "gmail/scripts/",
      "gmail/scripts/mcs",
      "gmail/scripts/mcs-bin",
      "gmail/scripts/mcs-chunks/",
      "gmail/scripts/mcs-chunks/mcs",
      "gmail/scripts/mcs.js",
      "gmail/scripts/mcs.permissions.json",
      "gmail/scripts/mcs.sh",
    ]);
    for (const [name, mode] of rows) {
      const exec = /^gmail\/scripts\/(mcs|mcs\.sh|mcs-bin)$/.test(name);
      assertEquals(
        mode,
        name.endsWith("/") ? "40755" : exec ? "100755" : "100644",
        name,
      );
    }
    const first = await Deno.readFile(zip);
    await writeSkillZip(skill, zip, "gmail");
    assertEquals(await Deno.readFile(zip), first, "reproducible");
    const out = join(tmp.path, "unzipped");
    await extractZip(first, out);
    for (const f of ["mcs", "mcs.sh", "mcs-bin", "mcs.js", "mcs.permissions.json"]) {
      assertEquals(await Deno.readTextFile(join(out, "gmail", "scripts", f)), `${f}\n`);
    }
    assertEquals([...Deno.readDirSync(join(tmp.path, "out"))].map((e) => e.name), ["gmail.zip"]);
  },
});

Deno.test("bundle --skill options: --zip/--bin need --skill; a missing --bin is refused before building", async () => {
  await using tmp = await tempDir();
  const noSkill = await runBuild(["bundle", "--zip", join(tmp.path, "x.zip")], {});
  assertEquals(noSkill.code, 2, noSkill.stderr);
  assertStringIncludes(noSkill.stderr, "--skill");
  const missing = await runBuild(
    ["bundle", "--skill", "--dist", join(tmp.path, "gmail"), "--bin", join(tmp.path, "nope")],
    {},
  );
  assertEquals(missing.code, 2, missing.stderr);
  assertStringIncludes(missing.stderr, "skill_bin_missing");
  assertEquals([...Deno.readDirSync(tmp.path)], [], "nothing written");
});
