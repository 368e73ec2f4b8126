/**
 * The client does not depend on the LinkAuth emulator's guesses (`lib/emulators/GUESSES.md`):
 * each guessed shape the agent can meet is tried in at least two variants, the emulator's and
 * another a real broker could send, and the client reacts the same way to both.
 * @module
 */
import { assertEquals, assertRejects, assertStringIncludes } from "../support/assert.ts";
import { AuthChallenge } from "../../lib/auth/types.ts";
import { ConfigError } from "../../lib/errors.ts";
import type { FetchLike } from "../../lib/net/types.ts";
import { linkAuthWorld } from "../support/emulators.ts";

Deno.test("guess 13: any 400 on create is linkauth_session_rejected, whatever its title", async () => {
  await using env = await linkAuthWorld({ allowedHosts: ["127.0.0.1"] });
  // The emulator's own title (hole 8): a passthrough URL off the allowlist.
  const e1 = await assertRejects(
    () =>
      env.connector.authenticate({
        scope: "gmail:connect",
        url: "https://elsewhere.example/connect?ticket=t",
        callbackParams: ["connect_code"],
        state: "s",
      }),
    ConfigError,
  );
  assertEquals(e1.code, "linkauth_session_rejected");
  assertStringIncludes(e1.message, "Invalid Authorize URL");
  // The reference's title: an unknown template.
  const e2 = await assertRejects(
    () =>
      env.make({ login: { oauthProvider: null, template: "no-such" } })
        .authenticate({ scope: "svc" }),
    ConfigError,
  );
  assertEquals(e2.code, "linkauth_session_rejected");
  assertStringIncludes(e2.message, "Invalid Template");
});

Deno.test("a 429 on poll slows down with or without the slow_down type and interval", async () => {
  // Variant 1: the reference's slow_down problem (interval 10). Variant 2: a bare 429 with no
  // problem body at all: the client falls back to interval + 5.
  for (const bare of [false, true]) {
    let calls = 0;
    const fetch: FetchLike = async (input, init) => {
      const res = await globalThis.fetch(input, init);
      if (!/\/v1\/sessions\/[0-9a-f]{64}$/.test(String(input))) return res;
      calls++;
      if (calls !== 2) return res;
      await res.body?.cancel();
      return bare ? new Response("Too Many Requests", { status: 429 }) : new Response(
        JSON.stringify({
          type: "urn:ietf:params:oauth:error:slow_down",
          title: "Slow Down",
          status: 429,
          detail: "Polling too frequently. Increase your polling interval.",
          interval: 10,
        }),
        { status: 429, headers: { "content-type": "application/problem+json" } },
      );
    };
    await using env = await linkAuthWorld({}, { fetch, pollMarginMs: 0 });
    const first = await assertRejects(
      () => env.connector.authenticate({ scope: "gmail" }),
      AuthChallenge,
    );
    env.clock.t += 5_000;
    await assertRejects(() => env.connector.authenticate({ scope: "gmail" }), AuthChallenge);
    env.clock.t += 5_000;
    const slowed = await assertRejects(
      () => env.connector.authenticate({ scope: "gmail" }),
      AuthChallenge,
    );
    assertEquals([slowed.userCode, slowed.retryAfterS], [first.userCode, 10], `bare=${bare}`);
  }
});
