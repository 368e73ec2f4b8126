/**
 * End to end with a real browser: the agent (its own process per step) raises a challenge, a
 * person in headless Chromium enters the code at the broker emulator and signs in at the Auth0
 * emulator, and the agent's next step receives the refresh token.
 *
 * Needs `apt-get install -y chromium` (Debian) and the playwright-core npm package. Skipped with
 * a note when /usr/bin/chromium (or $CHROMIUM_PATH) is absent.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { startLinkAuthBroker } from "../../lib/emulators/linkauth/mod.ts";
import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

async function run(script: string, env: Record<string, string>, allowAll = false) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...(allowAll
        ? ["-A"]
        : ["--allow-net=127.0.0.1", "--allow-read", "--allow-write", "--allow-env"]),
      script,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  assert(out.success && text, new TextDecoder().decode(out.stderr));
  return JSON.parse(text);
}

Deno.test({
  name: "a person signs in through a real browser; the agent's next poll gets the token",
  ignore: !hasChromium,
  async fn() {
    const auth0 = await startAuth0Emulator();
    const broker = await startLinkAuthBroker({
      pollInterval: 1,
      providers: {
        auth0: {
          authorizeUrl: `${auth0.url}/authorize`,
          tokenUrl: `${auth0.url}/oauth/token`,
          clientId: auth0.clientId,
          clientSecret: auth0.clientSecret,
        },
      },
    });
    const dir = await Deno.makeTempDir({ prefix: "mcs-linkauth-browser-" });
    const agentEnv = { MCS_TEST_BROKER: broker.url, MCS_TEST_CACHE: dir, MCS_TEST_SCOPE: "gmail" };
    try {
      const first = await run(fixture("agent.ts"), agentEnv);
      assert(first.challenge, JSON.stringify(first));
      const person = await run(fixture("browser_person.ts"), {
        PERSON_CONNECT_URL: `${broker.url}/connect`,
        PERSON_CODE: first.challenge.code,
        CHROMIUM_PATH: CHROMIUM,
      }, true);
      assert(person.ok, person.error);
      assertEquals(person.shown, first.challenge.code);
      assertEquals(broker.session(first.challenge.code)?.status, "ready");
      // The agent polls no faster than the interval: wait it out, then the next step decrypts.
      await new Promise((r) => setTimeout(r, 1_600));
      const second = await run(fixture("agent.ts"), agentEnv);
      assertEquals(second.result?.credential?.kind, "refresh_token", JSON.stringify(second));
    } finally {
      await Promise.all([broker.close(), auth0.close()]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
