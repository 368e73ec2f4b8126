/**
 * `mcs doctor [--offline] [--json]`: what is configured and whether it can work.
 *
 * Static part (no configuration needed, no network, read-only filesystems fine): the config
 * file, every setting present or missing with its source (never a secret's value), the
 * settings the chosen auth path still needs, whether the cache directory is writable, and the
 * route (proxy or direct, and why) to every host the configuration will call.
 *
 * Live part (skipped with `--offline`): reachability of each host, and when Auth0 credentials
 * exist, the Token Vault probe naming the first missing tenant setting (checklist entry).
 *
 * Exit 0 with `result.healthy` telling whether problems were found.
 *
 * @example
 * ```sh
 * mcs doctor --offline
 * mcs doctor --json | jq .result.problems
 * ```
 * @module
 */

import type { Config } from "../../lib/config/resolve.ts";
import { SETTINGS } from "../../lib/config/settings.ts";
import { McsError } from "../../lib/errors.ts";
import { auth0BaseUrl, hostsToCall, REQUIRED_SETTINGS } from "../../lib/app/modes.ts";
import type { CommandOutput, Context } from "../context.ts";

function describeSource(config: Config, name: (typeof SETTINGS)[number]["name"]): string {
  const s = config.source(name);
  switch (s.kind) {
    case "flag":
    case "env":
    case "stdin":
      return `${s.kind} ${s.name}`;
    case "file":
      return `file ${s.path}${s.profile ? ` [profiles.${s.profile}]` : ""}`;
    default:
      return s.kind;
  }
}

async function cacheCheck(
  config: Config,
): Promise<{ dir?: string; writable: boolean; error?: string }> {
  const { cacheDirOf } = await import("../../lib/app/mod.ts");
  let dir: string | undefined;
  try {
    dir = await cacheDirOf(config);
    const { ensureWritable } = await import("../../lib/cache/dir.ts");
    await ensureWritable(dir);
    return { dir, writable: true };
  } catch (e) {
    return { dir, writable: false, error: e instanceof Error ? e.message : String(e) };
  }
}

async function reach(
  url: string,
  fetch: (
    u: string,
    i?: RequestInit & { timeoutMs?: number; retries?: number },
  ) => Promise<Response>,
) {
  try {
    const res = await fetch(url, { method: "GET", timeoutMs: 5000, retries: 0 });
    await res.body?.cancel();
    return { ok: true, status: res.status };
  } catch (e) {
    return {
      ok: false,
      error: e instanceof McsError ? `${e.code}: ${e.message}` : (e as Error).message,
    };
  }
}

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const config = await ctx.config();
  const mode = config.authMode() ?? null;
  const problems: string[] = [];
  const required = new Set<string>(mode ? REQUIRED_SETTINGS[mode] : []);
  const settings = SETTINGS.map((s) => {
    const present = config.get(s.name) !== undefined;
    const needed = required.has(s.name);
    const staticAlt = s.name === "gmail_token" && config.env.get("MCS_TOKEN_GMAIL") !== undefined;
    if (needed && !present && !staticAlt) {
      problems.push(`Missing ${s.name} (${s.env}), needed by auth path ${mode}.`);
    }
    return {
      name: s.name,
      env: s.env,
      present: present || staticAlt,
      required: needed,
      secret: s.secret,
      source: staticAlt && !present ? "env MCS_TOKEN_GMAIL" : describeSource(config, s.name),
      ...(present && !s.secret ? { value: config.get(s.name) } : {}),
    };
  });
  if (!mode) problems.push("No auth path selected: set MCS_AUTH (or --auth0-linkauth, ...).");
  const cache = await cacheCheck(config);
  if (!cache.writable) problems.push(`Cache directory not usable: ${cache.error}`);

  const { explainRoute, readProxySettings } = await import("../../lib/net/proxy.ts");
  const { snapshotProxyEnv } = await import("../../lib/net/http.ts");
  const env: Record<string, string> = snapshotProxyEnv();
  const force = config.get("proxy_force"), bypass = config.get("proxy_bypass");
  if (force) env.MCS_PROXY_FORCE = force;
  if (bypass) env.MCS_PROXY_BYPASS = bypass;
  const proxySettings = readProxySettings(env);
  const routes = hostsToCall(config).map((h) => {
    const d = explainRoute(h.url, proxySettings);
    if (d.error) problems.push(`Route to ${h.url}: ${d.error}`);
    return { role: h.role, url: h.url, ...d };
  });

  let reachability: unknown[] | null = null;
  let auth0: unknown = null;
  if (!ctx.options.offline) {
    const { buildNet } = await import("../../lib/app/mod.ts");
    const net = await buildNet(config);
    try {
      reachability = await Promise.all(routes.map(async (r) => {
        const x = await reach(r.url, net);
        if (!x.ok) problems.push(`Cannot reach ${r.url}: ${x.error}`);
        return { role: r.role, url: r.url, ...x };
      }));
      const canProbe = mode !== null && mode.startsWith("auth0") &&
        ["auth0_domain", "auth0_client_id", "auth0_client_secret"].every((n) =>
          config.get(n as "auth0_domain") !== undefined
        );
      if (canProbe && cache.dir) {
        const { diagnose } = await import("../../lib/auth/auth0/mod.ts");
        const { FileCacheStore, namespaced } = await import("../../lib/cache/mod.ts");
        const host = new URL(auth0BaseUrl(config.get("auth0_domain")!)).host;
        const store = namespaced(
          new FileCacheStore(cache.dir),
          config.profile,
          host,
          config.get("auth0_client_id")!,
        );
        const report = await diagnose({
          domain: config.get("auth0_domain")!,
          clientId: config.get("auth0_client_id")!,
          clientSecret: config.get("auth0_client_secret")!,
          refreshToken: config.get("auth0_refresh_token"),
          audience: config.get("auth0_audience"),
          connections: { gmail: config.get("auth0_connection") ?? "google-oauth2" },
          loginHint: config.get("auth0_login_hint"),
          cache: store,
          fetch: net,
        });
        auth0 = report;
        if (!report.ok && report.failure && report.failure.code !== "refresh_token_missing") {
          problems.push(
            `Auth0: ${report.failure.setting} — ${report.failure.fix}${
              report.failure.items.length
                ? ` (checklist item ${report.failure.items.join(", ")})`
                : ""
            }`,
          );
        }
      }
    } finally {
      net.close();
    }
  }

  const result = {
    healthy: problems.length === 0,
    problems,
    profile: config.profile,
    config_file: config.file,
    mode,
    settings,
    cache,
    routes,
    reachability,
    auth0,
  };
  return { result, human: render(result) };
}

