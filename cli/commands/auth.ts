/**
 * `mcs auth login|status|token|logout`, modelled on `gh auth`.
 *
 * - `login` resolves a Gmail token through the configured path. Without `--wait` it exits 4 with
 *   the URL and code (run it again after acting); with `--wait` it polls, showing the URL, the
 *   code and a QR code on a terminal, until done or timed out.
 * - `status` reads the cache only (no network): mode, settings and where they come from, what is
 *   stored, token expiry, pending steps, connected accounts. Never a secret.
 * - `token [scope]` prints an access token for scripts.
 * - `logout` removes the profile's stored state.
 *
 * @example
 * ```sh
 * mcs auth login --wait
 * mcs auth status --json
 * ```
 * @module
 */

import { AuthChallenge } from "../../lib/auth/types.ts";
import { SETTINGS } from "../../lib/config/settings.ts";
import { ConfigError, UsageError } from "../../lib/errors.ts";
import { withApp } from "../app.ts";
import type { CommandOutput, Context } from "../context.ts";
import { challengeDisplay } from "../challenge_display.ts";

const DEFAULT_SCOPE = "gmail";

/**
 * Which step a URL handed to `onUrl` is for. The hook gets only the URL: the Connected Accounts
 * consent URL always carries Auth0's `ticket` parameter (My Account API `connect_uri` +
 * `connect_params.ticket`); the sign-in URL is the PKCE authorize URL.
 */
export function stepOfUrl(url: string): string {
  try {
    return new URL(url).searchParams.has("ticket") ? "connect Gmail" : "sign in";
  } catch {
    return "sign in";
  }
}

async function login(ctx: Context): Promise<CommandOutput> {
  const scope = typeof ctx.options.scope === "string" ? ctx.options.scope : DEFAULT_SCOPE;
  const waitS = Number(ctx.options.timeout ?? 900);
  if (!Number.isFinite(waitS) || waitS <= 0) {
    throw new UsageError("invalid_option", "--timeout must be a positive number of seconds.");
  }
  const wait = ctx.options.wait === true;
  const display = wait ? challengeDisplay(ctx) : undefined;
  const interactive = {
    timeoutMs: waitS * 1000,
    onUrl: (url: string) => ctx.io.err(`mcs: ${stepOfUrl(url)}: open ${url}\n`),
  };
  return await withApp(ctx, { interactive }, async (app) => {
    const deadline = Date.now() + waitS * 1000;
    try {
      for (;;) {
        try {
          await app.credentials.getToken(scope);
          break;
        } catch (e) {
          if (!(e instanceof AuthChallenge) || !display || Date.now() >= deadline) throw e;
          await display.show(e);
          const pause = Math.max(1, Math.min(e.retryAfterS ?? 2, 10)) * 1000;
          await display.spin(Math.min(pause, deadline - Date.now()));
        }
      }
    } finally {
      display?.done();
    }
    let account: string | undefined;
    if (scope === DEFAULT_SCOPE) {
      account = (await (await app.gmail()).getProfile()).emailAddress;
    }
    const result = { authorized: true, mode: app.mode, scope, account: account ?? null };
    return {
      result,
      human: `✓ Authorized (${app.mode})${
        account ? ` as ${account}` : ""
      }. Try: mcs mail search is:unread\n`,
    };
  });
}

async function token(ctx: Context): Promise<CommandOutput> {
  const scope = ctx.positionals[0] ?? DEFAULT_SCOPE;
  return await withApp(ctx, {}, async (app) => {
    const value = await app.credentials.getToken(scope);
    return { result: { scope, token: value }, human: value + "\n" };
  });
}

async function logout(ctx: Context): Promise<CommandOutput> {
  return await withApp(ctx, { readOnly: true }, async (app) => {
    const keys = await app.profileStore.keys();
    await app.profileStore.clear();
    return {
      result: { profile: app.config.profile, removed: keys.length },
      human: `Removed ${keys.length} stored item(s) of profile ${app.config.profile}.\n`,
    };
  });
}

