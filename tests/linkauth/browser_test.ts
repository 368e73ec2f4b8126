/**
 * End to end with a real browser: the agent (its own process per step) raises a challenge, a
 * person in headless Chromium enters the code at the broker emulator and signs in at the Auth0
 * emulator, and the agent's next step receives the refresh token.
 *
 * Skipped when Chromium is absent (see `tests/support/browser.ts`).
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { browserPerson, chromium } from "../support/browser.ts";
import { testRequiring } from "../support/requires.ts";
import { auth0Provider } from "../support/emulators.ts";
import { runDenoJson } from "../support/process.ts";
import { startLinkAuthBroker } from "../../lib/emulators/linkauth/mod.ts";
import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";

const AGENT = new URL("./fixtures/agent.ts", import.meta.url).pathname;

/** One line of `fixtures/agent.ts`. */
interface AgentStep {
  result?: { credential?: { kind: string } };
  challenge?: { code: string };
}

testRequiring(chromium, {
  name: "a person signs in through a real browser; the agent's next poll gets the token",
  async fn() {
    const auth0 = await startAuth0Emulator();
    const broker = await startLinkAuthBroker({
      pollInterval: 1,
      providers: { auth0: auth0Provider(auth0) },
    });
    const dir = await Deno.makeTempDir({ prefix: "mcs-linkauth-browser-" });
    const agent = () =>
      runDenoJson<AgentStep>(AGENT, {
        perms: ["--allow-net=127.0.0.1", "--allow-read", "--allow-write", "--allow-env"],
        env: { MCS_TEST_BROKER: broker.url, MCS_TEST_CACHE: dir, MCS_TEST_SCOPE: "gmail" },
      });
    try {
      const first = await agent();
      assert(first.challenge, JSON.stringify(first));
      const { code } = first.challenge;
      const person = await browserPerson({ entry: "code", url: broker.url, code });
      assert(person.ok, person.error);
      assertEquals(person.shown, code);
      assertEquals(broker.session(code)?.status, "ready");
      // The agent polls no faster than the interval: wait it out, then the next step decrypts.
      await new Promise((r) => setTimeout(r, 1_600));
      const second = await agent();
      assertEquals(second.result?.credential?.kind, "refresh_token", JSON.stringify(second));
    } finally {
      await Promise.all([broker.close(), auth0.close()]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
