/**
 * The `auth0-linkauth` double flow with a real browser: each agent step is its own process; the
 * person, in headless Chromium, opens the login link, confirms the code and signs in at the
 * emulated Auth0 tenant; then types the connect code at the broker, confirms it and allows the
 * Connected Accounts consent; the agent's next call gets the Gmail token and searches the mailbox.
 *
 * Needs `apt-get install -y chromium` (Debian) and the playwright-core npm package; skipped when
 * /usr/bin/chromium (or $CHROMIUM_PATH) is absent. Screenshots of the broker and Auth0 pages are
 * kept in $MCS_CHAIN_SHOTS when set (for a person to look at), else in a temp dir removed after.
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { chainWorld } from "./_world.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
const PERSON = new URL("./fixtures/browser_person.ts", import.meta.url).pathname;

interface PersonOutput {
  ok: boolean;
  error?: string;
  shown?: string;
  auth0Heading?: string;
  final?: string;
}

/** The person's browser session, as its own `deno run -A` process (playwright-core needs it). */
async function person(
  mode: "login" | "connect",
  challenge: { url?: string; code?: string },
  shots: string,
): Promise<PersonOutput> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "-A", PERSON],
    env: {
      PERSON_MODE: mode,
      PERSON_URL: challenge.url!,
      PERSON_CODE: challenge.code!,
      PERSON_SHOTS: shots,
      CHROMIUM_PATH: CHROMIUM,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  assert(out.success && text, new TextDecoder().decode(out.stderr));
  return JSON.parse(text);
}

Deno.test({
  name: "auth0-linkauth with a real browser: sign in, consent, then the agent reads Gmail",
  ignore: !hasChromium,
  async fn() {
    await using w = await chainWorld();
    const keep = Deno.env.get("MCS_CHAIN_SHOTS");
    const shots = keep ?? await Deno.makeTempDir({ prefix: "mcs-chain-shots-" });
    if (keep) await Deno.mkdir(keep, { recursive: true });
    try {
      const login = await w.agent();
      assertEquals(login.challenge?.step, "login", JSON.stringify(login));
      const signedIn = await person("login", login.challenge!, shots);
      assert(signedIn.ok, signedIn.error);
      assertEquals(signedIn.shown, login.challenge!.code);
      assertEquals(signedIn.auth0Heading, "Log in to mcs");
      assertEquals(w.broker.session(login.challenge!.code!)?.status, "ready");
      w.advance(6_000);

      const connect = await w.agent();
      assertEquals(connect.challenge?.step, "connect", JSON.stringify(connect));
      const consented = await person("connect", connect.challenge!, shots);
      assert(consented.ok, consented.error);
      assertEquals(consented.shown, connect.challenge!.code);
      assertEquals(consented.auth0Heading, "Connect google-oauth2");
      assertEquals(w.broker.session(connect.challenge!.code!)?.status, "ready");
      w.advance(6_000);

      const done = await w.agent();
      assert(done.ok && done.messages! > 0, JSON.stringify(done));
      assertEquals(w.auth0.accounts().length, 1);
      for (const name of ["login-broker", "login-auth0", "connect-broker", "connect-auth0"]) {
        assert((await Deno.stat(`${shots}/${name}.png`)).size > 0, `${name}.png written`);
      }
    } finally {
      if (!keep) await Deno.remove(shots, { recursive: true });
    }
  },
});
