/** StaticProvider: env lookup, missing token, and a working invalidate(). @module */
import { StaticProvider, staticTokenEnvNames } from "../../lib/auth/static.ts";
import { ConfigError } from "../../lib/errors.ts";
import { assertEquals, assertRejects, assertStringIncludes } from "../support/assert.ts";

Deno.test("static: MCS_GMAIL_TOKEN and MCS_TOKEN_<SCOPE>", async () => {
  const env: Record<string, string> = {
    MCS_GMAIL_TOKEN: "g",
    MCS_TOKEN_GOOGLE_DRIVE: "d",
    MCS_TOKEN_A_B: " ",
  };
  const p = new StaticProvider({ env: (n) => env[n] });
  assertEquals(await p.getToken("gmail"), "g");
  assertEquals(await p.getToken("google-drive"), "d");
  assertEquals(staticTokenEnvNames("a.b"), ["MCS_TOKEN_A_B"]);
  const err = await assertRejects(() => p.getToken("a.b"), ConfigError);
  assertEquals(err.code, "static_token_missing");
  assertStringIncludes(err.message, "MCS_TOKEN_A_B");
});

Deno.test("static: explicit tokens win; invalidate() turns the dead token into a ConfigError", async () => {
  const env: Record<string, string> = { MCS_GMAIL_TOKEN: "old" };
  const p = new StaticProvider({ env: (n) => env[n], tokens: { slack: "s" } });
  assertEquals(await p.getToken("slack"), "s");
  await p.invalidate("gmail");
  const err = await assertRejects(() => p.getToken("gmail"), ConfigError);
  assertEquals(err.code, "static_token_rejected");
  assertStringIncludes(err.message, "MCS_GMAIL_TOKEN");
  assertEquals(err.message.includes("old"), false);
  env.MCS_GMAIL_TOKEN = "new";
  assertEquals(await p.getToken("gmail"), "new");
  await p.invalidate("unknown-scope");
});
