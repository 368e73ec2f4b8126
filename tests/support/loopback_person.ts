/**
 * The person of an `auth0-oauth` step, in a real headless Chromium (run by `loopbackPerson` in
 * `browser.ts`; the frame is `browser_page.ts`): reads `{url, chromium}` as JSON on stdin, opens
 * the Auth0 page at `url` (the PKCE authorize URL or the Connected Accounts consent URL), notes
 * its heading, approves, and waits for the redirect to the loopback callback
 * (`http://127.0.0.1:…`) and its page. Prints one JSON line: a {@link LoopbackPersonOutput}.
 *
 * @example
 * ```sh
 * echo '{"url":"https://127.0.0.1:1/authorize?client_id=x"}' |
 *   deno run -A tests/support/loopback_person.ts
 * ```
 * @module
 */
import type { LoopbackPersonOutput } from "./browser.ts";
import { runPageScript } from "./browser_page.ts";

await runPageScript<{ url: string; chromium?: string }, Omit<LoopbackPersonOutput, "ok">>(
  async (page, input) => {
    await page.goto(input.url);
    await page.waitForSelector("#approve");
    const auth0Heading = await page.textContent("h1") ?? undefined;
    await page.click("#approve");
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
    const callbackHeading = await page.textContent("h1") ?? undefined;
    return { auth0Heading, callbackHeading, final: page.url().split("?")[0] };
  },
);
