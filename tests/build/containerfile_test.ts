/**
 * The Containerfile and README's compose file, checked without a container engine (none on CI):
 * what a build or a `docker compose up` would trip on first. Every path a `COPY` takes from the
 * build context exists; every `lib/build/main.ts` run in it accepts its options (run again with
 * `--print`, the `ARG` defaults filled in); the build stage's context alone (exactly what it
 * copies) is enough to install and build; and the compose file's build args are `ARG`s, its
 * environment names are settings mcs reads, and its baked network grant covers the address the
 * service listens on and its Redis.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { exec, ROOT, runBuild } from "./_build.ts";

const FILE = join(ROOT, "Containerfile");

/** Instructions with their continuation lines joined; comments dropped. */
async function instructions(): Promise<string[]> {
  const text = await Deno.readTextFile(FILE);
  const lines = text.split("\n").filter((l) => !/^\s*#/.test(l));
  return lines.join("\n").replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter(Boolean);
}

/** `ARG NAME=default` values (the first default given for each name). */
function argDefaults(all: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of all) {
    const m = /^ARG\s+([A-Z0-9_]+)=(\S*)$/.exec(i);
    if (m && !out.has(m[1])) out.set(m[1], m[2]);
  }
  return out;
}

/** The context paths the `COPY` instructions take (not `--from=` another stage). */
function copiedFromContext(all: string[]): string[] {
  const out: string[] = [];
  for (const i of all.filter((x) => /^COPY\s/.test(x))) {
    const words = i.split(/\s+/).slice(1);
    if (words.some((w) => w.startsWith("--from="))) continue;
    const paths = words.filter((w) => !w.startsWith("--"));
    out.push(...paths.slice(0, -1)); // the last one is the destination
  }
  return out;
}

Deno.test("Containerfile: every COPY from the build context names a path of this repository", async () => {
  const copied = copiedFromContext(await instructions());
  assert(copied.length >= 3, `COPY sources found: ${copied}`);
  const missing: string[] = [];
  for (const p of copied) {
    if (!await Deno.stat(join(ROOT, p)).then(() => true, () => false)) missing.push(p);
  }
  assertEquals(missing, [], "COPY of a path that does not exist fails the image build");
});

Deno.test("Containerfile: each lib/build/main.ts run accepts its options (--print, ARG defaults)", async () => {
  const all = await instructions();
  const defaults = argDefaults(all);
  const runs = all.filter((i) => i.includes("lib/build/main.ts"));
  assert(runs.length >= 2, "the CLI and the broker are compiled");
  for (const run of runs) {
    const tail = run.slice(run.indexOf("lib/build/main.ts") + "lib/build/main.ts".length);
    const words = tail.split("&&")[0].trim().split(/\s+/)
      .map((w) =>
        w.replace(/"\$([A-Za-z0-9_]+)"|\$([A-Za-z0-9_]+)/g, (_, a, b) => defaults.get(a ?? b) ?? "")
      )
      .filter(Boolean);
    const out = words.indexOf("--output");
    if (out >= 0) words.splice(out, 2);
    const r = await runBuild([...words, "--print"], {});
    assertEquals(r.code, 0, `${words.join(" ")}: ${r.stderr}`);
    const manifest = JSON.parse(r.stdout);
    assertEquals(manifest.v8Flags, [defaults.get("MCS_V8_FLAGS")]);
  }
});

Deno.test("Containerfile: the build stage's context alone installs and builds", async () => {
  const ctx = await Deno.makeTempDir({ prefix: "mcs-image-context-" });
  try {
    for (const p of copiedFromContext(await instructions())) {
      await exec(["cp", "-r", join(ROOT, p), join(ctx, p)]);
    }
    const install = await exec([Deno.execPath(), "install", "--frozen"], { cwd: ctx });
    assertEquals(install.code, 0, install.stderr);
    const built = await exec(
      [Deno.execPath(), "run", "--no-prompt", "-A", "lib/build/main.ts", "bundle", "--generic"],
      { cwd: ctx },
    );
    assertEquals(built.code, 0, built.stderr);
    const version = await exec([join(ctx, "dist", "mcs.sh"), "--version"], {
      env: { DENO: Deno.execPath() },
    });
    assertEquals(version.code, 0, version.stderr);
    assert(/^mcs \d/.test(version.stdout), version.stdout);
  } finally {
    await Deno.remove(ctx, { recursive: true });
  }
});

Deno.test("README's compose file agrees with the Containerfile and the program", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const yaml = /```yaml\n(# compose\.yaml[\s\S]*?)```/.exec(readme)?.[1];
  assert(yaml, "the compose example is in README.md");
  /** The `KEY: value` lines of the block that starts at `name:` (deeper-indented lines). */
  const block = (name: string): Map<string, string> => {
    const lines = yaml.split("\n");
    const at = lines.findIndex((l) => l.trim() === `${name}:` || l.trim().startsWith(`${name}: #`));
    assert(at >= 0, `compose has ${name}:`);
    const indent = lines[at].search(/\S/);
    const out = new Map<string, string>();
    for (const l of lines.slice(at + 1)) {
      if (l.trim() && l.search(/\S/) <= indent) break;
      const m = /^\s*([A-Z0-9_]+):\s*(.*?)\s*(#.*)?$/.exec(l);
      if (m) out.set(m[1], m[2].replace(/^"(.*)"$/, "$1"));
    }
    return out;
  };
  const containerfile = await Deno.readTextFile(FILE);
  const args = block("args");
  for (const name of args.keys()) {
    assert(new RegExp(`^ARG ${name}\\b`, "m").test(containerfile), `build arg ${name} is an ARG`);
  }
  const { allEnvNames } = await import("../../lib/config/settings.ts");
  const known = allEnvNames();
  const env = block("environment");
  for (const name of env.keys()) {
    const ok = known.some((k) => k.endsWith("*") ? name.startsWith(k.slice(0, -1)) : k === name);
    assert(ok, `environment ${name} is a setting mcs reads`);
  }
  // The baked network grant covers what the service listens on and the Redis it uses.
  const grants = (args.get("MCS_EXTRA_HOSTS") ?? "").split(/\s+/);
  const command = /command: \[([^\]]*)\]/.exec(yaml.slice(yaml.indexOf("  mcs:")))?.[1] ?? "";
  const words = [...command.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  const listen = `${words[words.indexOf("--host") + 1]}:${words[words.indexOf("--port") + 1]}`;
  assert(grants.includes(listen), `MCS_EXTRA_HOSTS grants ${listen}: ${grants}`);
  const redis = new URL(env.get("MCS_STORE") ?? "");
  assert(grants.includes(`${redis.hostname}:${redis.port}`), `MCS_EXTRA_HOSTS grants Redis`);
  const port = listen.split(":")[1];
  assert(yaml.includes(`ports: ["${port}:`), `the service publishes port ${port}`);
});
