/**
 * The skill package's folder handling (lib/build/skill.ts): which targets may be replaced, the
 * files written next to the bundle, and the move into place. The full build and the container
 * run are in tests/skill/package_test.ts.
 * @module
 */

import { join } from "node:path";
import { assertEquals, assertRejects } from "../support/assert.ts";
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
