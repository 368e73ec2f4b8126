/**
 * The mcs double flow (login, then Connected Accounts consent) through a real `mcs broker serve`
 * process, HTTPS with a throwaway CA, against the Auth0 tenant and Gmail emulators: each agent
 * step its own process sharing only the cache directory. With plain HTTP person steps the broker
 * is restarted at both waits (a ready session not yet polled, a pending one not yet confirmed)
 * and nothing is lost; with headless Chromium the person does the steps on the broker's pages.
 * The broker's log never shows a code, a token or the API key.
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { chromium } from "../support/browser.ts";
import { testRequiring } from "../support/requires.ts";
import { chainWorld, personInBrowser } from "../chain/_world.ts";

/** No code, poll/connect token, API key or client secret in the broker's log. */
function assertLogClean(log: string, codes: string[], secret: string) {
  assert(/POST \/v1\/sessions 201/.test(log), `the log has request lines:\n${log}`);
  for (const c of codes) {
    assert(!log.includes(c) && !log.includes(c.replace("-", "")), `code ${c} in the log`);
  }
  assert(!/pt_|ct_|wt_|cs_|chain-agent-key/.test(log), `a token or key in the log:\n${log}`);
  assert(!log.includes(secret), "the client secret in the log");
}

Deno.test("mcs broker serve: double flow with a broker restart at each wait loses nothing", async () => {
  await using w = await chainWorld({ brokerProcess: true });
  const b = w.brokerProcess!;
  const login = await w.agentAsks("login", async (c) => {
    assertEquals(c.url, `${b.url}/connect/${c.code}`);
    await w.personSignsIn(c.code);
    await b.restart(); // the session is ready, not yet polled
  });
  const connect = await w.agentAsks("connect", async (c) => {
    await b.restart(); // the connect session is pending
    await w.personConnects(c.code);
  });
  await w.agentReads();
  assertEquals(w.auth0.accounts().length, 1);
  const metrics = await (await fetch(`${b.url}/metrics`, { client: w.client })).text();
  assert(/mcs_broker_sessions_consumed_total 1\n/.test(metrics), metrics); // since the restart
  assertLogClean(b.log(), [login.challenge!.code!, connect.challenge!.code!], w.auth0.clientSecret);
});

testRequiring(chromium, {
  name: "mcs broker serve with a real browser: sign in, consent, then the agent reads Gmail",
  async fn() {
    await using w = await chainWorld({ brokerProcess: true });
    const dir = await Deno.makeTempDir({ prefix: "mcs-broker-shots-" });
    try {
      const login = await w.agentAsks(
        "login",
        personInBrowser("link", "Log in to mcs", { dir, prefix: "login" }),
      );
      const connect = await w.agentAsks(
        "connect",
        personInBrowser("code", "Connect google-oauth2", { dir, prefix: "connect" }),
      );
      await w.agentReads();
      assertLogClean(
        w.brokerProcess!.log(),
        [login.challenge!.code!, connect.challenge!.code!],
        w.auth0.clientSecret,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("mcs broker serve: a denied consent gives the agent a fresh challenge at once", async () => {
  await using w = await chainWorld({ brokerProcess: true });
  await w.agentAsks("login");
  const connect = await w.agentAsks("connect", async (c) => {
    const denied = await w.personDeniesConsent(c.code);
    assertEquals(denied, {
      status: 302,
      location: `${w.brokerUrl()}/connect/${c.code}?status=denied`,
    });
  });
  // Not a wait until the session's TTL: the next run starts a new consent with a new code.
  const again = await w.agent();
  assertEquals(again.challenge?.step, "connect", JSON.stringify(again));
  assert(again.challenge!.code !== connect.challenge!.code, "a fresh code");
});

Deno.test("mcs broker serve: every Auth0 call relayed through /v1/proxy (MCS_BROKER_ALLOW_PRIVATE=1 for the loopback tenant)", async () => {
  await using w = await chainWorld({
    brokerProcess: true,
    viaBroker: true,
    brokerEnv: { MCS_BROKER_ALLOW_PRIVATE: "1" },
  });
  await w.agentAsks("login");
  await w.agentAsks("connect");
  await w.agentReads();
  const metrics = await (await fetch(`${w.brokerUrl()}/metrics`, { client: w.client })).text();
  assert(/mcs_broker_proxy_calls_total\{outcome="relayed"\} [1-9]/.test(metrics), metrics);
});
