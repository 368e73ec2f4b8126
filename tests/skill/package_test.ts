/**
 * The uploadable skill package (`deno task bundle --skill`) works the way Claude runs a skill:
 * every call a new process, only `deno` on PATH, no checkout and no Deno cache, a read-only home,
 * temp dir and skill folder, and only MCS_CACHE_DIR writable. The container is reproduced with
 * `unshare` (a private mount namespace where `/` is remounted read-only and only the cache dir is
 * bound writable; as root, chmod would not stop writes). Also: the launcher never writes outside
 * the cache dir even when home and temp are writable, and without a program it prints one JSON
 * error (`skill_not_packaged`, exit 3) instead of a source run that cannot work.
 * @module
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { exec, type Ran, ROOT, runBuild } from "../build/_build.ts";
import { toolchainEnv } from "../support/toolchain_env.ts";
import { mountNamespace, stepRequiring } from "../support/requires.ts";

import { extractZip, zipEntries } from "../build/_zip.ts";
import { renderSkillMd } from "../../lib/tools/skill_md.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { GoogleTokenRegistry } from "../../lib/emulators/google_tokens.ts";

const LAUNCHER_SOURCE = join(ROOT, "skills", "gmail", "scripts", "mcs");
const POSIX = Deno.build.os !== "windows";

/** `unshare` flags giving a private mount namespace where `/` can be remounted read-only. */
function unshareFlags(): string[] | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const dir = Deno.makeTempDirSync({ prefix: "mcs-skill-probe-" });
  Deno.mkdirSync(join(dir, "keep"));
  Deno.mkdirSync(join(dir, "other"));
  try {
    for (const flags of [["-rm"], ["-m"]]) {
      try {
        const script = `${READ_ONLY_WORLD} && touch "$1/x" && ! touch "$2/x" 2>/dev/null`;
        const probe = new Deno.Command("unshare", {
          args: [...flags, "sh", "-c", script, "sh", join(dir, "keep"), join(dir, "other")],
          stdout: "null",
          stderr: "null",
        }).outputSync();
        if (probe.success) return flags;
      } catch {
        return undefined; // no unshare binary
      }
    }
    return undefined;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Shell: keep "$1" writable (a bind mount of itself), then make everything else read-only. */
const READ_ONLY_WORLD = 'mount --bind "$1" "$1" && mount -o remount,bind,ro / && ' +
  "{ mount -o remount,bind,ro /dev/shm 2>/dev/null || true; }";

function json(r: Ran): Record<string, unknown> {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** Every path under `dir` (relative), sorted. */
async function tree(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    out.push(p.slice(base.length + 1));
    if (e.isDirectory) out.push(...await tree(p, base));
  }
  return out.sort();
}

/** A folder holding only a `deno` symlink: the one program the skill may rely on. */
async function denoOnlyBin(root: string): Promise<string> {
  const bin = join(root, "bin");
  await Deno.mkdir(bin);
  await Deno.symlink(Deno.execPath(), join(bin, "deno"));
  return bin;
}

/**
 * Minimal environment of a skill call: PATH (deno + the POSIX tools), no DENO_DIR (the launcher
 * picks it), and the toolchain's certificate, proxy and npm variables.
 */
function skillEnv(bin: string, vars: Record<string, string>): Record<string, string> {
  return toolchainEnv(
    { PATH: `${bin}:/usr/bin:/bin`, NO_COLOR: "1", ...vars },
    { denoDir: false },
  );
}

function assertNotPackaged(r: Ran): string {
  assertEquals(r.code, 3, r.stdout + r.stderr);
  assertEquals(r.stdout.trim().split("\n").length, 1, "one line on stdout");
  const d = json(r) as {
    ok: boolean;
    error: { code: string; message: string; retryable: boolean };
  };
  assertEquals(d.ok, false);
  assertEquals(d.error.code, "skill_not_packaged");
  assertEquals(d.error.retryable, false);
  assertStringIncludes(d.error.message, "deno task bundle --skill");
  assertStringIncludes(r.stderr, "mcs: ");
  return d.error.message;
}

const flags = unshareFlags();

/**
 * npm's cache when it already holds this Deno release for npx (CI installs it with
 * `npx -y deno@<version>`), with the npm settings to pass on; undefined otherwise, or when
 * /usr/bin or /bin has a deno (the run must not find one on PATH).
 */
function npmCacheWithDeno(): { cache: string; env: Record<string, string> } | undefined {
  if (!POSIX) return undefined;
  try {
    for (const d of ["/usr/bin/deno", "/bin/deno"]) {
      if (Deno.statSync(d).isFile) return undefined;
    }
  } catch { /* not there: good */ }
  let cache: string;
  try {
    const out = new Deno.Command("npm", {
      args: ["config", "get", "cache"],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    if (!out.success) return undefined;
    cache = new TextDecoder().decode(out.stdout).trim();
  } catch {
    return undefined;
  }
  try {
    for (const e of Deno.readDirSync(join(cache, "_npx"))) {
      const pkg = join(cache, "_npx", e.name, "node_modules", "deno", "package.json");
      try {
        if (JSON.parse(Deno.readTextFileSync(pkg)).version === Deno.version.deno) {
          const env: Record<string, string> = {};
          for (const [k, v] of Object.entries(Deno.env.toObject())) {
            if (/^(npm_config_|NODE_EXTRA_CA_CERTS$|(HTTPS?|NO)_PROXY$)/i.test(k)) env[k] = v;
          }
          return { cache, env };
        }
      } catch { /* another package */ }
    }
  } catch { /* no _npx folder */ }
  return undefined;
}

const npxDeno = npmCacheWithDeno();

Deno.test({
  name:
    "skill package: built by `bundle --skill`, runs a real mail command in a read-only container",
  ignore: !POSIX,
  async fn(t) {
    const root = await Deno.makeTempDir({ prefix: "mcs-skill-pkg-" });
    const googleTokens = new GoogleTokenRegistry();
    const emu = await startGmailEmulator({ googleTokens, seed: true });
    try {
      const skill = join(root, "upload", "gmail");
      const launcher = join(skill, "scripts", "mcs");
      const bin = await denoOnlyBin(root);
      const { token } = googleTokens.issue({
        sub: "google-oauth2|1",
        email: "ada@example.com",
        scopes: ["https://mail.google.com/"],
        ttlS: 600,
      });
      const mail = { MCS_AUTH: "static", MCS_GMAIL_TOKEN: token, MCS_GMAIL_API_BASE: emu.url };

      await t.step("the package: SKILL.md, the launcher and the generic bundle", async () => {
        const r = await runBuild(["bundle", "--skill", "--dist", skill], {});
        assertEquals(r.code, 0, r.stderr);
        assertEquals(await tree(skill), [
          "SKILL.md",
          "scripts",
          "scripts/mcs",
          "scripts/mcs-html-to-text.js",
          "scripts/mcs-mcp-sdk.js",
          "scripts/mcs-mcs-broker.js",
          "scripts/mcs-oauth4webapi.js",
          "scripts/mcs-redis-client.js",
          "scripts/mcs-smol-toml.js",
          "scripts/mcs-uqr.js",
          "scripts/mcs.js",
          "scripts/mcs.permissions.json",
          "scripts/mcs.sh",
        ]);
        assertEquals(await Deno.readTextFile(join(skill, "SKILL.md")), renderSkillMd());
        assertEquals(await Deno.readTextFile(launcher), await Deno.readTextFile(LAUNCHER_SOURCE));
        assertEquals((await Deno.stat(launcher)).mode! & 0o111, 0o111, "launcher executable");
        const m = JSON.parse(await Deno.readTextFile(join(skill, "scripts/mcs.permissions.json")));
        assertEquals(m.kind, "generic");
        assertEquals(m.permissions.run, false);
        assertEquals(m.permissions.ffi, false);
        assertEquals(m.permissions.sys, false);
        assert(!m.flags.some((f: string) => /--allow-(run|ffi|sys|import)|^-A$/.test(f)));
      });

      await t.step(
        "the upload zip: the folder as its one top-level entry, and it runs unzipped",
        async () => {
          const zip = await Deno.readFile(join(root, "upload", "gmail.zip"));
          const entries = zipEntries(zip);
          const expected = ["gmail/"];
          for (const p of await tree(skill)) {
            const dir = (await Deno.stat(join(skill, p))).isDirectory;
            expected.push(dir ? `gmail/${p}/` : `gmail/${p}`);
          }
          assertEquals(entries.map((e) => e.name), expected);
          const modes = Object.fromEntries(entries.map((e) => [e.name, e.mode & 0o777]));
          assertEquals(modes["gmail/scripts/mcs"], 0o755);
          assertEquals(modes["gmail/scripts/mcs.sh"], 0o755);
          const out = join(root, "unzipped");
          await extractZip(zip, out);
          for (const f of ["SKILL.md", "scripts/mcs", "scripts/mcs.js", "scripts/mcs.sh"]) {
            assertEquals(
              await Deno.readFile(join(out, "gmail", f)),
              await Deno.readFile(join(skill, f)),
              f,
            );
          }
          const r = await exec([
            join(out, "gmail", "scripts", "mcs"),
            "exec",
            "search_emails",
            '{"limit":2}',
          ], {
            env: skillEnv(bin, {
              HOME: root,
              MCS_CACHE_DIR: join(root, "cache-unzipped"),
              ...mail,
            }),
            clearEnv: true,
            cwd: root,
          });
          assertEquals(r.code, 0, r.stdout + r.stderr);
          assertEquals((json(r).result as { messages: unknown[] }).messages.length, 2);
        },
      );

      await t.step({
        name: "no deno, only Node: the unzipped skill runs through npx deno@<pinned> (npm cache)",
        ignore: npxDeno === undefined && Deno.env.get("CI") !== "true",
        fn: async () => {
          if (!npxDeno) {
            throw new Error(
              `CI: npm's cache holds no deno@${Deno.version.deno} (.ci/run installs it with npx)`,
            );
          }
          const cache = join(root, "cache-npx");
          const r = await exec([
            join(root, "unzipped", "gmail", "scripts", "mcs"),
            "exec",
            "search_emails",
            '{"limit":1}',
          ], {
            // /usr/bin and /bin hold node and npx but no deno (checked below).
            env: {
              ...npxDeno.env,
              PATH: "/usr/bin:/bin",
              HOME: root,
              NO_COLOR: "1",
              MCS_CACHE_DIR: cache,
              npm_config_cache: npxDeno.cache,
              ...mail,
            },
            clearEnv: true,
            cwd: root,
          });
          assertEquals(r.code, 0, r.stdout + r.stderr);
          assertEquals((json(r).result as { messages: unknown[] }).messages.length, 1);
          assert((await tree(cache)).includes(".deno"), "Deno's code cache went to the cache dir");
        },
      });

      await t.step(
        "home and temp writable: the launcher writes only into MCS_CACHE_DIR",
        async () => {
          const home = join(root, "home-rw");
          const tmp = join(root, "tmp-rw");
          const cache = join(root, "cache-rw");
          await Deno.mkdir(home);
          await Deno.mkdir(tmp);
          const r = await exec([launcher, "exec", "search_emails", '{"limit":1}'], {
            env: skillEnv(bin, { HOME: home, TMPDIR: tmp, MCS_CACHE_DIR: cache, ...mail }),
            clearEnv: true,
            cwd: root,
          });
          assertEquals(r.code, 0, r.stdout + r.stderr);
          assertEquals((json(r).result as { messages: unknown[] }).messages.length, 1);
          assertEquals(await tree(home), [], "nothing in HOME (Deno's cache included)");
          assertEquals(await tree(tmp), [], "nothing in TMPDIR");
          assert((await tree(cache)).includes(".deno"), "Deno's code cache lives in the cache dir");
          assertEquals((await Deno.stat(join(cache, ".deno"))).mode! & 0o777, 0o700);
        },
      );

      await stepRequiring(t, mountNamespace(flags), {
        name: "container: read-only home, temp and skill folder; only the cache dir writable",
        fn: async () => {
          const home = join(root, "home-ro");
          const tmp = join(root, "tmp-ro");
          const cache = join(root, "cache-ro");
          await Deno.mkdir(home);
          await Deno.mkdir(tmp);
          await Deno.mkdir(cache);
          const before = (await tree(root)).filter((p) => !p.startsWith("cache-ro"));
          const call = () =>
            exec(
              [
                "unshare",
                ...flags!,
                "sh",
                "-c",
                // Prove the world is read-only, then make the call as a fresh process.
                `${READ_ONLY_WORLD} && ! touch "$HOME/p" 2>/dev/null && ! touch "$TMPDIR/p" 2>/dev/null` +
                ` && ! touch "$2/p" 2>/dev/null && s=$2 && shift 2 && exec "$s/mcs" "$@"`,
                "sh",
                cache,
                join(skill, "scripts"),
                "exec",
                "search_emails",
                '{"limit":1}',
              ],
              {
                env: skillEnv(bin, { HOME: home, TMPDIR: tmp, MCS_CACHE_DIR: cache, ...mail }),
                clearEnv: true,
                cwd: root,
              },
            );
          for (const round of [1, 2]) {
            const r = await call();
            assertEquals(r.code, 0, `call ${round}: ${r.stdout}${r.stderr}`);
            const d = json(r) as { ok: boolean; result: { messages: { id: string }[] } };
            assertEquals(d.ok, true);
            assertEquals(d.result.messages.length, 1);
            assertMatch(d.result.messages[0].id, /^[0-9a-f]+$/);
          }
          const after = (await tree(root)).filter((p) => !p.startsWith("cache-ro"));
          assertEquals(after, before, "nothing written outside MCS_CACHE_DIR");
          assert((await tree(cache)).includes(".deno"), "Deno's code cache went to the cache dir");
        },
      });
    } finally {
      await emu.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "launcher without a program: one JSON error, skill_not_packaged, exit 3",
  ignore: !POSIX,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "mcs-skill-bare-" });
    try {
      // The skill folder as committed (skills/gmail/), uploaded without packaging.
      const scripts = join(root, "gmail", "scripts");
      await Deno.mkdir(scripts, { recursive: true });
      await Deno.copyFile(LAUNCHER_SOURCE, join(scripts, "mcs"));
      await Deno.chmod(join(scripts, "mcs"), 0o755);
      const bin = await denoOnlyBin(root);
      const r = await exec([join(scripts, "mcs"), "exec", "search_emails", '{"limit":1}'], {
        env: skillEnv(bin, { HOME: root }),
        clearEnv: true,
        cwd: root,
      });
      assertStringIncludes(assertNotPackaged(r), "dist/skill/gmail/");

      // Inside the checkout, but with an empty Deno cache (the audit's $TMPDIR/mcs-deno): no
      // source run that would fail on npm packages; the same error, naming the cache.
      const empty = join(root, "deno-dir");
      await Deno.mkdir(empty);
      const src = await exec([LAUNCHER_SOURCE, "tools", "--json"], {
        env: skillEnv(bin, { HOME: root, DENO_DIR: empty }),
        clearEnv: true,
        cwd: root,
      });
      assertStringIncludes(assertNotPackaged(src), empty);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "packaged launcher without deno on PATH: deno_not_found, exit 3",
  ignore: !POSIX,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "mcs-skill-nodeno-" });
    try {
      const scripts = join(root, "gmail", "scripts");
      await Deno.mkdir(scripts, { recursive: true });
      await Deno.copyFile(LAUNCHER_SOURCE, join(scripts, "mcs"));
      await Deno.writeTextFile(join(scripts, "mcs.js"), "");
      await Deno.writeTextFile(join(scripts, "mcs.sh"), "exit 99\n");
      const r = await exec(["sh", join(scripts, "mcs"), "--version"], {
        env: { PATH: "/usr/bin:/bin", HOME: root, DENO: join(root, "no-deno") },
        clearEnv: true,
        cwd: root,
      });
      assertEquals(r.code, 3, r.stdout + r.stderr);
      const d = json(r) as { error: { code: string; message: string } };
      assertEquals(d.error.code, "deno_not_found");
      assertStringIncludes(d.error.message, "DENO");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
