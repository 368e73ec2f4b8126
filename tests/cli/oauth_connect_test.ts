/**
 * `auth0-oauth` from nothing through the real CLI: `mcs auth login --wait` signs in AND connects
 * the Gmail account (the Connected Accounts consent), both through the one loopback callback on
 * the configured port, with the test playing the browser (approve at the Auth0 emulator, then
 * request the redirect location). No `connectAccount()` shortcut. Then a new process uses the
 * result. With port 0 (ephemeral) the sign-in works but the consent cannot, and says how to fix
 * it.
 * @module
 */

import { type Stack, startStack } from "../../lib/emulators/stack.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { doc, type LiveMcs, mcs, spawnMcs } from "./_mcs.ts";
import { freePort } from "../support/ports.ts";

/** `auth0-oauth` settings for the stack, with a fresh cache directory. */
function oauthEnv(stack: Stack, cacheDir: string, port: string): Record<string, string> {
  return {
    MCS_AUTH: "auth0-oauth",
    MCS_AUTH0_DOMAIN: stack.env.MCS_AUTH0_DOMAIN,
    MCS_AUTH0_CLIENT_ID: stack.env.MCS_AUTH0_CLIENT_ID,
    MCS_AUTH0_CLIENT_SECRET: stack.env.MCS_AUTH0_CLIENT_SECRET,
    MCS_AUTH0_CALLBACK_PORT: port,
    MCS_GMAIL_API_BASE: stack.env.MCS_GMAIL_API_BASE,
    MCS_CA_FILE: stack.env.MCS_CA_FILE,
    MCS_CACHE_DIR: cacheDir,
  };
}

/**
 * The person's browser for the next URL the CLI prints on stderr whose path is `path`: approve
 * at the emulator, then follow the redirect to the loopback callback. Returns the redirect.
 */
async function browse(stack: Stack, live: LiveMcs, path: string): Promise<URL> {
  const re = new RegExp(`open (https://\\S+${path}\\?\\S+)`);
  const url = (await live.waitFor(re))?.[1];
  assert(url, `no ${path} URL on stderr: ${live.stderr}`);
  const { location } = await stack.auth0.approve(url);
  const res = await fetch(location);
  await res.body?.cancel();
  assertEquals(res.status, 200, `the loopback callback took the redirect ${location}`);
  return new URL(location);
}

Deno.test("auth0-oauth: auth login --wait signs in and connects the account", async (t) => {
  const stack = await startStack();
  const dirs: string[] = [];
  const tmp = async () => {
    const d = await Deno.makeTempDir({ prefix: "mcs-oauth-" });
    dirs.push(d);
    return d;
  };
  try {
    assertEquals(stack.auth0.accounts().length, 0, "no connected account yet");

    await t.step(
      "port 0: the sign-in works, the consent is a config error saying what to do",
      async () => {
        const env = oauthEnv(stack, await tmp(), "0");
        const live = spawnMcs(["auth", "login", "--wait", "--json"], { env });
        const back = await browse(stack, live, "/authorize");
        assertEquals(back.hostname, "127.0.0.1");
        const done = await live.finish();
        assertEquals(done.code, 3, done.stdout + done.stderr);
        const error = doc(done).error;
        assertEquals(error.code, "oauth_callback_port_required");
        assertStringIncludes(error.message, "MCS_AUTH0_CALLBACK_PORT");
        assertStringIncludes(error.message, "--callback-port");
        assertMatchesCallbackUrl(error.message);
        assertEquals(consentsStarted(stack), 0, "no consent was started");
        // A later non-interactive run (refresh token now stored) says the same, not "run login".
        const again = await mcs(["exec", "list_labels"], { env });
        assertEquals(again.code, 3, again.stdout + again.stderr);
        assertEquals(doc(again).error.code, "oauth_callback_port_required");
        assertEquals(stack.auth0.accounts().length, 0);
      },
    );

    await t.step("fixed port: sign-in and consent through one callback URL", async () => {
      const port = freePort();
      const env = oauthEnv(stack, await tmp(), String(port));
      const callback = `http://127.0.0.1:${port}/callback`;
      const live = spawnMcs(["auth", "login", "--wait", "--json"], { env });
      const login = await browse(stack, live, "/authorize");
      assertEquals(`${login.origin}${login.pathname}`, callback);
      assert(login.searchParams.has("code"), "the sign-in redirect carries a code");
      const consent = await browse(stack, live, "/connect");
      assertEquals(`${consent.origin}${consent.pathname}`, callback);
      assert(consent.searchParams.has("connect_code"), "the consent redirect carries connect_code");
      const done = await live.finish();
      assertEquals(done.code, 0, done.stdout + done.stderr);
      assertEquals(JSON.parse(done.stdout).result.account, stack.auth0.user.email);
      assertEquals(stack.auth0.accounts().length, 1, "the account is connected");
      assertEquals(consentsStarted(stack), 1);

      const after = await mcs(["exec", "list_labels"], { env });
      assertEquals(after.code, 0, after.stdout + after.stderr);
      assert(doc(after).result.labels.some((l: { id: string }) => l.id === "INBOX"));
    });
  } finally {
    await stack.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
});

/** My Account API `/connected-accounts/connect` calls the emulator has seen. */
function consentsStarted(stack: Stack): number {
  return stack.auth0.requests.filter((r) => r.path.endsWith("/connected-accounts/connect"))
    .length;
}

/** The message names an exact loopback callback URL to register. */
function assertMatchesCallbackUrl(message: string): void {
  assert(
    /http:\/\/127\.0\.0\.1:[1-9]\d*\/callback/.test(message),
    `no callback URL to register in: ${message}`,
  );
}
