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
import { browserPerson, chromium } from "../support/browser.ts";
import { testRequiring } from "../support/requires.ts";
import { chainWorld } from "./_world.ts";

testRequiring(chromium, {
  name: "auth0-linkauth with a real browser: sign in, consent, then the agent reads Gmail",
  async fn() {
    await using w = await chainWorld();
    const keep = Deno.env.get("MCS_CHAIN_SHOTS");
    const dir = keep ?? await Deno.makeTempDir({ prefix: "mcs-chain-shots-" });
    if (keep) await Deno.mkdir(keep, { recursive: true });
    try {
      const login = await w.agent();
      assertEquals(login.challenge?.step, "login", JSON.stringify(login));
      const signedIn = await browserPerson({
        entry: "link",
        url: login.challenge!.url!,
        code: login.challenge!.code!,
        shots: { dir, prefix: "login" },
      });
      assert(signedIn.ok, signedIn.error);
      assertEquals(signedIn.shown, login.challenge!.code);
      assertEquals(signedIn.auth0Heading, "Log in to mcs");
      assertEquals(w.broker.session(login.challenge!.code!)?.status, "ready");
      w.advance(6_000);

      const connect = await w.agent();
      assertEquals(connect.challenge?.step, "connect", JSON.stringify(connect));
      const consented = await browserPerson({
        entry: "code",
        url: connect.challenge!.url!,
        code: connect.challenge!.code!,
        shots: { dir, prefix: "connect" },
      });
      assert(consented.ok, consented.error);
      assertEquals(consented.shown, connect.challenge!.code);
      assertEquals(consented.auth0Heading, "Connect google-oauth2");
      assertEquals(w.broker.session(connect.challenge!.code!)?.status, "ready");
      w.advance(6_000);

      const done = await w.agent();
      assert(done.ok && done.messages! > 0, JSON.stringify(done));
      assertEquals(w.auth0.accounts().length, 1);
      for (const name of ["login-broker", "login-auth0", "connect-broker", "connect-auth0"]) {
        assert((await Deno.stat(`${dir}/${name}.png`)).size > 0, `${name}.png written`);
      }
    } finally {
      if (!keep) await Deno.remove(dir, { recursive: true });
    }
  },
});
