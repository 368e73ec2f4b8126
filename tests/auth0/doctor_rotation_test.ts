/**
 * Refresh-token rotation through the real CLI (issue 10, defect 1): on a tenant that rotates
 * refresh tokens, `mcs doctor` run twice and then a normal call all keep working, because
 * every rotated token is persisted before use and wins over the configured one it descends
 * from. Before the fix the first doctor spent `MCS_AUTH0_REFRESH_TOKEN`, the second reused it,
 * Auth0's reuse detection revoked the family and every later call exited 3.
 * @module
 */
import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { GoogleTokenRegistry } from "../../lib/emulators/google_tokens.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { doc, mcs } from "../cli/_mcs.ts";

Deno.test("rotating tenant: doctor twice, then a call, all keep working", async () => {
  const googleTokens = new GoogleTokenRegistry();
  // The variant where Token Vault works although the tenant rotates (GUESSES.md).
  const auth0 = await startAuth0Emulator({
    googleTokens,
    config: { refreshTokenRotation: true },
    guesses: { tokenVaultUnderRotation: "allowed" },
  });
  const gmail = await startGmailEmulator({ googleTokens, seed: true });
  const dir = await Deno.makeTempDir({ prefix: "mcs-doctor-rotation-" });
  try {
    auth0.connectAccount();
    const env = {
      MCS_AUTH: "auth0",
      MCS_AUTH0_DOMAIN: auth0.url,
      MCS_AUTH0_CLIENT_ID: auth0.clientId,
      MCS_AUTH0_CLIENT_SECRET: auth0.clientSecret,
      MCS_AUTH0_REFRESH_TOKEN: auth0.issueRefreshToken(),
      MCS_GMAIL_API_BASE: gmail.url,
      MCS_CACHE_DIR: dir,
    };
    for (const run of [1, 2]) {
      const r = await mcs(["doctor", "--json"], { env });
      const report = doc(r).result;
      assert(
        !JSON.stringify(report.issues).includes("refresh_token_invalid"),
        `doctor run ${run}: ${r.stdout}`,
      );
      assert(
        JSON.stringify(report.issues).includes("refresh_token_rotation_enabled"),
        `doctor run ${run} names rotation: ${r.stdout}`,
      );
    }
    const call = await mcs(["exec", "list_labels"], { env });
    assertEquals(call.code, 0, call.stdout + call.stderr);
  } finally {
    await gmail.close();
    await auth0.close();
    await Deno.remove(dir, { recursive: true });
  }
});
