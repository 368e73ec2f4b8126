/**
 * `mcs skill build [--check] [--out DIR]`: write the Claude skill's SKILL.md from the tool and
 * settings catalogues; `--check` exits 1 (writing nothing) when the file on disk differs.
 *
 * @example
 * ```sh
 * mcs skill build            # writes skills/gmail/SKILL.md
 * mcs skill build --check    # CI: fails when SKILL.md is stale
 * ```
 * @module
 */

import { renderSkillMd } from "../../lib/tools/skill_md.ts";
import type { CommandOutput, Context } from "../context.ts";

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const dir = typeof ctx.options.out === "string" ? ctx.options.out : "skills/gmail";
  const path = `${dir.replace(/\/+$/, "")}/SKILL.md`;
  const text = renderSkillMd();
  let current: string | undefined;
  try {
    current = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const upToDate = current === text;
  if (ctx.options.check) {
    return {
      result: { path, up_to_date: upToDate },
      human: upToDate
        ? `${path} is up to date.\n`
        : `${path} is stale: run \`mcs skill build\` and commit the result.\n`,
      exitCode: upToDate ? 0 : 1,
    };
  }
  if (!upToDate) {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(path, text);
  }
  return {
    result: { path, written: !upToDate },
    human: upToDate ? `${path} is up to date.\n` : `Wrote ${path}.\n`,
  };
}
