/**
 * `mcs doctor [--offline] [--json]`: what is configured and whether it can work.
 *
 * Static part (no configuration needed, no network, read-only filesystems fine): the config
 * file, every setting present or missing with its source (never a secret's value), the
 * settings the chosen auth path still needs, whether the cache directory is writable, and the
 * route (proxy or direct, and why) to every host the configuration will call.
 *
 * Live part (skipped with `--offline`): reachability of each host, and when Auth0 credentials
 * exist, the Token Vault probe naming the first missing tenant setting (checklist entry), with
 * warnings for what a probe cannot verify up front (the API's and the connection's Offline
 * Access, My Account settings that only a reconnect needs). A probe step that could not run is
 * labelled `skipped` with the reason; a failed step is always a problem.
 *
 * Exit codes (like `gh auth status`, non-zero when something is wrong): 0 no problems (warnings
 * allowed), 3 a configuration problem (missing setting, no auth path, unusable cache directory,
 * bad proxy setting, a tenant setting from the checklist), 1 only runtime problems (a host
 * unreachable, Auth0 unavailable or rate limited). `--json` always prints the full report as one
 * `{"ok": true, "result": {...}}` document, whatever the exit code: `result.healthy`,
 * `result.exit_code`, `result.problems`, `result.warnings` and `result.issues` (each with
 * severity, category and a stable code) say what is wrong.
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
import type { DiagnoseReport } from "../../lib/auth/auth0/diagnose.ts";
import type { CommandOutput, Context } from "../context.ts";
import { EXIT } from "../output.ts";

/** One finding: a problem (non-zero exit) or a warning (exit 0, but not a clean bill). */
export interface DoctorIssue {
  severity: "problem" | "warning";
  /** `config` problems exit 3; `runtime` ones (unreachable, unavailable) exit 1. */
  category: "config" | "runtime";
  /** Stable snake_case code (a checklist code for Auth0 findings). */
  code: string;
  message: string;
}

