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
 * labelled `skipped` with the reason; a failed step is always a problem. When a Google token can
 * be had without the user (a static token, or a Token Vault exchange that works), one cheap
 * Gmail call (`users/me/profile`) checks the Gmail side too: a Gmail API disabled in the Google
 * Cloud project is `gmail_api_disabled`, a configuration problem.
 *
 * Routes: a host sent direct by a `NO_PROXY` entry although a proxy is set gets the advice
 * `MCS_PROXY_FORCE=<domain>` (where the proxy is the only way out, e.g. a sandbox); if that
 * host is then unreachable the problem is `direct_route_failed` with the same fix.
 *
 * Exit codes (like `gh auth status`, non-zero when something is wrong): 0 no problems (warnings
 * allowed), 3 a configuration problem (missing setting, no auth path, unusable cache directory,
 * bad proxy setting, a tenant setting from the checklist, the Gmail API disabled), 1 only
 * runtime problems (a host unreachable, Auth0 unavailable or rate limited). `--json` prints the
 * full report as `result` in one document that agrees with the exit code: `{"ok": true,
 * "result": {...}}` with exit 0, else `{"ok": false, "error": {"code", "message", "retryable",
 * "details"}, "result": {...}}` (`error.code` is the first problem's code). `result.healthy`,
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
  /** For problems: whether running doctor again later may pass without a change. */
  retryable?: boolean;
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
      code: e instanceof McsError ? e.code : undefined,
      retryable: e instanceof McsError ? e.retryable : true,
      error: e instanceof McsError ? `${e.code}: ${e.message}` : (e as Error).message,
    };
  }
}

/** The Gmail probe's outcome. */
interface GmailProbe {
  status: "ok" | "failed" | "skipped";
  /** The account's address, when the call worked. */
  email?: string;
  code?: string;
  message?: string;
}

/** One cheap Gmail call (`users/me/profile`) with the app's own credentials and network. */
async function probeGmail(
  config: Config,
): Promise<GmailProbe & { error?: McsError }> {
  const { buildApp } = await import("../../lib/app/mod.ts");
  const { AuthChallenge } = await import("../../lib/auth/types.ts");
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  try {
    app = await buildApp(config, { readOnly: true });
    const profile = await (await app.gmail()).getProfile();
    return { status: "ok", email: profile.emailAddress };
  } catch (e) {
    if (e instanceof AuthChallenge) {
      return { status: "skipped", code: "auth_required", message: e.message };
    }
    if (e instanceof McsError) {
      return { status: "failed", code: e.code, message: e.message, error: e };
    }
    return { status: "failed", code: "gmail_probe_failed", message: String(e) };
  } finally {
    app?.close();
  }
}

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const config = await ctx.config();
  const mode = config.authMode() ?? null;
  const issues: DoctorIssue[] = [];
  const problem = (
    category: DoctorIssue["category"],
    code: string,
    message: string,
    retryable?: boolean,
  ) =>
    issues.push({
      severity: "problem",
      category,
      code,
      message,
      ...(retryable === undefined ? {} : { retryable }),
    });
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
    const b = d.proxyBypassed;
    const advice = b
      ? `${b.entrySource} entry '${b.entry}' sends this host direct although ${b.proxySource} ` +
        `is set; where the proxy is the only way out (a sandbox), set ${b.fix}.`
      : undefined;
    return { role: h.role, url: h.url, ...d, ...(advice ? { advice } : {}) };
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
        if (!x.ok) {
          issues.push({
            severity: "problem",
            category: "runtime",
            code: x.code === "direct_route_failed" ? x.code : "host_unreachable",
            message: `Cannot reach ${r.url}: ${x.error}`,
            retryable: x.retryable,
          });
        }
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

  // The Gmail side, when a Google token can be had without the user and nothing above failed.
  let gmail: GmailProbe | null = null;
  if (!ctx.options.offline && mode !== null) {
    const gmailReached = (reachability as { role: string; ok: boolean }[] | null)
      ?.find((r) => r.role === "gmail")?.ok === true;
    const tokenAvailable = mode === "static"
      ? settings.some((s) => s.name === "gmail_token" && s.present)
      : usesAuth0 && auth0?.ok === true && !auth0.needsConnect;
    const why = !gmailReached
      ? "the Gmail host is not reachable"
      : issues.some((i) => i.severity === "problem")
      ? "fix the problems above first"
      : !tokenAvailable
      ? "no Google token can be had without the user (not connected, or not signed in)"
      : undefined;
    if (why) gmail = { status: "skipped", message: why };
    else {
      const { error, ...probe } = await probeGmail(config);
      gmail = probe;
      if (probe.status === "failed") {
        issues.push({
          severity: "problem",
          category: error?.category === "config" ? "config" : "runtime",
          code: probe.code ?? "gmail_probe_failed",
          message: `Gmail: ${probe.message}`,
          retryable: error?.retryable ?? false,
        });
      }
    }
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
    gmail,
  };
  if (ctx.json && exitCode !== EXIT.ok) {
    // One document that agrees with the exit code: a failure, with the full report kept.
    const problems = issues.filter((i) => i.severity === "problem");
    const deciding = problems.find((i) => exitCode !== EXIT.config || i.category === "config") ??
      problems[0];
    const doc = {
      ok: false,
      error: {
        code: deciding?.code ?? "doctor_problems",
        message: `mcs doctor found ${problems.length} problem(s): ${
          problems.map((i) => i.message).join(" | ")
        }`,
        retryable: exitCode === EXIT.runtime && problems.every((i) => i.retryable !== false),
        details: { exit_code: exitCode, problems: problems.map((i) => i.code) },
      },
      result,
    };
    ctx.io.out(JSON.stringify(doc) + "\n");
    ctx.io.err(`mcs: doctor found ${problems.length} problem(s) (exit ${exitCode}).\n`);
    return { result, printed: true, exitCode };
  }
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
  problem: (
    category: DoctorIssue["category"],
    code: string,
    message: string,
    retryable?: boolean,
  ) => void,
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
    problem(f.category, f.code, `Auth0: ${f.setting} — ${f.fix}${items}${detail}`, f.retryable);
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
  routes: {
    role: string;
    url: string;
    route: string;
    proxy?: string;
    reason: string;
    advice?: string;
  }[];
  reachability: unknown[] | null;
  auth0: DiagnoseReport | null;
  auth0_skipped: string | null;
  gmail: GmailProbe | null;
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
    ...r.routes.flatMap((x) => [
      `  ${x.role.padEnd(8)} ${x.url}  ${x.route}${x.proxy ? ` via ${x.proxy}` : ""} (${x.reason})`,
      ...(x.advice ? [`           ! ${x.advice}`] : []),
    ]),
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
  if (r.gmail) {
    const g = r.gmail;
    lines.push(
      "",
      g.status === "ok"
        ? `Gmail probe: ✓ users/me/profile (${g.email})`
        : g.status === "skipped"
        ? `Gmail probe: skipped (${g.message})`
        : `Gmail probe: ✗ ${g.code}: ${g.message}`,
    );
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
