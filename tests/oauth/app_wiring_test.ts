import { assert, assertEquals, assertRejects, assertStringIncludes } from "../support/assert.ts";
import { type App, buildApp, type BuildOptions } from "../../lib/app/mod.ts";
import { resolveConfig } from "../../lib/config/resolve.ts";
import { mapEnv } from "../../lib/config/env.ts";
import { ConfigError, McsError } from "../../lib/errors.ts";
import { AuthChallenge } from "../../lib/auth/types.ts";

/** Build the auth0-oauth app for `env` (no network is touched), run `fn`, clean up. */
async function withOAuthApp(
  env: Record<string, string>,
  options: BuildOptions,
  fn: (app: App) => Promise<void>,
): Promise<void> {
  const cache = await Deno.makeTempDir({ prefix: "mcs-oauth-app-" });
  const config = await resolveConfig({
    env: mapEnv({
      MCS_AUTH: "auth0-oauth",
      MCS_AUTH0_DOMAIN: "http://127.0.0.1:9",
      MCS_AUTH0_CLIENT_ID: "client",
      MCS_AUTH0_CLIENT_SECRET: "secret",
      MCS_CACHE_DIR: cache,
      MCS_CONFIG: `${cache}/absent.toml`,
      ...env,
    }),
  });
  const app = await buildApp(config, options);
  try {
    await fn(app);
  } finally {
    app.close();
    await Deno.remove(cache, { recursive: true });
  }
}

function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}

Deno.test("auth0-oauth default: one callback URL on port 3000 for sign-in and consent", () =>
  withOAuthApp({}, {}, async (app) => {
    assertEquals(app.port?.callbackUrl, "http://127.0.0.1:3000/callback");
    // Non-interactive: the consent is a challenge to run `mcs auth login`, not a config error.
    const ch = await assertRejects(
      () => app.port!.authenticate({ scope: "gmail:connect", url: "http://x/", state: "s" }),
      AuthChallenge,
    );
    assertEquals(ch.step, "connect");
  }));

Deno.test("auth0-oauth, port 0: the consent callback is a ConfigError naming the setting and URL", () =>
  withOAuthApp({ MCS_AUTH0_CALLBACK_PORT: "0" }, {}, async (app) => {
    let error: unknown;
    try {
      app.port?.callbackUrl;
    } catch (e) {
      error = e;
    }
    assert(error instanceof ConfigError, String(error));
    assertEquals(error.code, "oauth_callback_port_required");
    assertStringIncludes(error.message, "MCS_AUTH0_CALLBACK_PORT");
    assertStringIncludes(error.message, "--callback-port");
    assertStringIncludes(error.message, "http://127.0.0.1:3000/callback");
    assertEquals(error.details?.callback_url, "http://127.0.0.1:3000/callback");
    const e2 = await assertRejects(
      () => app.port!.authenticate({ scope: "gmail:connect", url: "http://x/", state: "s" }),
      ConfigError,
    );
    assertEquals(e2.code, "oauth_callback_port_required");
    // The sign-in itself still needs no fixed port: a plain challenge.
    await assertRejects(() => app.port!.authenticate({ scope: "gmail" }), AuthChallenge);
  }));

Deno.test("auth0-oauth interactive: the URL is printed, then handed to the opener", async () => {
  const port = freePort();
  const events: string[] = [];
  await withOAuthApp(
    { MCS_AUTH0_CALLBACK_PORT: String(port) },
    {
      interactive: { timeoutMs: 50, onUrl: (url) => events.push(`print ${url}`) },
      openBrowser: (url) => events.push(`open ${url}`),
    },
    async (app) => {
      const e = await assertRejects(() => app.port!.authenticate({ scope: "gmail" }), McsError);
      assertEquals(e.code, "oauth_callback_timeout");
    },
  );
  assertEquals(events.length, 2, events.join("\n"));
  const url = events[0].replace(/^print /, "");
  assertEquals(events[1], `open ${url}`);
  const redirect = new URL(url).searchParams.get("redirect_uri");
  assertEquals(redirect, `http://127.0.0.1:${port}/callback`);
});