/** Exit code for a list of findings: 3 if any configuration problem, 1 if any other, else 0. */
export function exitCodeFor(issues: readonly DoctorIssue[]): number {
  const problems = issues.filter((i) => i.severity === "problem");
  if (problems.some((i) => i.category === "config")) return EXIT.config;
  return problems.length ? EXIT.runtime : EXIT.ok;
}

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
  const issues: DoctorIssue[] = [];
  const problem = (category: DoctorIssue["category"], code: string, message: string) =>
    issues.push({ severity: "problem", category, code, message });
  const warning = (code: string, message: string) =>
    issues.push({ severity: "warning", category: "config", code, message });
  const required = new Set<string>(mode ? REQUIRED_SETTINGS[mode] : []);
  const settings = SETTINGS.map((s) => {
    const present = config.get(s.name) !== undefined;
    const needed = required.has(s.name);
    const staticAlt = s.name === "gmail_token" && config.env.get("MCS_TOKEN_GMAIL") !== undefined;
    if (needed && !present && !staticAlt) {
      problem(
        "config",
        "missing_setting",
        `Missing ${s.name} (${s.env}), needed by auth path ${mode}.`,
      );
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
  if (!mode) {
    problem(
      "config",
      "no_auth_path",
      "No auth path selected: set MCS_AUTH (or --auth0-linkauth, ...).",
    );
  }
  const cache = await cacheCheck(config);
  if (!cache.writable) {
    problem("config", "cache_dir_not_writable", `Cache directory not usable: ${cache.error}`);
  }

  const { explainRoute, readProxySettings } = await import("../../lib/net/proxy.ts");
  const { snapshotProxyEnv } = await import("../../lib/net/http.ts");
  const env: Record<string, string> = snapshotProxyEnv();
  const force = config.get("proxy_force"), bypass = config.get("proxy_bypass");
  if (force) env.MCS_PROXY_FORCE = force;
  if (bypass) env.MCS_PROXY_BYPASS = bypass;
  const proxySettings = readProxySettings(env);
  const routes = hostsToCall(config).map((h) => {
    const d = explainRoute(h.url, proxySettings);
    if (d.error) problem("config", "route_invalid", `Route to ${h.url}: ${d.error}`);
    return { role: h.role, url: h.url, ...d };
  });

  let reachability: unknown[] | null = null;
  let auth0: DiagnoseReport | null = null;
  let auth0Skipped: string | null = null;
  const usesAuth0 = mode !== null && mode.startsWith("auth0");
  const auth0Settings = ["auth0_domain", "auth0_client_id", "auth0_client_secret"] as const;
  if (ctx.options.offline) {
    if (usesAuth0) auth0Skipped = "--offline";
  } else {
    const { buildNet } = await import("../../lib/app/mod.ts");
    const net = await buildNet(config);
    try {
      reachability = await Promise.all(routes.map(async (r) => {
        const x = await reach(r.url, net);
        if (!x.ok) problem("runtime", "host_unreachable", `Cannot reach ${r.url}: ${x.error}`);
        return { role: r.role, url: r.url, ...x };
      }));
      const missing = auth0Settings.filter((n) => config.get(n) === undefined);
      if (usesAuth0 && missing.length) {
        auth0Skipped = `missing ${missing.join(", ")}`;
      } else if (usesAuth0 && !cache.dir) {
        auth0Skipped = "no cache directory";
      } else if (usesAuth0) {
        auth0 = await probeAuth0(config, cache.dir!, net);
        collectAuth0(auth0, mode!, problem, warning);
      }
    } catch (e) {
      problem(
        "runtime",
        "auth0_probe_failed",
        `The Auth0 probe failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    } finally {
      net.close();
    }
  }
  if (auth0Skipped && auth0Skipped !== "--offline") {
    warning("auth0_probe_skipped", `Auth0 Token Vault probe skipped: ${auth0Skipped}.`);
  }

  const exitCode = exitCodeFor(issues);
  const result = {
    healthy: !issues.some((i) => i.severity === "problem"),
    exit_code: exitCode,
    problems: issues.filter((i) => i.severity === "problem").map((i) => i.message),
    warnings: issues.filter((i) => i.severity === "warning").map((i) => i.message),
    issues,
    offline: ctx.options.offline === true,
    profile: config.profile,
    config_file: config.file,
    mode,
    settings,
    cache,
    routes,
    reachability,
    auth0,
    auth0_skipped: auth0Skipped,
  };
  return { result, human: render(result), exitCode };
}

async function probeAuth0(
  config: Config,
  cacheDir: string,
  net: Awaited<ReturnType<typeof import("../../lib/app/mod.ts")["buildNet"]>>,
): Promise<DiagnoseReport> {
  const { diagnose } = await import("../../lib/auth/auth0/mod.ts");
  const { FileCacheStore, namespaced } = await import("../../lib/cache/mod.ts");
  const host = new URL(auth0BaseUrl(config.get("auth0_domain")!)).host;
  // The same namespace as the provider's store (lib/app/mod.ts): profile, tenant host, client.
  const store = namespaced(
    new FileCacheStore(cacheDir),
    config.profile,
    host,
    config.get("auth0_client_id")!,
  );
  return await diagnose({
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
}

/** Turn the probe's report into findings: every failed step is a problem. */
function collectAuth0(
  report: DiagnoseReport,
  mode: string,
  problem: (category: DoctorIssue["category"], code: string, message: string) => void,
  warning: (code: string, message: string) => void,
): void {
  const f = report.failure;
  const skipped = report.steps.find((s) => s.status === "skipped");
  if (skipped && f?.code === "refresh_token_missing") {
    // `auth0` needs the setting (already a missing-setting problem); the interactive paths
    // get a refresh token at their first login.
    if (mode !== "auth0") {
      warning(
        "auth0_probe_skipped",
        "Auth0 Token Vault probe skipped: not logged in yet. Run `mcs auth login`, then " +
          "`mcs doctor` again to check the tenant.",
      );
    }
  } else if (f) {
    const items = f.items.length ? ` (checklist item ${f.items.join(", ")})` : "";
    const detail = f.message && f.message !== f.fix ? ` [${f.message}]` : "";
    problem(f.category, f.code, `Auth0: ${f.setting} — ${f.fix}${items}${detail}`);
  }
  for (const s of report.steps) {
    if (s.status === "failed" && !f) {
      problem("runtime", s.code ?? "auth0_probe_failed", `Auth0 probe step ${s.name} failed.`);
    }
  }
  for (const w of report.warnings) {
    const items = w.items.length ? ` (checklist item ${w.items.join(", ")})` : "";
    warning(w.code, `Auth0: ${w.setting} — ${w.message}${items}`);
  }
}

function render(r: {
  healthy: boolean;
  exit_code: number;
  problems: string[];
  warnings: string[];
  offline: boolean;
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
  auth0: DiagnoseReport | null;
  auth0_skipped: string | null;
}): string {
  const mark = (ok: boolean) => (ok ? "✓" : "✗");
  const stepMark = { ok: "✓", failed: "✗", skipped: "–", warning: "!" } as const;
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
    lines.push("", "Auth0 Token Vault probe:");
    for (const s of r.auth0.steps) {
      lines.push(
        `  ${stepMark[s.status]} ${s.name}${s.status === "skipped" ? " skipped" : ""}${
          s.code ? ` (${s.code})` : ""
        }${s.message ? `: ${s.message}` : ""}`,
      );
    }
  } else if (r.auth0_skipped) {
    lines.push("", `Auth0 Token Vault probe: skipped (${r.auth0_skipped}).`);
  }
  lines.push("");
  if (r.problems.length) {
    lines.push(`✗ ${r.problems.length} problem(s) (exit ${r.exit_code}):`);
    for (const p of r.problems) lines.push(`  ✗ ${p}`);
  }
  if (r.warnings.length) {
    lines.push(
      r.problems.length
        ? "Warnings:"
        : `! No problems found, but ${r.warnings.length} warning(s): not yet a clean bill of health.`,
    );
    for (const w of r.warnings) lines.push(`  ! ${w}`);
  }
  if (!r.problems.length && !r.warnings.length) {
    lines.push(
      r.offline
        ? "✓ No problems found in the static checks (live checks skipped: --offline)."
        : "✓ No problems found.",
    );
  }
  return lines.join("\n") + "\n";
}