function iso(ms: unknown): string | null {
  return typeof ms === "number" && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

async function status(ctx: Context): Promise<CommandOutput> {
  const config = await ctx.config();
  const mode = config.authMode() ?? null;
  const settings = SETTINGS.filter((s) => config.source(s.name).kind !== "unset").map((s) => {
    const src = config.source(s.name);
    return {
      name: s.name,
      source: src.kind === "env" || src.kind === "flag" || src.kind === "stdin"
        ? `${src.kind} ${src.name}`
        : src.kind === "file"
        ? `file ${src.path}`
        : src.kind,
      value: s.secret ? "(set, hidden)" : config.get(s.name),
    };
  });
  if (!mode) {
    const result = { mode, profile: config.profile, settings, stored_keys: 0 };
    return {
      result,
      human: "No auth path configured. Set MCS_AUTH or pass --auth0-linkauth (see mcs doctor).\n",
    };
  }
  const { checkRequired } = await import("../../lib/app/mod.ts");
  try {
    checkRequired(config, mode);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const result = { mode, profile: config.profile, settings, stored_keys: 0, problem: e.message };
    return { result, human: `Auth path: ${mode} (profile ${config.profile})\n${e.message}\n` };
  }
  return await withApp(ctx, { readOnly: true }, async (app) => {
    const stored = await app.store.keys();
    let tokens: unknown[] = [];
    let pending: unknown[] = [];
    let connected: unknown[] = [];
    let refreshToken: boolean | null = null;
    let otherAccounts = 0;
    if (mode.startsWith("auth0")) {
      const { keysFor, RefreshTokens, resolveTenant } = await import(
        "../../lib/auth/auth0/mod.ts"
      );
      const k = keysFor(
        resolveTenant(config.get("auth0_domain")!).host,
        config.get("auth0_client_id")!,
      );
      // The account this configuration uses, found in the cache alone (no network, no login):
      // entries are keyed `<kind>/<scope>/<connection>/<identity>`, and only this identity's
      // are shown; other accounts' entries (another refresh token or login hint) are counted.
      const current = (await new RefreshTokens(app.store, k, {
        configured: config.get("auth0_refresh_token"),
        loginHint: config.get("auth0_login_hint"),
      }).current()).token;
      refreshToken = current !== undefined;
      const suffix = current ? `/${current.identity}` : undefined;
      const under = async (prefix: string) => {
        const mine: { key: string; value: Record<string, unknown> | undefined }[] = [];
        for (const key of stored.filter((key) => key.startsWith(prefix))) {
          if (!suffix || !key.endsWith(suffix)) {
            otherAccounts++;
            continue;
          }
          mine.push({
            key: key.slice(prefix.length, -suffix.length),
            value: await app.store.get<Record<string, unknown>>(key),
          });
        }
        return mine;
      };
      tokens = (await under(`${k.root}/at/`)).map(({ key, value }) => ({
        scope: key,
        expires_at: iso(value?.expiresAt),
      }));
      pending = (await under(`${k.root}/connect/`)).map(({ key, value }) => ({
        scope: key,
        url: value?.url ?? null,
        expires_at: iso(value?.expiresAt),
      }));
      connected = (await under(`${k.root}/connected/`)).map(({ key, value }) => ({
        scope: key,
        // True once Token Vault handed out a refreshed Google token (offline access works).
        refreshed: value?.refreshed ?? false,
        connected_at: iso(value?.connectedAt),
      }));
    }
    const result = {
      mode,
      profile: config.profile,
      cache_dir: app.cacheDir ?? null,
      settings,
      refresh_token_stored: refreshToken,
      access_tokens: tokens,
      pending_connect: pending,
      connected_accounts: connected,
      other_accounts_entries: otherAccounts,
      stored_keys: stored.length,
    };
    const lines = [
      `Auth path: ${mode} (profile ${config.profile})`,
      `Cache:     ${
        app.cacheDir ?? "(none: the static path keeps no state)"
      } (${stored.length} item(s))`,
      ...(refreshToken === null ? [] : [`Refresh token: ${refreshToken ? "stored" : "none"}`]),
      ...tokens.map((t) => {
        const x = t as { scope: string; expires_at: string | null };
        return `Access token ${x.scope}: expires ${x.expires_at ?? "unknown"}`;
      }),
      ...pending.map((p) => {
        const x = p as { scope: string; url: string | null };
        return `Pending consent ${x.scope}: ${x.url ?? ""}`;
      }),
      ...connected.map((c) => {
        const x = c as { scope: string; connected_at: string | null };
        return `Connected ${x.scope} at ${x.connected_at ?? "?"}`;
      }),
      ...(otherAccounts
        ? [`Other accounts: ${otherAccounts} cached item(s) (another refresh token or login hint)`]
        : []),
      "Settings:",
      ...settings.map((s) =>
        `  ${s.name.padEnd(22)} ${String(s.value ?? "").padEnd(40)} ${s.source}`
      ),
    ];
    return { result, human: lines.join("\n") + "\n" };
  });
}

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  switch (ctx.command.path[1]) {
    case "login":
      return await login(ctx);
    case "token":
      return await token(ctx);
    case "logout":
      return await logout(ctx);
    default:
      return await status(ctx);
  }
}
