/**
 * Two people at once in headless Chromium against one `mcs serve` in team mode: each gets their
 * own link and code through `POST /tools/list_labels`, does both steps (sign-in, then the
 * Connected Accounts consent) in their own browser at the same time as the other, and then gets
 * their own result. The page each person sees shows their own code.
 *
 * Skipped when Chromium is absent (see `tests/support/browser.ts`).
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "../support/assert.ts";
import { testStack } from "../support/stack.ts";
import { browserPerson, chromium } from "../support/browser.ts";
import { testRequiring } from "../support/requires.ts";
import { asUser, startServe } from "./_serve.ts";

const SECRET = "openwebui-jwt-secret-browser-0123456789";

testRequiring(chromium, {
  name: "mcs serve team mode: two people sign in at once in Chromium, each to their own flow",
  async fn() {
    await using stack = await testStack({ dir: "mcs-serve-browser-" });
    const cache = stack.dir;
    await using srv = await startServe({
      ...stack.env,
      MCS_CACHE_DIR: cache,
      MCS_SERVE_USER_JWT_SECRET: SECRET,
    });
    const people = ["ada", "grace"];
    const call = async (user: string) =>
      await (await srv.post("/tools/list_labels", {}, await asUser(SECRET, user))).json();

    for (const step of ["login", "connect"]) {
      const challenges = await Promise.all(people.map(call));
      for (const c of challenges) {
        assertEquals([c.auth_required, c.step], [true, step], JSON.stringify(c));
      }
      assertNotEquals(challenges[0].code, challenges[1].code);
      // Both people at once: one by the link, one by typing the code.
      const seen = await Promise.all(
        challenges.map((c, i) =>
          browserPerson({ entry: i === 0 ? "link" : "code", url: c.url, code: c.code })
        ),
      );
      seen.forEach((s, i) => {
        assert(s.ok, s.error);
        assertEquals(s.shown, challenges[i].code, "each person sees their own code");
      });
      await new Promise((r) => setTimeout(r, 1_100)); // the broker's poll interval
    }
    const results = await Promise.all(people.map(call));
    for (const r of results) assert(Array.isArray(r.labels), JSON.stringify(r));
  },
});
