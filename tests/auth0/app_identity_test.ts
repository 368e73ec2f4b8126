/**
 * Identity through the composition root (issue 10, defect 2): the Gmail label map cached by one
 * `MCS_AUTH0_REFRESH_TOKEN` is never read by another one with a warm cache; each account's
 * map comes from its own Gmail call.
 * @module
 */
import { buildApp } from "../../lib/app/mod.ts";
import { toolRunner } from "../../lib/mcp/runner.ts";
import { resolveConfig } from "../../lib/config/resolve.ts";
import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { GoogleTokenRegistry } from "../../lib/emulators/google_tokens.ts";
import { assert } from "../support/assert.ts";

/** The label names one account sees, through the CLI's App or the MCP server's tool runner. */
type LabelsAs = (config: Awaited<ReturnType<typeof resolveConfig>>) => Promise<string[]>;

const throughApp: LabelsAs = async (config) => {
  const app = await buildApp(config);
  try {
    return (await (await app.gmail()).listLabels()).map((l) => l.name);
  } finally {
    app.close();
  }
};

const throughMcpRunner: LabelsAs = async (config) => {
  const runner = toolRunner(() => Promise.resolve(config));
  try {
    const result = await runner.call("list_labels", {}) as { labels: { name: string }[] };
    return result.labels.map((l) => l.name);
  } finally {
    runner.close();
  }
};

for (
  const [via, labelsOf] of [["buildApp", throughApp], ["the MCP runner", throughMcpRunner]] as const
) {
  Deno.test(`identity (${via}): another refresh token does not read the previous one's cached label map`, async () => {
    const googleTokens = new GoogleTokenRegistry();
    const auth0 = await startAuth0Emulator({ googleTokens });
    const gmail = await startGmailEmulator({ googleTokens, seed: true });
    const dir = await Deno.makeTempDir({ prefix: "mcs-app-identity-" });
    try {
      auth0.connectAccount();
      const labelsAs = async (refreshToken: string) => {
        const vars: Record<string, string> = {
          MCS_AUTH: "auth0",
          MCS_AUTH0_DOMAIN: auth0.url,
          MCS_AUTH0_CLIENT_ID: auth0.clientId,
          MCS_AUTH0_CLIENT_SECRET: auth0.clientSecret,
          MCS_AUTH0_REFRESH_TOKEN: refreshToken,
          MCS_GMAIL_API_BASE: gmail.url,
          MCS_CACHE_DIR: dir,
          MCS_CONFIG: `${dir}/absent.toml`,
        };
        return await labelsOf(await resolveConfig({ env: { get: (n) => vars[n] } }));
      };
      const first = auth0.issueRefreshToken();
      assert(!(await labelsAs(first)).includes("Fresh"));
      gmail.mailbox.addLabel("Fresh");
      // The same token: its own cached map (proves the cache is warm).
      assert(!(await labelsAs(first)).includes("Fresh"), "the first identity's map is cached");
      // Another token: never the first one's map.
      assert((await labelsAs(auth0.issueRefreshToken())).includes("Fresh"), "read another's map");
    } finally {
      await gmail.close();
      await auth0.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
