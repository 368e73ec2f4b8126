/**
 * Build mcs for shipping: one least-privilege binary (`deno task compile`) or a JavaScript bundle
 * (one file and a launcher: `deno task bundle`; `--split` for a small entry plus lazily loaded
 * chunks), both under the same baked permission set.
 *
 * ```
 * deno task compile [scope options] [--target T] [--output dist/mcs]
 * deno task bundle  [scope options] [--split]
 * deno task bundle --skill [--split] [--dist dist/skill/gmail] [--zip PATH] [--bin PATH]
 *                                      # the Claude skill folder + its upload zip
 * deno task compile --print            # show the permission set and baked env, build nothing
 *
 * scope options (default: scoped to this deployment's configuration: env, config file, profile):
 *   --generic            the documented wider set of the release binaries (any host and path)
 *   --broker             the set of `mcs broker serve` (any host; files: state dir, TLS, CA)
 *   --config PATH        config file to read (else MCS_CONFIG / ~/.config/mcs/config.toml)
 *   --profile NAME       profile of that file
 *   --read-dir DIR       also allow reading DIR (attachments, --body-file); repeatable
 *   --write-dir DIR      also allow writing DIR (attachment downloads); repeatable
 *   --allow-host HOST    also allow HOST[:PORT]; repeatable
 *   --v8-flags FLAGS     V8 options baked into the program, comma-separated (e.g.
 *                        --v8-flags=--max-old-space-size=256 caps a server's heap); repeatable
 *   --dist DIR           output directory (default dist; with --skill, dist/skill/gmail)
 *   --zip PATH           with --skill: the upload archive (default <dist>/../gmail.zip)
 *   --bin PATH           with --skill: a compiled mcs to package as scripts/mcs-bin
 * ```
 *
 * `bundle --skill` writes the uploadable skill folder: SKILL.md (generated from the catalogue),
 * `scripts/mcs` (the launcher from skills/gmail/scripts/) and the generic bundle in `scripts/`, so
 * the skill runs with only `deno` on PATH (or only Node's `npx`), and the zip Claude's skill upload
 * takes (one top-level folder `gmail/`; lib/build/skill_zip.ts). `--bin` adds a compiled binary
 * as `scripts/mcs-bin`, which the launcher prefers (the release workflow does this per platform).
 * It always uses the generic set (the skill runs on hosts and paths unknown at build time), so
 * scope options are refused with it.
 *
 * Outputs: `dist/mcs` (compile), `dist/mcs.js` + `dist/mcs-html-to-text.js` + `dist/mcs.sh`
 * (bundle; with `--split`, `dist/mcs-chunks/` instead of the html-to-text file: the code each
 * command loads lazily), and for both
 * `dist/mcs.permissions.json` (flags, the exact `deno run` command, why each grant exists) and
 * `dist/mcs.env` (non-secret defaults baked with `--env-file`: cache dir, config file, hosts).
 *
 * Exit codes: 0 built, 2 bad arguments, 3 missing prerequisite (e.g. no denort), 1 build failure.
 *
 * @example
 * ```sh
 * MCS_AUTH=static MCS_CACHE_DIR=/var/cache/mcs deno task compile
 * DENORT_BIN=$HOME/denort deno task compile --read-dir /srv/outbox
 * deno task compile --generic --target aarch64-apple-darwin --output dist/mcs-aarch64-apple-darwin
 * deno task bundle && dist/mcs.sh --version
 * deno task bundle --skill && dist/skill/gmail/scripts/mcs tools --json
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { resolveConfig } from "../config/resolve.ts";
import { denoEnv } from "../config/env.ts";
import { McsError, UsageError } from "../errors.ts";
import {
  bakedEnv,
  brokerPermissions,
  genericPermissions,
  type PermissionSet,
  renderEnvFile,
  scopedPermissions,
  toDenoFlags,
} from "./permissions.ts";
import { launcherScript, manifest, RUNTIME_BEHAVIOUR, v8FlagsArg } from "./artifacts.ts";
import {
  assertChunksIndependent,
  BUNDLER_ENTRY,
  CHUNK_DIR,
  relocateEntry,
  relocateSideImports,
  SIDE_PACKAGES,
  sideFile,
} from "./layout.ts";
import {
  checkSkillTarget,
  defaultSkillDir,
  replaceWithStage,
  SKILL_SCRIPTS,
  writeSkillFiles,
} from "./skill.ts";
import { renderSkillMd, SKILL_NAME } from "../tools/skill_md.ts";
import { writeSkillZip } from "./skill_zip.ts";
import {
  denortMissingError,
  explainCompileFailure,
  locateDenort,
  type LocateOptions,
} from "./denort.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ENTRY = join(ROOT, "cli", "main.ts");

interface Plan {
  kind: "scoped" | "generic" | "broker";
  set: PermissionSet;
  env: Record<string, string>;
  /** V8 flags baked into the program (`--v8-flags`). */
  v8Flags: string[];
}

