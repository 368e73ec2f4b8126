/**
 * The broker's pages look right in headless Chromium: the code is shown, the page is not blank
 * (its screenshot carries far more than a blank page's), no console errors, no request leaves
 * the broker (no CDN), the confirm button and the form fields have accessible names, and the
 * denied view explains what happened, and so does the view of an OAuth callback opened in another
 * browser than the one that started it. Screenshots are kept in $MCS_BROKER_SHOTS when set.
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { CHROMIUM, chromium } from "../support/browser.ts";
import { runDenoJson } from "../support/process.ts";
import { testRequiring } from "../support/requires.ts";
import { brokerWorld } from "./_world.ts";
import type { ShotInput, ShotOutput } from "./fixtures/page_shot.ts";

const auth0 = (name: string) =>
  Promise.resolve(
    name === "auth0"
      ? {
        authorizeUrl: "https://tenant.example.test/authorize",
        tokenUrl: "https://tenant.example.test/oauth/token",
        clientId: "cid",
        clientSecret: "csecret",
      }
      : undefined,
  );
const SHOT = new URL("./fixtures/page_shot.ts", import.meta.url).pathname;

testRequiring(chromium, {
  name: "broker pages render: code visible, not blank, no console errors, no external requests",
  async fn() {
    await using w = await brokerWorld({ providers: auth0 });
    const s = await w.createSession({ template: "api_key" });
    // A sign-in started by another browser (this fetch), then called back in Chromium.
    const started = await w.createSession({ oauth_provider: "auth0" });
    const go = await w.authorize(started.code, await w.confirm(started.code));
    await go.body?.cancel();
    const state = new URL(go.headers.get("location")!).searchParams.get("state")!;
    const mismatchUrl = `${w.broker.url}/v1/oauth/callback?code=c1&state=${state}`;
    const keep = Deno.env.get("MCS_BROKER_SHOTS");
    const dir = keep ?? await Deno.makeTempDir({ prefix: "mcs-broker-page-" });
    if (keep) await Deno.mkdir(keep, { recursive: true });
    try {
      const seen = await runDenoJson<ShotOutput>(SHOT, {
        perms: ["-A"],
        input: {
          url: w.broker.url,
          code: s.code,
          dir,
          mismatchUrl,
          chromium: CHROMIUM,
        } satisfies ShotInput,
      });
      assert(seen.ok, seen.error);
      assertEquals(seen.shown, s.code);
      assertEquals(seen.consoleErrors, []);
      assertEquals(seen.foreignRequests, []);
      assert(
        seen.pageBytes! > 3 * seen.blankBytes!,
        `page ${seen.pageBytes} vs blank ${seen.blankBytes} bytes`,
      );
      assert(/codes match/i.test(seen.confirmName ?? ""), seen.confirmName);
      assert(seen.fieldLabelled, "the API Key field is found by its label");
      assert(/declined/.test(seen.deniedText ?? ""), seen.deniedText);
      assertEquals(seen.mismatchStatus, 400);
      assertEquals(seen.mismatchShown, ["mismatch"]);
      assert(/started in a different browser/.test(seen.mismatchText ?? ""), seen.mismatchText);
      assert(!(seen.mismatchText ?? "").includes(state), "the state on the page");
    } finally {
      if (!keep) await Deno.remove(dir, { recursive: true });
    }
  },
});
