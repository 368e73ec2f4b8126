/**
 * The uploadable Claude skill folder (`deno task bundle --skill`): `SKILL.md` generated from the
 * catalogue, the launcher `scripts/mcs` copied from `skills/gmail/scripts/`, and the generic
 * bundle (`scripts/mcs.js`, `scripts/mcs.sh`, `scripts/mcs.permissions.json`; with `--split` also
 * `scripts/mcs-chunks/`), so the skill runs with only `deno` on PATH. `skills/gmail/` stays the
 * source; the package is build output and goes to `dist/skill/gmail/`.
 *
 * The folder is assembled in a staging directory next to the target and then moved into place,
 * so a failed build leaves the previous package intact. An existing target is replaced only when
 * it is empty or a previous package (it has a `SKILL.md`): `--dist /` cannot wipe anything.
 *
 * @example
 * ```ts
 * import { checkSkillTarget, replaceWithStage, writeSkillFiles } from "./skill.ts";
 * await checkSkillTarget("dist/skill/gmail");
 * const stage = await Deno.makeTempDir({ dir: "dist/skill", prefix: ".mcs-skill-" });
 * // ... bundle into `${stage}/scripts` ...
 * await writeSkillFiles(stage, { skillMd: "---\nname: gmail\n...", launcher: "skills/gmail/scripts/mcs" });
 * await replaceWithStage(stage, "dist/skill/gmail");
 * ```
 * @module
 */

import { join } from "node:path";
import { McsError, UsageError } from "../errors.ts";

/** The skill's scripts folder (relative to the skill folder). */
export const SKILL_SCRIPTS = "scripts";

/** The launcher's file name in {@link SKILL_SCRIPTS}; SKILL.md calls `scripts/mcs`. */
export const SKILL_LAUNCHER = "mcs";

/** Default package folder for the skill `name`, relative to the repository root. */
export function defaultSkillDir(name: string): string {
  return join("dist", "skill", name);
}

/**
 * Refuse a target that exists and is neither empty nor a previous skill package.
 * @throws {UsageError} `skill_dir_not_package` naming the folder.
 */
export async function checkSkillTarget(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    if (e instanceof Error && /not a directory/i.test(e.message)) {
      throw new UsageError("skill_dir_not_package", `${dir} exists and is not a directory.`);
    }
    throw e;
  }
  if (entries.length > 0 && !entries.includes("SKILL.md")) {
    throw new UsageError(
      "skill_dir_not_package",
      `${dir} is not empty and holds no SKILL.md, so it is not a previous skill package; ` +
        "choose another --dist or remove it.",
    );
  }
}

/** What {@link writeSkillFiles} puts next to the bundle. */
export interface SkillFiles {
  /** The generated SKILL.md text. */
  skillMd: string;
  /** Path of the launcher source (`skills/gmail/scripts/mcs`). */
  launcher: string;
}

/** Write `SKILL.md` and `scripts/mcs` (mode 0755) into the skill folder `dir`. */
export async function writeSkillFiles(dir: string, files: SkillFiles): Promise<void> {
  await Deno.mkdir(join(dir, SKILL_SCRIPTS), { recursive: true });
  await Deno.writeTextFile(join(dir, "SKILL.md"), files.skillMd);
  const launcher = join(dir, SKILL_SCRIPTS, SKILL_LAUNCHER);
  await Deno.copyFile(files.launcher, launcher);
  if (Deno.build.os !== "windows") await Deno.chmod(launcher, 0o755);
}

/**
 * Move the finished staging folder to `target`, replacing a previous package (checked again
 * with {@link checkSkillTarget}). The package folder gets mode 0755 (a temp dir is 0700).
 * @throws {UsageError} `skill_dir_not_package` when the target is not replaceable.
 * @throws {McsError} `skill_package_failed` when the move fails.
 */
export async function replaceWithStage(stage: string, target: string): Promise<void> {
  await checkSkillTarget(target);
  await Deno.remove(target, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  try {
    await Deno.rename(stage, target);
  } catch (e) {
    throw new McsError(
      "skill_package_failed",
      `Could not move the skill package into ${target}: ${(e as Error).message}`,
      "runtime",
      { cause: e },
    );
  }
  if (Deno.build.os !== "windows") await Deno.chmod(target, 0o755);
}
