/**
 * The skill launcher's choice of program (skills/gmail/scripts/mcs), each branch with recording
 * fakes on a PATH that holds only what the branch allows: a packaged binary wins; else the bundle
 * through `deno` on PATH; else, with no deno but Node's `npx`, the bundle through
 * `npx --yes deno@<pinned>` with npm's cache inside MCS_CACHE_DIR; else one JSON error
 * (`deno_not_found`, exit 3). The bundle's generated `mcs.sh` is the real one, so the flags that
 * reach deno (or npx) are the ones a package ships. A real run through npx is in package_test.ts.
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { exec, ROOT } from "../build/_build.ts";
import { launcherScript, runCommand } from "../../lib/build/artifacts.ts";
import { genericPermissions } from "../../lib/build/permissions.ts";

const LAUNCHER_SOURCE = join(ROOT, "skills", "gmail", "scripts", "mcs");
const POSIX = Deno.build.os !== "windows";
/** Tools the launcher and mcs.sh use besides the shell's builtins. */
const TOOLS = ["sh", "dirname", "sed", "mkdir", "chmod"];

/** The Deno version the launcher pins for npx. */
async function pinnedVersion(): Promise<string> {
  const m = /^DENO_NPM_VERSION=(\S+)$/m.exec(await Deno.readTextFile(LAUNCHER_SOURCE));
  assert(m, "the launcher pins DENO_NPM_VERSION");
  return m[1];
}

/** A fake program that appends its argv (one JSON line, plus some env) to `log`. */
function recorder(log: string, stdout: string, exit = 0): string {
  return [
    "#!/bin/sh",
    `{ printf '%s' "$0"; for a in "$@"; do printf '\\037%s' "$a"; done;` +
    ` printf '\\036%s\\036%s\\036%s\\n' "\${npm_config_cache:-}" "\${DENO_DIR:-}" "\${MCS_DENO_NPX:-}"; } >> '${log}'`,
    `printf '%s\\n' '${stdout}'`,
    `exit ${exit}`,
    "",
  ].join("\n");
}

interface Call {
  program: string;
  args: string[];
  npmCache: string;
  denoDir: string;
  denoNpx: string;
}

async function calls(log: string): Promise<Call[]> {
  const text = await Deno.readTextFile(log).catch(() => "");
  return text.split("\n").filter(Boolean).map((line) => {
    const [argv, npmCache, denoDir, denoNpx] = line.split("\x1e");
    const [program, ...args] = argv.split("\x1f");
    return { program: program.split("/").pop()!, args, npmCache, denoDir, denoNpx };
  });
}

interface Fixture {
  root: string;
  scripts: string;
  bin: string;
  cache: string;
  log: string;
  run(args: string[], env?: Record<string, string>): ReturnType<typeof exec>;
}

/**
 * A skill folder (launcher, an empty mcs.js, the real generated mcs.sh) and a bin folder with
 * only {@link TOOLS}; `programs` adds fakes to it (`deno`, `npx`) or to scripts (`mcs-bin`).
 */
async function fixture(): Promise<Fixture> {
  const root = await Deno.makeTempDir({ prefix: "mcs-launcher-" });
  const scripts = join(root, "gmail", "scripts");
  const bin = join(root, "bin");
  const cache = join(root, "cache");
  const log = join(root, "calls.log");
  await Deno.mkdir(scripts, { recursive: true });
  await Deno.mkdir(bin);
  await Deno.copyFile(LAUNCHER_SOURCE, join(scripts, "mcs"));
  await Deno.chmod(join(scripts, "mcs"), 0o755);
  await Deno.writeTextFile(join(scripts, "mcs.js"), "");
  await Deno.writeTextFile(join(scripts, "mcs.sh"), launcherScript(genericPermissions(), false));
  for (const tool of TOOLS) {
    const which = await exec(["sh", "-c", `command -v ${tool}`]);
    await Deno.symlink(which.stdout.trim(), join(bin, tool));
  }
  return {
    root,
    scripts,
    bin,
    cache,
    log,
    run: (args, env = {}) =>
      exec([join(scripts, "mcs"), ...args], {
        env: { PATH: bin, HOME: root, MCS_CACHE_DIR: cache, ...env },
        clearEnv: true,
        cwd: root,
      }),
  };
}

async function fake(path: string, text: string, mode = 0o755): Promise<void> {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, mode);
}

/** What mcs.sh passes to deno for `args`: `run`, the generic flags, mcs.js, then `args`. */
function denoArgs(scripts: string, args: string[]): string[] {
  return [
    ...runCommand(genericPermissions(), { bundle: join(scripts, "mcs.js") }).slice(1),
    ...args,
  ];
}

function errorDoc(r: { code: number; stdout: string; stderr: string }) {
  assertEquals(r.code, 3, r.stdout + r.stderr);
  assertEquals(r.stdout.trim().split("\n").length, 1, "one JSON line on stdout");
  const d = JSON.parse(r.stdout) as {
    ok: boolean;
    error: { code: string; message: string; retryable: boolean };
  };
  assertEquals(d.ok, false);
  assertEquals(d.error.retryable, false);
  return d.error;
}

const ARGS = ["exec", "search_emails", '{"query":"from:a b","limit":2}'];

