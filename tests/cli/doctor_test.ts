/**
 * `mcs doctor` as a separate process: the static part with no configuration at all, exit codes
 * (0 healthy, 3 configuration, 1 unreachable), a correct setup, and every switch of the Auth0
 * tenant emulator (`lib/emulators/auth0/state.ts`) mapped to the checklist code or warning
 * doctor reports for it. The table is keyed by `keyof TenantConfig`, so a new switch does not
 * type-check until it has a row here.
 * @module
 */

import type { Auth0ErrorCode } from "../../lib/auth/auth0/checklist.ts";
import type { DiagnoseWarningCode } from "../../lib/auth/auth0/diagnose.ts";
import { fingerprint, identityOf, keysFor } from "../../lib/auth/auth0/state.ts";
import type { ConnectedRecord } from "../../lib/auth/auth0/state.ts";
import { FileCacheStore, namespaced } from "../../lib/cache/mod.ts";
import {
  type Auth0Emulator,
  startAuth0Emulator,
  type TenantConfig,
} from "../../lib/emulators/auth0/server.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/server.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { doc as anyDoc, mcs } from "./_mcs.ts";
import type { Ran } from "./_mcs.ts";

/**
 * The one `--json` document, checked to agree with the exit code on every path: `ok: true`
 * exactly when doctor exits 0; otherwise an error whose code is a problem's, with the report.
 */
// deno-lint-ignore no-explicit-any
function doc(r: Ran): any {
  const d = anyDoc(r);
  assertEquals(d.ok, r.code === 0, `ok ${d.ok} with exit ${r.code}: ${r.stdout}`);
  assert(d.result && typeof d.result === "object", "the full report is kept");
  if (!d.ok) {
    assertEquals(d.error.details.exit_code, r.code);
    assertEquals(d.result.exit_code, r.code);
    const problems = d.result.issues.filter((i: Issue) => i.severity === "problem");
    assert(problems.some((i: Issue) => i.code === d.error.code), JSON.stringify(d.error));
    assertEquals(typeof d.error.retryable, "boolean");
  }
  return d;
}

interface Issue {
  severity: "problem" | "warning";
  category: string;
  code: string;
  message: string;
}

Deno.test("doctor's static part works with no configuration and no network: exit 3", async () => {
  const r = await mcs(["doctor", "--offline", "--json"], {
    env: { MCS_CACHE_DIR: "/proc/mcs-not-writable" },
  });
  assertEquals(r.code, 3, r.stderr);
  const d = doc(r);
  assertEquals(d.ok, false, "a non-zero exit is never ok: true");
  assertEquals(d.error.code, "no_auth_path");
  assertEquals(d.error.retryable, false);
  assertEquals(d.result.exit_code, 3);
  assertEquals(d.result.mode, null);
  assertEquals(d.result.healthy, false);
  assertEquals(d.result.cache.writable, false);
  assert(d.result.problems.some((p: string) => p.includes("MCS_AUTH")));
  const codes = d.result.issues.map((i: Issue) => i.code);
  assert(codes.includes("no_auth_path") && codes.includes("cache_dir_not_writable"), codes);
  assertEquals(d.result.routes[0].url, "https://gmail.googleapis.com");
  assertEquals(d.result.routes[0].route, "direct");
  const human = await mcs(["doctor", "--offline"], {
    env: { HTTPS_PROXY: "http://127.0.0.1:3128" },
  });
  assertEquals(human.code, 3);
  assertStringIncludes(human.stdout, "via http://127.0.0.1:3128");
  assertStringIncludes(human.stdout, "problem(s) (exit 3)");
  assert(!human.stdout.includes("No problems found"), human.stdout);
});

