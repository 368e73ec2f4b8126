/**
 * The person in a real browser, for end-to-end tests: whether headless Chromium is installed,
 * and {@link browserPerson}, which runs `browser_person.ts` as its own `deno run -A` process
 * (playwright-core needs more than the `test` permission set grants) and returns what it saw.
 *
 * Needs `apt-get install -y chromium` (Debian) and the playwright-core npm package; tests declare
 * {@link chromium} as a requirement (skipped without it, failed under CI).
 *
 * @example
 * ```ts
 * import { browserPerson, chromium } from "./browser.ts";
 * import { testRequiring } from "./requires.ts";
 * testRequiring(chromium, { name: "sign in", async fn() {
 *   const seen = await browserPerson({ entry: "code", url: "https://127.0.0.1:1", code: "ABCD-1234" });
 *   // seen.ok, seen.shown (the code on the page), seen.auth0Heading, seen.final
 * } });
 * ```
 * @module
 */
import { runDenoJson } from "./process.ts";
import { type Requirement, requires } from "./requires.ts";

/** The Chromium binary ($CHROMIUM_PATH, default `/usr/bin/chromium`). */
export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
/**
 * Whether the browser tests run: {@link CHROMIUM} exists, or `MCS_REQUIRE_BROWSER=1` (set by
 * `.ci/run`), so that in CI a missing browser fails the tests instead of skipping them.
 */
export const hasChromium = Deno.env.get("MCS_REQUIRE_BROWSER") === "1" ||
  await Deno.stat(CHROMIUM).then(() => true, () => false);

/** The browser tests' requirement: skipped without Chromium, failed under CI (`.ci/run` installs it). */
export const chromium: Requirement = requires("chromium", hasChromium, {
  reason: `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
});

const PERSON = new URL("./browser_person.ts", import.meta.url).pathname;

/** What the person does (read by `browser_person.ts` on stdin). */
export interface PersonInput {
  /**
   * `link`: open `url` (the challenge's `/connect/{code}` link, which shows the code);
   * `code`: open the broker's code-entry page (`/connect` on `url`'s origin) and type `code`.
   */
  entry: "link" | "code";
  url: string;
  code: string;
  /** Save `<prefix>-broker.png` and `<prefix>-auth0.png` into `dir`. */
  shots?: { dir: string; prefix: string };
  /** The browser binary (default {@link CHROMIUM}). */
  chromium?: string;
}

/** What the person saw: the code shown at the broker, the Auth0 page's heading, the last URL. */
export interface PersonOutput {
  ok: boolean;
  error?: string;
  shown?: string;
  auth0Heading?: string;
  final?: string;
}

/**
 * The person confirms the code at the broker, continues to the Auth0 tenant, approves there
 * (sign-in or Connected Accounts consent) and lands on the broker's success page.
 */
export function browserPerson(input: PersonInput): Promise<PersonOutput> {
  return runDenoJson<PersonOutput>(PERSON, {
    perms: ["-A"],
    input: { chromium: CHROMIUM, ...input },
  });
}

/** What the person of a loopback step saw: the Auth0 page's heading, the callback page's. */
export interface LoopbackPersonOutput {
  ok: boolean;
  error?: string;
  auth0Heading?: string;
  callbackHeading?: string;
  /** The callback URL without its query. */
  final?: string;
}

const LOOPBACK_PERSON = new URL("./loopback_person.ts", import.meta.url).pathname;

/**
 * The person of an `auth0-oauth` step: opens `url` (authorize or consent) in Chromium,
 * approves at the Auth0 emulator and lands on the loopback callback's page.
 */
export function loopbackPerson(url: string): Promise<LoopbackPersonOutput> {
  return runDenoJson<LoopbackPersonOutput>(LOOPBACK_PERSON, {
    perms: ["-A"],
    input: { chromium: CHROMIUM, url },
  });
}