function render(r: {
  healthy: boolean;
  problems: string[];
  mode: string | null;
  config_file: { path?: string; exists: boolean };
  settings: {
    name: string;
    env: string;
    present: boolean;
    required: boolean;
    source: string;
    value?: string;
    secret: boolean;
  }[];
  cache: { dir?: string; writable: boolean; error?: string };
  routes: { role: string; url: string; route: string; proxy?: string; reason: string }[];
  reachability: unknown[] | null;
  auth0: unknown;
}): string {
  const mark = (ok: boolean) => (ok ? "✓" : "✗");
  const lines = [
    `Auth path:   ${r.mode ?? "(not set)"}`,
    `Config file: ${r.config_file.path ?? "(none)"}${r.config_file.exists ? "" : " (absent)"}`,
    `Cache:       ${mark(r.cache.writable)} ${r.cache.dir ?? "(unresolved)"}${
      r.cache.writable ? " writable" : ` — ${r.cache.error}`
    }`,
    "",
    "Settings:",
    ...r.settings.filter((s) => s.present || s.required).map((s) =>
      `  ${s.required ? mark(s.present) : " "} ${s.name.padEnd(22)} ${
        s.present ? (s.secret ? "(set)" : s.value ?? "") : "missing"
      }  [${s.present ? s.source : s.env}]`
    ),
    "",
    "Routes:",
    ...r.routes.map((x) =>
      `  ${x.role.padEnd(8)} ${x.url}  ${x.route}${x.proxy ? ` via ${x.proxy}` : ""} (${x.reason})`
    ),
  ];
  if (r.reachability) {
    lines.push("", "Reachability:");
    for (
      const x of r.reachability as { url: string; ok: boolean; status?: number; error?: string }[]
    ) {
      lines.push(`  ${mark(x.ok)} ${x.url} ${x.ok ? `HTTP ${x.status}` : x.error}`);
    }
  }
  if (r.auth0) {
    const a = r.auth0 as {
      steps: { name: string; ok: boolean; code?: string; message?: string }[];
    };
    lines.push("", "Auth0 Token Vault probe:");
    for (const s of a.steps) {
      lines.push(
        `  ${mark(s.ok)} ${s.name}${s.code ? ` (${s.code})` : ""}${
          s.message ? `: ${s.message}` : ""
        }`,
      );
    }
  }
  lines.push("", r.healthy ? "✓ No problems found." : "Problems:");
  for (const p of r.problems) lines.push(`  ✗ ${p}`);
  return lines.join("\n") + "\n";
}
