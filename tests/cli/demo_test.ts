/**
 * The README's first command, `deno task demo`, run as CI runs it: a separate process with the
 * `demo` permission set, no account, no network beyond 127.0.0.1, no configuration.
 * @module
 */

import { assertEquals, assertStringIncludes } from "../support/assert.ts";
import { runProcess } from "../support/process.ts";
import { CONFIG, MAIN, ROOT_PATH } from "./_mcs.ts";

Deno.test("deno task demo: login, consent, search, read and send, exit 0", async () => {
  const env: Record<string, string> = {};
  for (const name of ["DENO_DIR", "PATH", "HOME"]) {
    const v = Deno.env.get(name);
    if (v) env[name] = v;
  }
  const { code, stdout, stderr } = await runProcess(
    Deno.execPath(),
    ["run", "--no-prompt", "-P=demo", "--config", CONFIG, MAIN, "dev", "demo"],
    { cwd: ROOT_PATH, env, clearEnv: true },
  );
  assertEquals(code, 0, stdout + stderr);
  for (
    const expected of [
      "Step 1: sign in",
      "signing in at Auth0",
      "Step 2 of the double flow",
      "granting Gmail access at Auth0",
      '"authorized":true',
      "Sent message",
      "Hello from mcs",
      "Demo complete",
    ]
  ) assertStringIncludes(stdout, expected);
});