/**
 * The `--v8-flags` values as one list of V8 options: each `--name` or `--name=value`, without
 * whitespace (Deno splits the list at commas, and a compiled binary reads no V8 flags at run
 * time: they must be baked).
 */
export function parseV8Flags(values: readonly string[]): string[] {
  const flags = values.flatMap((v) => v.split(",")).map((f) => f.trim()).filter(Boolean);
  for (const f of flags) {
    if (!/^--?[a-z0-9][a-z0-9_-]*(=[\w.:/+-]+)?$/i.test(f)) {
      throw new UsageError(
        "usage",
        `--v8-flags: ${JSON.stringify(f)} is not a V8 option (--name or --name=value, ` +
          `comma-separated), e.g. --v8-flags=--max-old-space-size=256`,
      );
    }
  }
  return flags;
}

async function plan(values: Record<string, unknown>): Promise<Plan> {
  const v8Flags = parseV8Flags((values["v8-flags"] as string[] | undefined) ?? []);
  if (values.generic) return { kind: "generic", set: genericPermissions(), env: {}, v8Flags };
  if (values.broker) {
    return { kind: "broker", set: brokerPermissions(denoEnv), env: {}, v8Flags };
  }
  const cfg = await resolveConfig({
    env: denoEnv,
    configPath: values.config as string | undefined,
    profile: values.profile as string | undefined,
  });
  const opts = {
    readDirs: values["read-dir"] as string[],
    writeDirs: values["write-dir"] as string[],
    extraHosts: values["allow-host"] as string[],
    configFileExists: cfg.file.exists,
  };
  const set = scopedPermissions(cfg, opts);
  return { kind: "scoped", set, env: bakedEnv(cfg, set, opts), v8Flags };
}

