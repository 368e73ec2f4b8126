/**
 * Each agent step runs as a separate process sharing only the cache directory, against the
 * broker emulator and the Auth0 emulator, with one fake clock passed down to every process:
 * challenge, pickup, refused second pickup, expiry, and the rejections (tampered envelope,
 * wrong algorithm, wrong key) and the slow_down answer, each across process boundaries.
 */
import { assert, assertEquals, assertNotEquals, assertStringIncludes } from "../support/assert.ts";
import { startLinkAuthBroker } from "../../lib/emulators/linkauth/mod.ts";
import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";
import { FileCacheStore } from "../../lib/cache/file_store.ts";
import { encryptEnvelope, generateAgentKey } from "../../lib/auth/linkauth/crypto.ts";
import { auth0Provider } from "../support/emulators.ts";
import { runDenoJson } from "../support/process.ts";

const AGENT = new URL("./fixtures/agent.ts", import.meta.url).pathname;

interface StepOutput {
  result?: { kind: string; credential?: { kind: string; value: string } };
  challenge?: { url: string; code: string; message: string; retryAfterS: number };
  error?: { code: string; message: string };
}

Deno.test("stateless agent steps across processes", async (t) => {
  const clock = { t: Date.now() };
  const now = () => clock.t;
  const auth0 = await startAuth0Emulator({ now });
  const broker = await startLinkAuthBroker({
    now,
    apiKeys: ["agent-key"],
    providers: { auth0: auth0Provider(auth0) },
  });
  const dir = await Deno.makeTempDir({ prefix: "mcs-linkauth-" });
  const step = async (scope = "gmail", extra: Record<string, string> = {}): Promise<StepOutput> => {
    return await runDenoJson<StepOutput>(AGENT, {
      perms: [
        "--allow-net=127.0.0.1",
        `--allow-read=${dir},${Deno.cwd()}`,
        `--allow-write=${dir}`,
        "--allow-env",
      ],
      env: {
        MCS_TEST_BROKER: broker.url,
        MCS_TEST_CACHE: dir,
        MCS_TEST_NOW: String(clock.t),
        MCS_TEST_SCOPE: scope,
        MCS_TEST_API_KEY: "agent-key",
        ...extra,
      },
    });
  };
  /** What the person does in the browser, as plain HTTP: confirm, sign in at Auth0. */
  const personSignsIn = async (code: string) => {
    const { connect_token } =
      await (await fetch(`${broker.url}/v1/connect/${code}/confirm`, { method: "POST" })).json();
    const go = await fetch(
      `${broker.url}/v1/oauth/authorize/${code}?connect_token=${connect_token}`,
      { redirect: "manual" },
    );
    await go.body?.cancel();
    const { location } = await auth0.approve(go.headers.get("location")!);
    const back = await fetch(location, { redirect: "manual" });
    await back.body?.cancel();
    assertEquals(back.headers.get("location"), `${broker.url}/connect/${code}?status=success`);
  };

  try {
    let code = "";
    let pollToken = "";
    await t.step("first call raises a challenge with URL and code", async () => {
      const out = await step();
      assert(out.challenge, JSON.stringify(out));
      code = out.challenge.code;
      assertEquals(out.challenge.url, `${broker.url}/connect/${code}`);
      assertStringIncludes(out.challenge.message, code);
      const mode = (await Deno.stat(dir)).mode! & 0o777;
      assertEquals(mode, 0o700);
      const store = new FileCacheStore(dir, { now });
      const session = await store.get<{ poll_token: string }>("linkauth/session/login.gmail");
      pollToken = session!.poll_token;
      assert(await store.get("linkauth/agent_key"), "private key persisted");
    });

    await t.step(
      "a rerun right after the person signed in gets the token, not the challenge",
      async () => {
        await personSignsIn(code);
        clock.t += 1_000; // before the next poll is due: the step waits it out and polls
        const out = await step();
        assertEquals(out.result?.kind, "credential");
        assertEquals(out.result?.credential?.kind, "refresh_token");
        assert(out.result!.credential!.value.length > 10);
      },
    );

    await t.step("a second pickup is refused by the broker; the agent keeps its copy", async () => {
      clock.t += 6_000;
      const raw = await fetch(`${broker.url}/v1/sessions/${broker.session(code)!.sessionId}`, {
        headers: { authorization: `Bearer ${pollToken}`, "x-api-key": "agent-key" },
      });
      const body = await raw.json();
      assertEquals([body.status, body.ciphertext], ["consumed", null]);
      const out = await step();
      assertEquals(out.result?.credential?.kind, "refresh_token");
    });

    await t.step("an expired session yields a new challenge", async () => {
      const first = (await step("other")).challenge!;
      broker.expire(first.code);
      clock.t += 6_000;
      const next = (await step("other")).challenge!;
      assertNotEquals(next.code, first.code);
      assertStringIncludes(next.message, "expired");
    });

    await t.step("a tampered envelope is rejected cleanly with a new challenge", async () => {
      const first = (await step("third")).challenge!;
      const good = await encryptEnvelope(broker.session(first.code)!.publicKey, {
        refresh_token: "x",
      });
      broker.inject(first.code, good.slice(0, -8) + "AAAAAAA=");
      clock.t += 6_000;
      const next = await step("third");
      assert(next.challenge, JSON.stringify(next));
      assertNotEquals(next.challenge.code, first.code);
      assertStringIncludes(next.challenge.message, "could not be decrypted");
    });

    await t.step("a wrong algorithm identifier is rejected with a new challenge", async () => {
      const first = (await step("alg")).challenge!;
      const envelope = await encryptEnvelope(broker.session(first.code)!.publicKey, {
        refresh_token: "rt-PLAINTEXT",
      });
      broker.inject(first.code, envelope, "RSA1_5+A128CBC");
      clock.t += 6_000;
      const next = await step("alg");
      assert(next.challenge, JSON.stringify(next));
      assertNotEquals(next.challenge.code, first.code);
      assertStringIncludes(next.challenge.message, "unsupported format");
      assert(!next.challenge.message.includes("PLAINTEXT"));
    });

    await t.step("an envelope for another key is rejected with a new challenge", async () => {
      const first = (await step("key")).challenge!;
      const other = await generateAgentKey();
      broker.inject(first.code, await encryptEnvelope(other.spki, { refresh_token: "x" }));
      clock.t += 6_000;
      const next = await step("key");
      assert(next.challenge, JSON.stringify(next));
      assertNotEquals(next.challenge.code, first.code);
      assertStringIncludes(next.challenge.message, "could not be decrypted");
    });

    await t.step(
      "polling too fast is slowed, not failed; the next process honours it",
      async () => {
        // The agent is told interval 1 while the broker enforces its default of 5.
        const fast = { MCS_TEST_ADVERTISE_INTERVAL: "1", MCS_TEST_POLL_MARGIN_MS: "0" };
        const first = (await step("slow", fast)).challenge!;
        clock.t += 1_000;
        await step("slow", fast); // first poll: accepted, still pending
        const polled = broker.session(first.code)!.pollCount;
        assertEquals(polled, 1);
        clock.t += 1_000;
        const slowed = await step("slow", fast); // too soon for the broker: slow_down
        assert(slowed.challenge, JSON.stringify(slowed));
        assertEquals(slowed.challenge.code, first.code, "the same session, not a failure");
        assertEquals(slowed.challenge.retryAfterS, 10, "the interval the broker asked for");
        clock.t += 5_000;
        // A new process waits out the rest of the raised interval, then polls: accepted (a
        // 429 would not be counted), still pending.
        const waiting = await step("slow", fast);
        assertEquals(waiting.challenge?.code, first.code);
        assertEquals(broker.session(first.code)!.pollCount, polled + 1);
        await broker.complete(first.code, { refresh_token: "rt-slow" });
        clock.t += 5_000;
        const done = await step("slow", fast);
        assertEquals(done.result?.credential?.value, "rt-slow");
      },
    );
  } finally {
    await Promise.all([broker.close(), auth0.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});
