/**
 * The frame of a browser script (a person's steps in headless Chromium, run as its own process
 * by `browser.ts`): read the JSON input on stdin, launch Chromium, open one page, run the steps,
 * print one JSON line, close the browser.
 *
 * @example
 * ```ts
 * import { runPageScript } from "./browser_page.ts";
 * await runPageScript<{ url: string; chromium?: string }, { heading?: string }>(
 *   async (page, input) => {
 *     await page.goto(input.url);
 *     return { heading: await page.textContent("h1") ?? undefined };
 *   },
 * );
 * ```
 * @module
 */
import { chromium, type Page } from "playwright-core";

/** Flags: headless, no sandbox (containers), nothing in the background, no QUIC. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // The emulators use a throwaway CA that this browser profile does not know.
  "--ignore-certificate-errors",
];

/**
 * Read the input (JSON on stdin), launch Chromium (`input.chromium`, default
 * `/usr/bin/chromium`, {@link CHROMIUM_FLAGS}), open an 800×640 page with a 15 s default
 * timeout, run `steps` on it and print one JSON line: `{ ok: true, ...what steps returned }`, or
 * `{ ok: false, error }` when a step throws. The browser is closed either way.
 */
export async function runPageScript<I extends { chromium?: string }, O extends object>(
  steps: (page: Page, input: I) => Promise<O>,
): Promise<void> {
  const input: I = JSON.parse(await new Response(Deno.stdin.readable).text());
  const browser = await chromium.launch({
    executablePath: input.chromium ?? "/usr/bin/chromium",
    args: [...CHROMIUM_FLAGS],
  });
  let out: { ok: boolean; error?: string };
  try {
    const page = await browser.newPage({ viewport: { width: 800, height: 640 } });
    page.setDefaultTimeout(15_000);
    out = { ok: true, ...await steps(page, input) };
  } catch (e) {
    out = { ok: false, error: String(e) };
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}