async function run(cmd: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function denoDir(): Promise<string> {
  const r = await run([Deno.execPath(), "info", "--json"]);
  if (r.code !== 0) throw new McsError("deno_info_failed", "`deno info --json` failed.");
  return JSON.parse(r.stdout).denoDir as string;
}

async function writeSidecars(dist: string, p: Plan, bundle: string): Promise<string | undefined> {
  await Deno.mkdir(dist, { recursive: true });
  const envFile = Object.keys(p.env).length ? join(dist, "mcs.env") : undefined;
  if (envFile) await Deno.writeTextFile(envFile, renderEnvFile(p.env));
  else await Deno.remove(join(dist, "mcs.env")).catch(() => {});
  const m = manifest(p.kind, p.set, p.env, {
    bundle,
    envFile: envFile && "mcs.env",
    v8Flags: p.v8Flags,
  });
  await Deno.writeTextFile(
    join(dist, "mcs.permissions.json"),
    JSON.stringify(m, null, 2) + "\n",
  );
  return envFile;
}

/**
 * The import map the bundle is built with: deno.json's `imports`, plus the local stack
 * (`lib/emulators/stack.ts`, behind `mcs dev` and `mcs dev demo`) replaced by
 * `lib/build/no_stack.ts`, which answers `local_stack_not_bundled`. The emulators, their CA and
 * their npm packages (jose, @peculiar/x509) were 45% of the bundle (826 → 446 KB without them)
 * and are never used by a deployment; every command paid for parsing them.
 */
async function shippedImportMap(): Promise<{ imports: Record<string, string> }> {
  const conf = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const file = (...p: string[]) => pathToFileURL(join(ROOT, ...p)).href;
  // Local targets ("./lib/...") are relative to deno.json; the staged map lives elsewhere.
  const imports = Object.fromEntries(
    Object.entries(conf.imports as Record<string, string>).map((
      [name, target],
    ) => [name, target.startsWith("./") ? file(...target.slice(2).split("/")) : target]),
  );
  return {
    imports: {
      ...imports,
      [file("lib", "emulators", "stack.ts")]: file("lib", "build", "no_stack.ts"),
    },
  };
}

/**
 * `deno bundle` into a staging folder, then into `dist/`. By default one self-contained file,
 * `dist/mcs.js`, with each of {@link SIDE_PACKAGES} bundled on its own beside it
 * (`dist/mcs-html-to-text.js`, imported only when an HTML-only message is read;
 * `dist/mcs-mcp-sdk.js`, only by `mcs mcp` and `mcs serve`; oauth4webapi, uqr and smol-toml likewise,
 * see SIDE_PACKAGES). With `--split`, `deno bundle --code-splitting` and lay it out as `dist/mcs.js`
 * (the small entry: argv, help, `--version`, `tools`) + `dist/mcs-chunks/` (everything a command
 * loads lazily): a faster cold start for a few more files (figures in README.md; see
 * lib/build/layout.ts). Either way the previous chunks are removed.
 */
async function bundle(dist: string, p: Plan, split: boolean): Promise<Bundled> {
  await Deno.mkdir(dist, { recursive: true });
  const out = join(dist, "mcs.js");
  const stage = await Deno.makeTempDir({ dir: dist, prefix: ".mcs-bundle-" });
  try {
    const importMap = join(stage, "import_map.json");
    await Deno.writeTextFile(importMap, JSON.stringify(await shippedImportMap()));
    const esbuild = (args: string[]) =>
      run([
        Deno.execPath(),
        "bundle",
        "--quiet",
        "--platform",
        "deno",
        "--minify",
        "--import-map",
        importMap,
        ...args,
      ]);
    const r = await esbuild(
      split ? ["--code-splitting", "--outdir", stage, ENTRY] : [
        ...SIDE_PACKAGES.flatMap((pkg) => ["--external", pkg]),
        "--output",
        join(stage, BUNDLER_ENTRY),
        ENTRY,
      ],
    );
    // One file: each lazily imported side package is bundled on its own, next to mcs.js.
    if (r.code === 0 && !split) {
      for (const pkg of SIDE_PACKAGES) {
        const entry = join(stage, `${sideFile(pkg)}.entry.js`);
        await Deno.writeTextFile(entry, `export * from ${JSON.stringify(pkg)};\n`);
        // A side package's own lazy imports of other side packages (the broker's Redis client)
        // stay in their files too, instead of being inlined into this one.
        const others = SIDE_PACKAGES.filter((o) => o !== pkg);
        const file = join(stage, sideFile(pkg));
        const side = await esbuild([
          ...others.flatMap((o) => ["--external", o]),
          "--output",
          file,
          entry,
        ]);
        if (side.code !== 0) Object.assign(r, side);
        else {
          const text = await Deno.readTextFile(file);
          const relocated = relocateSideImports(text, others, { onlyPresent: true });
          if (relocated !== text) await Deno.writeTextFile(file, relocated);
        }
      }
    }
    if (r.code !== 0) {
      // deno colours its output; strip ANSI codes.
      // deno-lint-ignore no-control-regex
      const text = r.stderr.replace(/\x1b\[[0-9;]*m/g, "").trim();
      const hint = /esbuild|registry|npm/i.test(text)
        ? " (deno bundle fetches @esbuild/<platform> from the npm registry on first use and caches it in $DENO_DIR/dl/esbuild-<version>)"
        : "";
      throw new McsError(
        "bundle_failed",
        `deno bundle failed${hint}:\n${
          text.split("\n").filter((l) => !/Stack backtrace|^\s*\d+: <unknown>/.test(l))
            .slice(-8).join("\n")
        }`,
      );
    }
    const chunkDir = join(dist, CHUNK_DIR);
    await Deno.remove(chunkDir, { recursive: true }).catch(() => {});
    if (split) {
      const chunks = new Map<string, string>();
      for await (const e of Deno.readDir(stage)) {
        if (e.isFile && e.name.endsWith(".js") && e.name !== BUNDLER_ENTRY) {
          chunks.set(e.name, await Deno.readTextFile(join(stage, e.name)));
        }
      }
      assertChunksIndependent(chunks);
      const entry = relocateEntry(
        await Deno.readTextFile(join(stage, BUNDLER_ENTRY)),
        [...chunks.keys()],
      );
      await Deno.remove(join(stage, BUNDLER_ENTRY));
      await Deno.remove(importMap);
      await Deno.rename(stage, chunkDir);
      await Deno.writeTextFile(out, entry);
      for (const pkg of SIDE_PACKAGES) await Deno.remove(join(dist, sideFile(pkg))).catch(() => {});
    } else {
      const code = relocateSideImports(
        await Deno.readTextFile(join(stage, BUNDLER_ENTRY)),
        SIDE_PACKAGES,
      );
      for (const pkg of SIDE_PACKAGES) {
        await Deno.rename(join(stage, sideFile(pkg)), join(dist, sideFile(pkg)));
      }
      await Deno.writeTextFile(out, code);
    }
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
  const envFile = await writeSidecars(dist, p, "mcs.js");
  const launcher = join(dist, "mcs.sh");
  await Deno.writeTextFile(launcher, launcherScript(p.set, envFile !== undefined, p.v8Flags));
  if (Deno.build.os !== "windows") await Deno.chmod(launcher, 0o755);
  const size = (await Deno.stat(out)).size;
  let chunkBytes = 0;
  let chunkCount = 0;
  if (split) {
    for await (const e of Deno.readDir(join(dist, CHUNK_DIR))) {
      chunkBytes += (await Deno.stat(join(dist, CHUNK_DIR, e.name))).size;
      chunkCount++;
    }
  }
  let sideBytes = 0;
  if (!split) {
    for (const pkg of SIDE_PACKAGES) sideBytes += (await Deno.stat(join(dist, sideFile(pkg)))).size;
  }
  return { size, chunkCount, chunkBytes, sideBytes, hasEnvFile: envFile !== undefined };
}

/** What {@link bundle} wrote, for the summary line. */
interface Bundled {
  size: number;
  chunkCount: number;
  chunkBytes: number;
  /** Bytes of the side-package files next to a one-file bundle. */
  sideBytes: number;
  hasEnvFile: boolean;
}

function describe(b: Bundled, out: string, dist: string): string {
  return `${out} (${(b.size / 1024).toFixed(0)} KiB)${
    b.sideBytes
      ? ` + ${SIDE_PACKAGES.map(sideFile).join(", ")} (${
        (b.sideBytes / 1024).toFixed(0)
      } KiB, each loaded only by the path that needs it: HTML-only mail, mcs mcp and serve)`
      : ""
  }${
    b.chunkCount
      ? ` + ${b.chunkCount} chunks in ${join(dist, CHUNK_DIR)} (${
        (b.chunkBytes / 1024).toFixed(0)
      } KiB, loaded per command)`
      : ""
  }`;
}

async function bundleToDist(dist: string, p: Plan, split: boolean): Promise<void> {
  const b = await bundle(dist, p, split);
  const launcher = join(dist, "mcs.sh");
  console.log(`Wrote ${describe(b, join(dist, "mcs.js"), dist)}, ${launcher}.`);
  console.log(`Run it under the baked ${p.kind} permission set with:\n  ${launcher} --version`);
  console.log(`or (from ${dist}):\n  ${
    manifest(p.kind, p.set, p.env, {
      bundle: "mcs.js",
      envFile: b.hasEnvFile ? "mcs.env" : undefined,
      v8Flags: p.v8Flags,
    }).command
  } --version`);
}

/**
 * The uploadable Claude skill folder: assembled in a staging folder next to `target` (SKILL.md,
 * the launcher, the generic bundle in scripts/), then moved into place (lib/build/skill.ts).
 */
async function skillPackage(
  target: string,
  split: boolean,
  zipPath: string,
  bin?: string,
): Promise<void> {
  await checkSkillTarget(target);
  if (bin !== undefined) await checkBinary(bin);
  await Deno.mkdir(dirname(target), { recursive: true });
  const stage = await Deno.makeTempDir({ dir: dirname(target), prefix: ".mcs-skill-" });
  try {
    const p: Plan = { kind: "generic", set: genericPermissions(), env: {}, v8Flags: [] };
    const scripts = join(stage, SKILL_SCRIPTS);
    const b = await bundle(scripts, p, split);
    await writeSkillFiles(stage, {
      skillMd: renderSkillMd(),
      launcher: join(ROOT, "skills", SKILL_NAME, SKILL_SCRIPTS, "mcs"),
    });
    if (bin !== undefined) {
      const name = bin.endsWith(".exe") ? "mcs-bin.exe" : "mcs-bin";
      await Deno.copyFile(bin, join(scripts, name));
      if (Deno.build.os !== "windows") await Deno.chmod(join(scripts, name), 0o755);
    }
    await replaceWithStage(stage, target);
    const zip = await writeSkillZip(target, zipPath, SKILL_NAME);
    const shown = relative(Deno.cwd(), target) || ".";
    const inTarget = (f: string) => join(shown, SKILL_SCRIPTS, f);
    console.log(
      `Wrote the ${SKILL_NAME} skill to ${shown}/: SKILL.md, ${inTarget("mcs")} (launcher), ${
        describe(b, inTarget("mcs.js"), join(shown, SKILL_SCRIPTS))
      }, ${inTarget("mcs.sh")} (generic permission set).`,
    );
    if (bin !== undefined) {
      console.log(
        `Compiled binary: ${inTarget(basename(bin).endsWith(".exe") ? "mcs-bin.exe" : "mcs-bin")}.`,
      );
    }
    console.log(`Try it:  ${inTarget("mcs")} tools --json`);
    console.log(
      `Upload:  ${relative(Deno.cwd(), zip.path) || zip.path} (${
        (zip.bytes / 1048576).toFixed(1)
      } MiB, ${
        (zip.uncompressedBytes / 1048576).toFixed(1)
      } MiB unpacked; one top-level folder ${SKILL_NAME}/). ` +
        "The skill runs the compiled binary if packaged, else the bundle with deno 2.9+ on PATH " +
        `(or DENO=/path/to/deno), else deno@${Deno.version.deno} through npx; it needs a writable MCS_CACHE_DIR.`,
    );
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
}

/** A `--bin` must be an existing file (the compiled mcs for the skill's platform). */
async function checkBinary(path: string): Promise<void> {
  const ok = await Deno.stat(path).then((s) => s.isFile, () => false);
  if (!ok) {
    throw new UsageError(
      "skill_bin_missing",
      `--bin ${path} is not a file: pass the compiled mcs (deno task compile --generic) to package as scripts/mcs-bin.`,
    );
  }
}

async function compile(dist: string, p: Plan, target: string, output: string): Promise<void> {
  const locate: LocateOptions = {
    env: { DENORT_BIN: Deno.env.get("DENORT_BIN") },
    denoDir: await denoDir(),
    version: Deno.version.deno,
    target,
  };
  const found = await locateDenort(locate);
  if (!found) throw denortMissingError(locate);
  const envFile = await writeSidecars(dist, p, "mcs.js");
  const cmd = [
    Deno.execPath(),
    "compile",
    "--quiet",
    "--config",
    join(ROOT, "deno.json"),
    "--exclude-unused-npm",
    RUNTIME_BEHAVIOUR,
    ...v8FlagsArg(p.v8Flags),
    ...toDenoFlags(p.set),
    ...(envFile ? [`--env-file=${envFile}`] : []),
    "--target",
    target,
    "--output",
    output,
    ENTRY,
  ];
  const r = await run(cmd);
  if (r.code !== 0) throw explainCompileFailure(r.stderr, locate);
  const exe = target.includes("windows") && !output.endsWith(".exe") ? `${output}.exe` : output;
  if (target === Deno.build.target) {
    // A full `deno` passed as DENORT_BIN "compiles" but ignores the program: catch that here.
    const v = await run([exe, "--version"]);
    if (v.code !== 0 || /^deno \d/m.test(v.stdout)) {
      await Deno.remove(exe).catch(() => {});
      throw new McsError(
        "denort_bin_invalid",
        `The compiled binary does not run mcs (\`${exe} --version\` printed ${
          JSON.stringify(v.stdout.trim().split("\n")[0] ?? "")
        }): the base binary (${found.path}) is not denort ${locate.version} — is it the full deno?`,
        "config",
      );
    }
  }
  const size = (await Deno.stat(exe)).size;
  console.log(
    `Wrote ${exe} (${
      (size / 1048576).toFixed(1)
    } MiB, ${p.kind} permissions baked; base: ${found.kind} ${found.path}).`,
  );
}

/** Entry point (exported for tests); returns the exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        generic: { type: "boolean", default: false },
        broker: { type: "boolean", default: false },
        config: { type: "string" },
        profile: { type: "string" },
        "read-dir": { type: "string", multiple: true, default: [] },
        "write-dir": { type: "string", multiple: true, default: [] },
        "allow-host": { type: "string", multiple: true, default: [] },
        "v8-flags": { type: "string", multiple: true, default: [] },
        target: { type: "string", default: Deno.build.target },
        output: { type: "string" },
        dist: { type: "string" },
        print: { type: "boolean", default: false },
        split: { type: "boolean", default: false },
        skill: { type: "boolean", default: false },
        zip: { type: "string" },
        bin: { type: "string" },
      },
    });
    const what = positionals[0];
    if ((what !== "bundle" && what !== "compile") || positionals.length !== 1) {
      throw new UsageError("usage", "usage: build.ts bundle|compile [options] (see the header)");
    }
    if (!values.skill && (values.zip !== undefined || values.bin !== undefined)) {
      throw new UsageError("usage", "--zip and --bin go with --skill: deno task bundle --skill");
    }
    if (values.skill) {
      if (what !== "bundle") {
        throw new UsageError("usage", "--skill packages the bundle: deno task bundle --skill");
      }
      const given = (k: string) => {
        const v = (values as Record<string, unknown>)[k];
        return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== false;
      };
      if (given("v8-flags")) {
        throw new UsageError(
          "usage",
          "--v8-flags does not go with --skill: the skill's launcher runs the bundle as shipped.",
        );
      }
      const scoped = ["config", "profile", "read-dir", "write-dir", "allow-host"].filter(given);
      if (scoped.length) {
        throw new UsageError(
          "usage",
          `--skill always builds the generic permission set (a skill runs on hosts and paths unknown at build time); drop --${
            scoped.join(", --")
          }.`,
        );
      }
      if (values.print) {
        const m = manifest("generic", genericPermissions(), {}, { bundle: "mcs.js" });
        console.log(JSON.stringify(m, null, 2));
        return 0;
      }
      const target = resolve(values.dist ?? defaultSkillDir(SKILL_NAME));
      await skillPackage(
        target,
        values.split,
        resolve(values.zip ?? join(dirname(target), `${SKILL_NAME}.zip`)),
        values.bin === undefined ? undefined : resolve(values.bin),
      );
      return 0;
    }
    const dist = resolve(values.dist ?? "dist");
    const p = await plan(values);
    if (values.print) {
      console.log(
        JSON.stringify(
          manifest(p.kind, p.set, p.env, { bundle: "mcs.js", v8Flags: p.v8Flags }),
          null,
          2,
        ),
      );
      return 0;
    }
    if (what === "bundle") await bundleToDist(dist, p, values.split);
    else await compile(dist, p, values.target, resolve(values.output ?? join(dist, "mcs")));
    return 0;
  } catch (e) {
    if (e instanceof McsError) {
      console.error(`error[${e.code}]: ${e.message}`);
      return e.category === "usage" ? 2 : e.category === "config" ? 3 : 1;
    }
    if (e instanceof TypeError && /ERR_PARSE_ARGS/.test(String((e as { code?: string }).code))) {
      console.error(`error[usage]: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
