/**
 * The `auth0-linkauth` double flow with a real browser: each agent step is its own process; the
 * person, in headless Chromium, opens the login link, confirms the code and signs in at the
 * emulated Auth0 tenant; then types the connect code at the broker, confirms it and allows the
 * Connected Accounts consent; the agent's next call gets the Gmail token and searches the mailbox.
 *
 * Skipped when Chromium is absent (see `tests/support/browser.ts`). Screenshots of the broker and
 * Auth0 pages are kept in $MCS_CHAIN_SHOTS when set (for a person to look at), else in a temp dir
 * removed after.
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { chromium } from "../support/browser.ts";
import { testRequiring } from "../support/requires.ts";
import { chainWorld, personInBrowser } from "./_world.ts";

testRequiring(chromium, {
  name: "auth0-linkauth with a real browser: sign in, consent, then the agent reads Gmail",
  async fn() {
    await using w = await chainWorld();
    const keep = Deno.env.get("MCS_CHAIN_SHOTS");
    const dir = keep ?? await Deno.makeTempDir({ prefix: "mcs-chain-shots-" });
    if (keep) await Deno.mkdir(keep, { recursive: true });
    try {
      await w.agentAsks("login", async (c) => {
        await personInBrowser("link", "Log in to mcs", { dir, prefix: "login" })(c);
        assertEquals(w.broker.session(c.code)?.status, "ready");
      });
      await w.agentAsks("connect", async (c) => {
        await personInBrowser("code", "Connect google-oauth2", { dir, prefix: "connect" })(c);
        assertEquals(w.broker.session(c.code)?.status, "ready");
      });
      await w.agentReads();
      assertEquals(w.auth0.accounts().length, 1);
      for (const name of ["login-broker", "login-auth0", "connect-broker", "connect-auth0"]) {
        assert((await Deno.stat(`${dir}/${name}.png`)).size > 0, `${name}.png written`);
      }
    } finally {
      if (!keep) await Deno.remove(dir, { recursive: true });
    }
  },
});
