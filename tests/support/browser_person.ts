/**
 * The person, in a real headless Chromium (run by `browserPerson` in `browser.ts`; the frame is
 * `browser_page.ts`): reads a {@link PersonInput} as JSON on stdin, reaches the broker's confirm
 * step (by the link, or by typing the code at the code-entry page), checks the code, confirms it,
 * continues to the Auth0 tenant (Universal Login or the Connected Accounts consent page),
 * approves, and waits for the broker's success page. Prints one JSON line: a
 * {@link PersonOutput}.
 *
 * @example
 * ```sh
 * echo '{"entry":"link","url":"https://127.0.0.1:1/connect/ABCD-1234","code":"ABCD-1234"}' |
 *   deno run -A tests/support/browser_person.ts
 * ```
 * @module
 */
import type { PersonInput, PersonOutput } from "./browser.ts";
import { runPageScript } from "./browser_page.ts";

await runPageScript<PersonInput, Omit<PersonOutput, "ok">>(async (page, input) => {
  const shot = async (name: string) => {
    if (input.shots) {
      await page.screenshot({ path: `${input.shots.dir}/${input.shots.prefix}-${name}.png` });
    }
  };
  if (input.entry === "link") {
    await page.goto(input.url);
  } else {
    await page.goto(new URL("/connect", input.url).href);
    await page.fill("#code-input", input.code.toLowerCase());
    await page.click("#enter-submit");
  }
  await page.waitForSelector("#confirm:not([hidden])"); // the code is shown once looked up
  const shown = await page.textContent("#code") ?? undefined;
  await shot("broker");
  await page.click("#confirm-button");
  await page.click("#oauth-link");
  await page.waitForSelector("#approve");
  const auth0Heading = await page.textContent("h1") ?? undefined;
  await shot("auth0");
  await page.click("#approve");
  await page.waitForURL(/\/connect\/[A-Z0-9-]+\?status=success$/);
  await page.waitForSelector("#success:not([hidden])");
  return { shown, auth0Heading, final: page.url() };
});