Deno.test("doctor --offline with a complete static setup: exit 0, no problems", async () => {
  const cache = await Deno.makeTempDir({ prefix: "mcs-doctor-" });
  try {
    const r = await mcs(["doctor", "--offline"], {
      env: { MCS_AUTH: "static", MCS_GMAIL_TOKEN: "t", MCS_CACHE_DIR: cache },
    });
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assertStringIncludes(r.stdout, "No problems found in the static checks");
    const j = await mcs(["doctor", "--offline", "--json"], {
      env: { MCS_AUTH: "static", MCS_GMAIL_TOKEN: "t", MCS_CACHE_DIR: cache },
    });
    assertEquals(j.code, 0, j.stdout + j.stderr);
    assertEquals(doc(j).ok, true);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("doctor: an unreachable host is a runtime problem, exit 1", async () => {
  const cache = await Deno.makeTempDir({ prefix: "mcs-doctor-" });
  try {
    const r = await mcs(["doctor", "--json"], {
      env: {
        MCS_AUTH: "static",
        MCS_GMAIL_TOKEN: "t",
        MCS_GMAIL_API_BASE: "http://127.0.0.1:9",
        MCS_CACHE_DIR: cache,
      },
    });
    assertEquals(r.code, 1, r.stdout + r.stderr);
    const d = doc(r);
    assertEquals(d.result.healthy, false);
    assertEquals(d.result.issues.map((i: Issue) => [i.severity, i.category, i.code]), [
      ["problem", "runtime", "host_unreachable"],
    ]);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

/** What doctor must report for one switch setting (pre-stored refresh token, `MCS_AUTH=auth0`). */
type Expect =
  | { problem: Auth0ErrorCode; exit: 1 | 3 }
  /** Healthy (exit 0) with this warning: the probe cannot see the setting up front. */
  | { warning: DiagnoseWarningCode }
  /** No finding beyond the baseline: the value is harmless on its own. */
  | { harmless: string };

interface Row {
  name: string;
  change: Partial<TenantConfig>;
  expect: Expect;
  /** Extra environment (e.g. an audience). */
  env?: Record<string, string>;
  /** When the user logged in (epoch ms offset from now). */
  loginAgoMs?: number;
}

/** Timing knobs: not tenant settings, doctor must not complain about them. */
const TIMING: Partial<TenantConfig> = {
  googleTokenTtlS: 60,
  accessTokenTtlS: 300,
  connectTicketTtlS: 60,
  codeTtlS: 30,
  latencyMs: 20,
};

/** Every switch of the tenant emulator, the account not connected yet. */
const SWITCHES: Record<keyof TenantConfig, Row[] | "timing"> = {
  tokenVaultGrant: [{
    name: "Token Vault grant off",
    change: { tokenVaultGrant: false },
    expect: { problem: "token_vault_grant_not_enabled", exit: 3 },
  }],
  refreshTokenGrant: [{
    name: "Refresh Token grant off",
    change: { refreshTokenGrant: false },
    expect: { problem: "refresh_token_grant_not_enabled", exit: 3 },
  }],
  refreshTokenRotation: [{
    name: "refresh token rotation on",
    change: { refreshTokenRotation: true },
    expect: { problem: "refresh_token_rotation_enabled", exit: 3 },
  }],
  rotationLeewayS: [{
    name: "rotation overlap period without rotation",
    change: { rotationLeewayS: 30 },
    expect: { harmless: "only applies when rotation is on" },
  }, {
    name: "rotation overlap period with rotation",
    change: { refreshTokenRotation: true, rotationLeewayS: 30 },
    expect: { problem: "refresh_token_rotation_enabled", exit: 3 },
  }],
  refreshTokenLifetimeS: [{
    name: "rotating token lifetime without rotation",
    change: { refreshTokenLifetimeS: 60 },
    expect: { harmless: "only applies to rotating tokens" },
  }],
  apiOfflineAccess: [{
    name: "API Allow Offline Access off (custom audience)",
    change: { apiOfflineAccess: false },
    env: { MCS_AUTH0_AUDIENCE: "https://api.example.com" },
    expect: { warning: "api_offline_access_unverified" },
  }],
  myAccountApi: [{
    name: "My Account API off",
    change: { myAccountApi: false },
    expect: { problem: "my_account_api_not_activated", exit: 3 },
  }],
  myAccountClientGrant: [{
    name: "My Account client grant missing",
    change: { myAccountClientGrant: false },
    expect: { problem: "my_account_client_grant_missing", exit: 3 },
  }],
  mrrtPolicyScopes: [{
    name: "MRRT policy missing",
    change: { mrrtPolicyScopes: [] },
    expect: { problem: "mrrt_policy_missing", exit: 3 },
  }],
  connectedAccountsConnections: [{
    name: "connection not enabled for Connected Accounts",
    change: { connectedAccountsConnections: [] },
    expect: { problem: "connection_not_enabled_for_connected_accounts", exit: 3 },
  }],
  connectionOfflineAccess: [{
    name: "connection Offline Access off (not connected yet)",
    change: { connectionOfflineAccess: false },
    expect: { warning: "connection_offline_access_unverified" },
  }],
  mfaPolicy: [{
    name: "tenant MFA policy Always",
    change: { mfaPolicy: "always" },
    expect: { problem: "mfa_required", exit: 3 },
  }],
  myAccountRequire2fa: [{
    name: "My Account API requires 2FA (login 20 minutes ago)",
    change: { myAccountRequire2fa: true },
    loginAgoMs: 20 * 60_000,
    expect: { problem: "my_account_mfa_required", exit: 3 },
  }],
  rateLimit: [{
    name: "Authentication API rate limit reached",
    change: { rateLimit: { burst: 0, perSecond: 0.001 } },
    expect: { problem: "rate_limited", exit: 1 },
  }],
  myAccountRateLimit: [{
    name: "My Account API rate limit reached",
    change: { myAccountRateLimit: { burst: 0, perSecond: 0.001 } },
    expect: { problem: "rate_limited", exit: 1 },
  }],
  googleTokenTtlS: "timing",
  accessTokenTtlS: "timing",
  connectTicketTtlS: "timing",
  codeTtlS: "timing",
  latencyMs: "timing",
};

/** An emulator, a cache directory and `doctor --json` against them as a separate process. */
async function doctorWorld() {
  const emu = await startAuth0Emulator();
  const gmail = await startGmailEmulator({ googleTokens: emu.googleTokens, seed: true });
  const cache = await Deno.makeTempDir({ prefix: "mcs-doctor-" });
  const host = new URL(emu.url).host;
  const env = (rt: string, extra: Record<string, string> = {}) => ({
    MCS_AUTH: "auth0",
    MCS_AUTH0_DOMAIN: emu.url,
    MCS_AUTH0_CLIENT_ID: emu.clientId,
    MCS_AUTH0_CLIENT_SECRET: emu.clientSecret,
    ...(rt ? { MCS_AUTH0_REFRESH_TOKEN: rt } : {}),
    MCS_GMAIL_API_BASE: gmail.url,
    MCS_CACHE_DIR: cache,
    ...extra,
  });
  return {
    emu,
    gmail,
    cache,
    /** The provider's store for this tenant (the namespace lib/app/mod.ts uses). */
    store: namespaced(new FileCacheStore(cache), "default", host, emu.clientId),
    keys: keysFor(host, emu.clientId),
    async doctor(rt: string, extra: Record<string, string> = {}, args = ["--json"]) {
      const r = await mcs(["doctor", ...args], { env: env(rt, extra) });
      return { ran: r, res: args.includes("--json") ? doc(r).result : undefined };
    },
    async [Symbol.asyncDispose]() {
      await emu.close();
      await gmail.close();
      await Deno.remove(cache, { recursive: true });
    },
  };
}

/** Apply `change` for the duration of `fn`. */
async function withConfig(
  emu: Auth0Emulator,
  change: Partial<TenantConfig>,
  fn: () => Promise<void>,
): Promise<void> {
  const saved = { ...emu.config };
  Object.assign(emu.config, change);
  try {
    await fn();
  } finally {
    Object.assign(emu.config, saved);
  }
}

const codes = (issues: Issue[], severity: Issue["severity"]) =>
  issues.filter((i) => i.severity === severity).map((i) => i.code);

Deno.test("doctor: every tenant switch named (account not connected)", async (t) => {
  await using w = await doctorWorld();
  const { emu } = w;
  // Not connected yet, so the connection's Offline Access (#11) cannot be verified: a warning.
  const BASELINE = ["connection_offline_access_unverified"];
  await t.step("correct setup: healthy, exit 0, #11 left as a warning", async () => {
    const { ran, res } = await w.doctor(emu.issueRefreshToken());
    assertEquals(ran.code, 0, ran.stdout + ran.stderr);
    assertEquals(res.healthy, true, JSON.stringify(res.problems));
    assertEquals(res.auth0.ok, true);
    assertEquals(res.auth0.needsConnect, true);
    assertEquals(codes(res.issues, "warning"), BASELINE);
    assert(!JSON.stringify(res).includes(emu.clientSecret), "never the secret");
    const secret = res.settings.find((s: { name: string }) => s.name === "auth0_client_secret");
    assertEquals(secret.present, true);
    assertEquals("value" in secret, false);
  });
  const rows = Object.values(SWITCHES).flatMap((r) => r === "timing" ? [] : r);
  rows.push({ name: "timing knobs", change: TIMING, expect: { harmless: "not tenant settings" } });
  for (const row of rows) {
    await t.step(row.name, () =>
      withConfig(emu, row.change, async () => {
        const rt = emu.issueRefreshToken(
          row.loginAgoMs ? { authTime: Date.now() - row.loginAgoMs } : {},
        );
        const { ran, res } = await w.doctor(rt, row.env);
        const ctx = JSON.stringify({ issues: res.issues, steps: res.auth0?.steps });
        const e = row.expect;
        if ("problem" in e) {
          assertEquals(ran.code, e.exit, ctx);
          assertEquals(res.healthy, false);
          assertEquals(res.exit_code, e.exit);
          assertEquals(res.auth0.failure?.code, e.problem, ctx);
          assertEquals(codes(res.issues, "problem"), [e.problem], ctx);
          assert(res.problems.some((p: string) => p.startsWith("Auth0:")), ctx);
          // The failed step is shown as failed, and counted.
          assert(res.auth0.steps.some((s: { status: string }) => s.status === "failed"), ctx);
        } else if ("warning" in e) {
          assertEquals(ran.code, 0, ctx);
          assertEquals(res.healthy, true, ctx);
          assert(codes(res.issues, "warning").includes(e.warning), ctx);
          const w = res.issues.find((i: Issue) => i.code === e.warning);
          assertStringIncludes(w.message, "cannot be verified until");
          assertStringIncludes(w.message, "in the dashboard");
        } else {
          assertEquals(ran.code, 0, ctx);
          assertEquals(res.healthy, true, ctx);
          assertEquals(codes(res.issues, "warning"), BASELINE, ctx);
        }
      }));
  }
  await t.step("revoked refresh token", async () => {
    const rt = emu.issueRefreshToken();
    emu.revokeRefreshTokens();
    const { ran, res } = await w.doctor(rt);
    assertEquals(ran.code, 3);
    assertEquals(res.auth0.failure?.code, "refresh_token_invalid");
  });
  await t.step(
    "human form: a failed step is never followed by 'No problems found'",
    () =>
      withConfig(emu, { tokenVaultGrant: false }, async () => {
        const { ran } = await w.doctor(emu.issueRefreshToken(), {}, []);
        assertEquals(ran.code, 3);
        assertStringIncludes(ran.stdout, "✗ token_vault_exchange (token_vault_grant_not_enabled)");
        assertStringIncludes(ran.stdout, "problem(s) (exit 3)");
        assert(!ran.stdout.includes("No problems found"), ran.stdout);
      }),
  );
  await t.step("interactive path not logged in: probe labelled skipped, a warning", async () => {
    const { ran, res } = await w.doctor("", { MCS_AUTH: "auth0-oauth" });
    assertEquals(ran.code, 0, ran.stdout + ran.stderr);
    const step = res.auth0.steps.find((s: { name: string }) => s.name === "refresh_token");
    assertEquals(step.status, "skipped");
    assertEquals(codes(res.issues, "warning"), ["auth0_probe_skipped"]);
    const human = await w.doctor("", { MCS_AUTH: "auth0-oauth" }, []);
    assertStringIncludes(human.ran.stdout, "– refresh_token skipped (refresh_token_missing)");
    assert(!human.ran.stdout.includes("✓ No problems found"), human.ran.stdout);
  });
});

Deno.test("doctor: connected account, the connection's Offline Access (#11)", async (t) => {
  await using w = await doctorWorld();
  const { emu } = w;
  // One refresh token: the record is bound to its identity (origin fingerprint, no hint).
  const rt = emu.issueRefreshToken();
  const recordKey = w.keys.connected(
    await identityOf(await fingerprint(rt), undefined),
    "gmail",
    "google-oauth2",
  );
  /** Connect the account as mcs's connect flow does (the record it writes at /complete). */
  const connect = async (offline: boolean) => {
    const account = emu.connectAccount({ offline });
    const record: ConnectedRecord = {
      connectedAt: Date.now(),
      firstToken: await fingerprint(account.googleAccessToken!),
    };
    await w.store.set(recordKey, record);
  };
  await t.step("first Google token not yet expired: works, #11 still a warning", async () => {
    await connect(true);
    const { ran, res } = await w.doctor(rt);
    assertEquals(ran.code, 0);
    assertEquals(res.auth0.needsConnect, undefined);
    assertEquals(codes(res.issues, "warning"), ["connection_offline_access_unverified"]);
  });
  await t.step("offline access on, token refreshed by the vault: a clean bill", async () => {
    emu.expireGoogleTokens();
    const { ran, res } = await w.doctor(rt);
    assertEquals(ran.code, 0);
    assertEquals(res.issues, []);
    const human = await w.doctor(rt, {}, []);
    assertStringIncludes(human.ran.stdout, "✓ No problems found.");
  });
  await t.step(
    "offline access off: the vault loses the account at expiry",
    () =>
      withConfig(emu, { connectionOfflineAccess: false }, async () => {
        await connect(false);
        emu.expireGoogleTokens();
        const { ran, res } = await w.doctor(rt);
        assertEquals(ran.code, 3, JSON.stringify(res.issues));
        assertEquals(res.auth0.failure?.code, "connection_offline_access_disabled");
        assertEquals(codes(res.issues, "problem"), ["connection_offline_access_disabled"]);
      }),
  );
  await t.step(
    "connected, My Account API off: works now, a reconnect would fail",
    () =>
      withConfig(emu, { myAccountApi: false }, async () => {
        await connect(true);
        const { ran, res } = await w.doctor(rt);
        assertEquals(ran.code, 0, JSON.stringify(res.issues));
        assert(codes(res.issues, "warning").includes("my_account_api_not_activated"));
        const step = res.auth0.steps.find((s: { name: string }) => s.name === "my_account_token");
        assertEquals(step.status, "warning");
      }),
  );
});

Deno.test("doctor: the Gmail probe reports a disabled Gmail API (exit 3)", async (t) => {
  await using w = await doctorWorld();
  const { emu } = w;
  const account = emu.connectAccount({ offline: true });
  // One refresh token: the connected record is bound to its identity.
  const rt = emu.issueRefreshToken();
  await w.store.set(
    w.keys.connected(await identityOf(await fingerprint(rt), undefined), "gmail", "google-oauth2"),
    {
      connectedAt: Date.now(),
      firstToken: await fingerprint(account.googleAccessToken!),
    } satisfies ConnectedRecord,
  );
  await t.step("enabled: the probe reads the profile", async () => {
    const { ran, res } = await w.doctor(rt);
    assertEquals(ran.code, 0, JSON.stringify(res.issues));
    assertEquals(res.gmail.status, "ok");
    assertEquals(res.gmail.email, "ada@example.com");
  });
  await t.step("disabled in the Google Cloud project: gmail_api_disabled", async () => {
    w.gmail.faults.apiDisabled(true, "987654321");
    try {
      const { ran, res } = await w.doctor(rt);
      assertEquals(ran.code, 3, JSON.stringify(res.issues));
      assertEquals(codes(res.issues, "problem"), ["gmail_api_disabled"]);
      assertEquals(res.gmail.status, "failed");
      assertStringIncludes(res.gmail.message, "987654321");
      const d = doc(ran);
      assertEquals(d.error.code, "gmail_api_disabled");
      const human = await w.doctor(emu.issueRefreshToken(), {}, []);
      assertEquals(human.ran.code, 3);
      assertStringIncludes(human.ran.stdout, "Gmail probe: ✗ gmail_api_disabled");
    } finally {
      w.gmail.faults.apiDisabled(false);
    }
  });
});

Deno.test("doctor: a host sent direct by NO_PROXY while a proxy is set gets the MCS_PROXY_FORCE advice", async () => {
  const cache = await Deno.makeTempDir({ prefix: "mcs-doctor-" });
  try {
    const env = {
      MCS_AUTH: "static",
      MCS_GMAIL_TOKEN: "t",
      MCS_CACHE_DIR: cache,
      HTTPS_PROXY: "http://u:pw@127.0.0.1:9",
      NO_PROXY: "*.mcs-sandbox.invalid",
      MCS_GMAIL_API_BASE: "https://gmail.mcs-sandbox.invalid",
    };
    const offline = await mcs(["doctor", "--offline", "--json"], { env });
    assertEquals(offline.code, 0, offline.stdout + offline.stderr);
    const route = doc(offline).result.routes[0];
    assertEquals(route.route, "direct");
    assertStringIncludes(route.advice, "MCS_PROXY_FORCE=mcs-sandbox.invalid");
    const human = await mcs(["doctor", "--offline"], { env });
    assertStringIncludes(human.stdout, "set MCS_PROXY_FORCE=mcs-sandbox.invalid");
    assert(!human.stdout.includes(":pw@"), human.stdout);
    // Live: the direct route cannot resolve the host: the problem names the same fix.
    const live = await mcs(["doctor", "--json"], { env });
    assertEquals(live.code, 1, live.stdout + live.stderr);
    const d = doc(live);
    assertEquals(codes(d.result.issues, "problem"), ["direct_route_failed"]);
    assertEquals(d.error.code, "direct_route_failed");
    assertEquals(d.error.retryable, false);
    assertStringIncludes(d.error.message, "MCS_PROXY_FORCE=mcs-sandbox.invalid");
    assertEquals(d.result.gmail.status, "skipped");
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