Deno.test({
  name: "launcher: a packaged scripts/mcs-bin wins over deno and npx, with the arguments as given",
  ignore: !POSIX,
  async fn() {
    const f = await fixture();
    try {
      await fake(join(f.bin, "deno"), recorder(f.log, "{}"));
      await fake(join(f.bin, "npx"), recorder(f.log, "{}"));
      // Mode 0644: an uploaded folder may lose the executable bit; the launcher restores it.
      await fake(join(f.scripts, "mcs-bin"), recorder(f.log, '{"ok":true,"from":"bin"}'), 0o644);
      const r = await f.run(ARGS);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(JSON.parse(r.stdout).from, "bin");
      const c = await calls(f.log);
      assertEquals(c.map((x) => [x.program, x.args]), [["mcs-bin", ARGS]]);
    } finally {
      await Deno.remove(f.root, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "launcher: deno on PATH runs the bundle under mcs.sh's flags, Deno's cache in the cache dir",
  ignore: !POSIX,
  async fn() {
    const f = await fixture();
    try {
      await fake(join(f.bin, "deno"), recorder(f.log, '{"ok":true,"from":"deno"}'));
      await fake(join(f.bin, "npx"), recorder(f.log, "{}"));
      const r = await f.run(ARGS);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(JSON.parse(r.stdout).from, "deno");
      const c = await calls(f.log);
      assertEquals(c.length, 1, "npx is not used when deno is there");
      assertEquals(c[0].program, "deno");
      assertEquals(c[0].args, denoArgs(f.scripts, ARGS));
      assertEquals(c[0].denoDir, join(f.cache, ".deno"));
      assertEquals(c[0].denoNpx, "");
    } finally {
      await Deno.remove(f.root, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "launcher: no deno but npx runs the bundle with the pinned deno from npm, npm's cache in the cache dir",
  ignore: !POSIX,
  async fn() {
    const f = await fixture();
    try {
      const version = await pinnedVersion();
      await fake(join(f.bin, "npx"), recorder(f.log, '{"ok":true,"from":"npx"}'));
      const r = await f.run(ARGS);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.trim().split("\n").at(-1), '{"ok":true,"from":"npx"}');
      assertEquals(r.stdout.trim().split("\n").length, 1, "the probe's output is not printed");
      const npm = join(f.cache, ".npm");
      let c = await calls(f.log);
      assertEquals(c.map((x) => [x.program, x.args]), [
        ["npx", ["--yes", `deno@${version}`, "--version"]],
        ["npx", ["--yes", `deno@${version}`, ...denoArgs(f.scripts, ARGS)]],
      ]);
      for (const x of c) {
        assertEquals(x.npmCache, npm, "npm's cache inside MCS_CACHE_DIR");
        assertEquals(x.denoDir, join(f.cache, ".deno"));
      }
      assertEquals((await Deno.stat(npm)).mode! & 0o777, 0o700);

      // The probe ran once for this cache: the next call goes straight to the program.
      await Deno.remove(f.log);
      assertEquals((await f.run(["--version"])).code, 0);
      c = await calls(f.log);
      assertEquals(c.map((x) => x.args), [[
        "--yes",
        `deno@${version}`,
        ...denoArgs(f.scripts, ["--version"]),
      ]]);

      // An npm cache chosen by the user is kept.
      await Deno.remove(f.log);
      const own = join(f.root, "own-npm");
      assertEquals((await f.run(["--version"], { npm_config_cache: own })).code, 0);
      assertEquals((await calls(f.log)).map((x) => x.npmCache), [own, own]);
    } finally {
      await Deno.remove(f.root, { recursive: true });
    }
  },
});

Deno.test({
  name: "launcher: npx that cannot run deno (registry unreachable) gives one JSON error, exit 3",
  ignore: !POSIX,
  async fn() {
    const f = await fixture();
    try {
      await fake(join(f.bin, "npx"), recorder(f.log, "npm error network", 1));
      const e = errorDoc(await f.run(ARGS));
      assertEquals(e.code, "deno_not_found");
      assertStringIncludes(e.message, `deno@${await pinnedVersion()}`);
      assertEquals((await calls(f.log)).length, 1, "only the probe ran");
    } finally {
      await Deno.remove(f.root, { recursive: true });
    }
  },
});

Deno.test({
  name: "launcher: neither deno nor npx gives the instructions as one JSON error, exit 3",
  ignore: !POSIX,
  async fn() {
    const f = await fixture();
    try {
      const r = await f.run(ARGS);
      const e = errorDoc(r);
      assertEquals(e.code, "deno_not_found");
      for (const s of ["deno on PATH", "DENO", "npx", "scripts/mcs-bin"]) {
        assertStringIncludes(e.message, s);
      }
      assertStringIncludes(r.stderr, "mcs: ");
    } finally {
      await Deno.remove(f.root, { recursive: true });
    }
  },
});

Deno.test("launcher: the pinned npx Deno is the one CI and the release build with", async () => {
  const version = await pinnedVersion();
  const release = await Deno.readTextFile(join(ROOT, ".github", "workflows", "release.yml"));
  assertEquals(/DENO_VERSION: "([^"]+)"/.exec(release)?.[1], version);
  const ci = await Deno.readTextFile(join(ROOT, ".ci", "run"));
  assertStringIncludes(ci, `npx -y deno@${version} `);
});
