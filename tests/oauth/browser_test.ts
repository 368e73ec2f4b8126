import { assertEquals } from "../support/assert.ts";
import {
  browserOpener,
  denoOpenerHost,
  openerFor,
  type OpenerHost,
} from "../../lib/auth/oauth/browser.ts";
import { runProcess } from "../support/process.ts";

const URL_ = "https://tenant.example/authorize?client_id=abc&state=x&redirect_uri=http%3A%2F%2F";

/** A fake process: records permission queries and spawns, never starts anything. */
function fakeHost(
  o: { os?: typeof Deno.build.os; terminal?: boolean; run?: Deno.PermissionState } = {},
) {
  const queried: string[] = [];
  const spawned: [string, string[]][] = [];
  const host: OpenerHost = {
    os: o.os ?? "linux",
    stderrIsTerminal: () => o.terminal ?? true,
    queryRun: (command) => {
      queried.push(command);
      return Promise.resolve(o.run ?? "granted");
    },
    spawn: (command, args) => void spawned.push([command, args]),
  };
  return { host, queried, spawned };
}

Deno.test("opener: run granted on a terminal: the platform opener gets the URL as one argument", async () => {
  for (
    const [os, command, args] of [
      ["linux", "xdg-open", [URL_]],
      ["freebsd", "xdg-open", [URL_]],
      ["darwin", "open", [URL_]],
      ["windows", "rundll32", ["url.dll,FileProtocolHandler", URL_]],
    ] as const
  ) {
    const f = fakeHost({ os });
    assertEquals(await browserOpener(f.host)(URL_), true, os);
    assertEquals(f.queried, [command], os);
    assertEquals(f.spawned, [[command, [...args]]], os);
  }
});

Deno.test("opener: run denied, or only promptable: print only, never spawn", async () => {
  for (const run of ["denied", "prompt"] as const) {
    const f = fakeHost({ run });
    assertEquals(await browserOpener(f.host)(URL_), false, run);
    assertEquals(f.queried, ["xdg-open"], run);
    assertEquals(f.spawned, [], run);
  }
});

Deno.test("opener: stderr not a terminal: nobody to use a browser, no permission query", async () => {
  const f = fakeHost({ terminal: false });
  assertEquals(await browserOpener(f.host)(URL_), false);
  assertEquals(f.queried, []);
  assertEquals(f.spawned, []);
});

Deno.test("opener: only http(s) URLs are handed over", async () => {
  for (const url of ["file:///etc/passwd", "javascript:alert(1)", "x-scheme:run", "not a url"]) {
    const f = fakeHost();
    assertEquals(await browserOpener(f.host)(url), false, url);
    assertEquals(f.spawned, [], url);
  }
});

Deno.test("opener: a failing permission query or spawn means print only, never a throw", async () => {
  const f = fakeHost();
  const open = browserOpener({
    ...f.host,
    queryRun: () => Promise.reject(new Error("boom")),
  });
  assertEquals(await open(URL_), false);
  const spawnThrows = browserOpener({
    ...f.host,
    spawn: () => {
      throw new Error("no display");
    },
  });
  assertEquals(await spawnThrows(URL_), false);
});

Deno.test("opener table", () => {
  assertEquals(openerFor("linux"), { command: "xdg-open", args: [] });
  assertEquals(openerFor("darwin"), { command: "open", args: [] });
  assertEquals(openerFor("windows").command, "rundll32");
});

Deno.test("real host without --allow-run: the run permission is not granted and nothing prompts", async () => {
  const script = new URL("./fixtures/query_run.ts", import.meta.url).pathname;
  const ran = await runProcess(Deno.execPath(), [
    "run",
    "--no-prompt",
    "--no-config",
    "--allow-read",
    script,
  ]);
  assertEquals(ran.code, 0, ran.stderr);
  const out = JSON.parse(ran.stdout);
  assertEquals(out.state === "granted", false, ran.stdout);
  assertEquals(out.opened, false);
});

Deno.test("real host under the test permissions: run is granted for the opener", async () => {
  const host = denoOpenerHost();
  assertEquals(await host.queryRun(openerFor(host.os).command), "granted");
});
