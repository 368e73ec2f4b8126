import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { denortZipPath } from "../../lib/build/denort.ts";
import { exec, runBuild } from "./_build.ts";
import { requires, testRequiring } from "../support/requires.ts";

// A cross target: its denort zip is (almost) never cached, so compile must stop before deno
// compile tries to download it.
const CROSS = Deno.build.target === "aarch64-apple-darwin"
  ? "x86_64-apple-darwin"
  : "aarch64-apple-darwin";

async function crossZipCached(): Promise<boolean> {
  const info = await exec([Deno.execPath(), "info", "--json"]);
  const zip = denortZipPath(JSON.parse(info.stdout).denoDir, Deno.version.deno, CROSS);
  return await Deno.stat(zip).then(() => true, () => false);
}

testRequiring(
  requires("no cached cross-target denort", !(await crossZipCached()), {
    reason: `denort-${CROSS}.zip is in the Deno cache, so compile would not fail`,
    ciCannotProvide: "a state of the Deno cache, not a tool",
  }),
  {
    name: "compile without denort fails up front with how to provide it (exit 3)",
    async fn() {
      const dist = await Deno.makeTempDir();
      try {
        const r = await runBuild(
          ["compile", "--generic", "--target", CROSS, "--dist", dist],
          {},
        );
        assertEquals(r.code, 3, r.stderr);
        assertStringIncludes(r.stderr, "error[denort_missing]");
        assertStringIncludes(r.stderr, "DENORT_BIN=");
        assertStringIncludes(r.stderr, `dl/release/v${Deno.version.deno}/denort-${CROSS}.zip`);
        assert(!/dns error|Stack backtrace/.test(r.stderr), "no raw download error");
      } finally {
        await Deno.remove(dist, { recursive: true });
      }
    },
  },
);

Deno.test("a failing deno compile is translated (DENORT_BIN that is not denort)", async () => {
  const dist = await Deno.makeTempDir();
  try {
    const fake = `${dist}/denort`;
    await Deno.writeTextFile(fake, "#!/bin/sh\necho not denort\n");
    const r = await runBuild(["compile", "--generic", "--dist", dist], { DENORT_BIN: fake });
    assertEquals(r.code, 3, r.stderr);
    assertStringIncludes(r.stderr, "error[denort_bin_invalid]");
    assertStringIncludes(r.stderr, fake);
    assert(!/Stack backtrace/.test(r.stderr));
  } finally {
    await Deno.remove(dist, { recursive: true });
  }
});

Deno.test("--print shows the scoped set for the deployment's configuration", async () => {
  const r = await runBuild(["compile", "--print"], {
    MCS_AUTH: "auth0-linkauth",
    MCS_AUTH0_DOMAIN: "tenant.eu.auth0.com",
    MCS_LINKAUTH_BROKER_URL: "https://broker.example",
    MCS_CACHE_DIR: "/srv/mcs-cache",
    MCS_AUTH0_CLIENT_SECRET: "s3cret-value",
  });
  assertEquals(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  assertEquals(m.kind, "scoped");
  assertEquals(m.permissions.net, [
    "gmail.googleapis.com",
    "tenant.eu.auth0.com",
    "broker.example",
  ]);
  assertEquals(m.permissions.read, ["/srv/mcs-cache"]);
  assertEquals(m.permissions.write, ["/srv/mcs-cache"]);
  assertEquals(m.env.MCS_CACHE_DIR, "/srv/mcs-cache");
  assert(!r.stdout.includes("s3cret-value"), "secrets are never baked or printed");
});

Deno.test("bad arguments exit 2", async () => {
  const r = await runBuild(["package"], {});
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "usage");
});

Deno.test("--skill: bundle only, generic set only, never over a folder that is not a package", async () => {
  const compile = await runBuild(["compile", "--skill"], {});
  assertEquals(compile.code, 2);
  assertStringIncludes(compile.stderr, "deno task bundle --skill");
  const scoped = await runBuild(["bundle", "--skill", "--read-dir", "/srv", "--config", "x"], {});
  assertEquals(scoped.code, 2);
  assertStringIncludes(scoped.stderr, "drop --config, --read-dir");
  const print = await runBuild(["bundle", "--skill", "--print"], { MCS_AUTH: "static" });
  assertEquals(print.code, 0, print.stderr);
  assertEquals(JSON.parse(print.stdout).kind, "generic");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/keep.txt`, "not a skill");
    const r = await runBuild(["bundle", "--skill", "--dist", dir], {});
    assertEquals(r.code, 2, r.stderr);
    assertStringIncludes(r.stderr, "error[skill_dir_not_package]");
    assertEquals(await Deno.readTextFile(`${dir}/keep.txt`), "not a skill");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--v8-flags: baked into the run command and the launcher (a compiled binary reads none at run time); a malformed flag is a usage error", async () => {
  const print = await runBuild(
    ["compile", "--generic", "--print", "--v8-flags=--max-old-space-size=256"],
    {},
  );
  assertEquals(print.code, 0, print.stderr);
  const m = JSON.parse(print.stdout);
  assertEquals(m.v8Flags, ["--max-old-space-size=256"]);
  assertStringIncludes(m.command, " --v8-flags=--max-old-space-size=256 ");
  const none = JSON.parse((await runBuild(["compile", "--generic", "--print"], {})).stdout);
  assertEquals(none.v8Flags, undefined);
  assert(!none.command.includes("--v8-flags"));

  for (const bad of ["max-old-space-size=256", "--a b", "--x=1;rm"]) {
    const r = await runBuild(["compile", "--generic", "--print", `--v8-flags=${bad}`], {});
    assertEquals(r.code, 2, `${bad}: ${r.stderr}`);
    assertStringIncludes(r.stderr, "--v8-flags=--max-old-space-size=256");
  }
  const skill = await runBuild(["bundle", "--skill", "--v8-flags=--max-old-space-size=256"], {});
  assertEquals(skill.code, 2);
  assertStringIncludes(skill.stderr, "--v8-flags does not go with --skill");

  const dist = await Deno.makeTempDir();
  try {
    const b = await runBuild(
      [
        "bundle",
        "--generic",
        "--dist",
        dist,
        "--v8-flags=--max-old-space-size=200,--stack-size=900",
      ],
      {},
    );
    assertEquals(b.code, 0, b.stderr);
    const launcher = await Deno.readTextFile(`${dist}/mcs.sh`);
    assertStringIncludes(launcher, "--v8-flags=--max-old-space-size=200,--stack-size=900");
    const v = await exec([`${dist}/mcs.sh`, "--version"], { env: { DENO: Deno.execPath() } });
    assertEquals(v.code, 0, v.stderr);
    // The flags reach V8: an unknown one stops the run (Deno checks every V8 flag it passes on).
    await Deno.writeTextFile(
      `${dist}/mcs.sh`,
      launcher.replace("--stack-size=900", "--no-such-v8-flag"),
    );
    const bad = await exec([`${dist}/mcs.sh`, "--version"], { env: { DENO: Deno.execPath() } });
    assertEquals(bad.code, 1);
    assertStringIncludes(bad.stderr, "--no-such-v8-flag");
  } finally {
    await Deno.remove(dist, { recursive: true });
  }
});
