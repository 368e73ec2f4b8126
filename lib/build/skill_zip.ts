/**
 * The skill upload archive: `deno task bundle --skill` writes `<dist>/gmail.zip` next to the
 * folder `<dist>/gmail/`. Claude's skill upload takes a zip whose one top-level entry is the skill
 * folder, named as the skill, holding `SKILL.md` (reference: runtime-and-peers.md §5).
 *
 * Guarantees:
 * - every entry is under `<name>/` (directory entries included), `SKILL.md` is at `<name>/SKILL.md`;
 * - Unix modes are recorded (0755 for the launcher, `mcs.sh` and a compiled `mcs-bin`, 0644 for
 *   the rest; 0755 for folders), the same on every build host, so `unzip` restores the executable
 *   bits where the extractor honours them (the launcher also works without them: it runs
 *   `sh mcs.sh`);
 * - the archive is reproducible: sorted entries, a fixed timestamp (1980-01-01), deflate level 9;
 * - it is written to a temporary file and renamed, so a failed build never leaves half a zip.
 *
 * `fflate` builds the archive (node:zlib deflates but does not write zip containers); it is a
 * build-time dependency only, never loaded by the CLI.
 *
 * @example
 * ```ts
 * import { writeSkillZip } from "./skill_zip.ts";
 * const { path, entries } = await writeSkillZip("dist/skill/gmail", "dist/skill/gmail.zip");
 * // entries: ["gmail/", "gmail/SKILL.md", "gmail/scripts/", "gmail/scripts/mcs", ...]
 * ```
 * @module
 */

import { type Zippable, zipSync } from "fflate";
import { basename, dirname, join } from "node:path";

/** Files that must stay executable inside the archive (names within `scripts/`). */
const EXECUTABLES = new Set(["mcs", "mcs.sh", "mcs-bin", "mcs-bin.exe"]);

/** DOS epoch: the earliest time a zip can record; fixed so builds are reproducible. */
const MTIME = new Date(1980, 0, 1, 0, 0, 0);

/** Unix `st_mode` of an archive entry: regular file or directory with its permission bits. */
function unixMode(rel: string, isDir: boolean): number {
  if (isDir) return 0o040755;
  const parts = rel.split("/");
  const exec = parts.length === 2 && parts[0] === "scripts" && EXECUTABLES.has(parts[1]);
  return 0o100000 | (exec ? 0o755 : 0o644);
}

/** Every file and folder under `dir`, as `/`-separated relative paths, sorted. */
async function walk(dir: string, rel = ""): Promise<{ rel: string; isDir: boolean }[]> {
  const out: { rel: string; isDir: boolean }[] = [];
  const names: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(join(dir, rel))) names.push(e);
  names.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const e of names) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push({ rel: r, isDir: true }, ...await walk(dir, r));
    else if (e.isFile) out.push({ rel: r, isDir: false });
  }
  return out;
}

/** What {@link writeSkillZip} wrote. */
export interface SkillZip {
  /** The archive's path. */
  path: string;
  /** Entry names in archive order (folders end with `/`). */
  entries: string[];
  /** Archive size in bytes. */
  bytes: number;
  /** Sum of the uncompressed file sizes. */
  uncompressedBytes: number;
}

/**
 * Zip the skill folder `skillDir` into `zipPath` with the folder as the one top-level entry,
 * named `root` (default: the folder's base name; the skill's `name`, which the upload requires to
 * match the folder).
 */
export async function writeSkillZip(
  skillDir: string,
  zipPath: string,
  root: string = basename(skillDir),
): Promise<SkillZip> {
  const files: Zippable = {};
  const opts = (rel: string, isDir: boolean) => ({
    os: 3, // Unix: the high 16 bits of `attrs` are the st_mode
    attrs: unixMode(rel, isDir) * 0x10000,
    mtime: MTIME,
    level: isDir ? 0 : 9,
  } as const);
  files[`${root}/`] = [new Uint8Array(0), opts("", true)];
  let uncompressed = 0;
  for (const { rel, isDir } of await walk(skillDir)) {
    if (isDir) {
      files[`${root}/${rel}/`] = [new Uint8Array(0), opts(rel, true)];
    } else {
      const data = await Deno.readFile(join(skillDir, rel));
      uncompressed += data.length;
      files[`${root}/${rel}`] = [data, opts(rel, false)];
    }
  }
  const zip = zipSync(files);
  await Deno.mkdir(dirname(zipPath), { recursive: true });
  const tmp = await Deno.makeTempFile({ dir: dirname(zipPath), prefix: ".mcs-zip-" });
  try {
    await Deno.writeFile(tmp, zip);
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o644);
    await Deno.rename(tmp, zipPath);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return {
    path: zipPath,
    entries: Object.keys(files),
    bytes: zip.length,
    uncompressedBytes: uncompressed,
  };
}
