/**
 * The person of an `auth0-oauth` step, in a real headless Chromium (run by
 * `loopbackPerson` in `browser.ts`): reads `{url, chromium}` as JSON on stdin, opens the Auth0
 * page at `url` (the PKCE authorize URL or the Connected Accounts consent URL), notes its
 * heading, approves, and waits for the redirect to the loopback callback (`http://127.0.0.1:…`)
 * and its page. Prints one JSON line: a {@link LoopbackPersonOutput}.
 *
 * @example
 * ```sh
 * echo '{"url":"https://127.0.0.1:1/authorize?client_id=x"}' |
 *   deno run -A tests/support/loopback_person.ts
 * ```
 * @module
 */
import { chromium } from "playwright-core";
import type { LoopbackPersonOutput } from "./browser.ts";

const input: { url: string; chromium?: string } = JSON.parse(
  await new Response(Deno.stdin.readable).text(),
);
const browser = await chromium.launch({
  executablePath: input.chromium ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // The emulators use a throwaway CA that this browser profile does not know.
    "--ignore-certificate-errors",
  ],
});
let out: LoopbackPersonOutput;
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 640 } });
  page.setDefaultTimeout(15_000);
  await page.goto(input.url);
  await page.waitForSelector("#approve");
  const auth0Heading = await page.textContent("h1") ?? undefined;
  await page.click("#approve");
  await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
  const callbackHeading = await page.textContent("h1") ?? undefined;
  out = { ok: true, auth0Heading, callbackHeading, final: page.url().split("?")[0] };
} catch (e) {
  out = { ok: false, error: String(e) };
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
