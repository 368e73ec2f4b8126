/**
 * The command table: every command's path, summary, usage, options and the module that runs it
 * (loaded with a dynamic `import()` only when that command runs, so `mcs --version` and
 * `mcs tools --json` never load auth, Gmail or emulator code). Help text is generated from it.
 *
 * @example
 * ```ts
 * import { COMMANDS, findCommand } from "./spec.ts";
 * findCommand(["mail", "search", "is:unread"])?.command.path; // ["mail", "search"]
 * ```
 * @module
 */

import { SETTINGS } from "../lib/config/settings.ts";
import type { CommandModule } from "./context.ts";

/** An option as `cli/argv.ts` parses it (`node:util` parseArgs shape), plus help text. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Value placeholder in help, e.g. "N". */
  arg?: string;
  help: string;
}

/** One command. */
export interface CommandSpec {
  path: string[];
  summary: string;
  /** Positional arguments as shown in usage, e.g. "<query...>". */
  args?: string;
  /** Minimum and maximum positional count (max undefined = unbounded). */
  positionals: { min: number; max?: number };
  options?: Record<string, OptionSpec>;
  /** Extra help paragraphs. */
  details?: string;
  /** True when the command's output is always the JSON document (exec). */
  alwaysJson?: boolean;
  load: () => Promise<CommandModule>;
}

/** Auth-mode shortcut flags: `--auth0` is `--auth auth0`, and so on. */
export const MODE_FLAGS = ["auth0", "auth0-oauth", "auth0-linkauth", "linkauth", "static"] as const;

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  help: { type: "boolean", short: "h", help: "Show help" },
  version: { type: "boolean", short: "V", help: "Show the version" },
  json: { type: "boolean", help: "Print one JSON document on stdout (the agent contract)" },
  profile: { type: "string", arg: "NAME", help: "Profile (config section and cache namespace)" },
  config: { type: "string", arg: "PATH", help: "Config file (default ~/.config/mcs/config.toml)" },
  "secrets-stdin": {
    type: "boolean",
    help: "Read secrets as NAME=value lines from stdin (e.g. MCS_AUTH0_CLIENT_SECRET=...)",
  },
  ...Object.fromEntries(MODE_FLAGS.map((m) => [m, {
    type: "boolean" as const,
    help: `Use the ${m} auth path (same as --auth ${m} or MCS_AUTH=${m})`,
  }])),
  ...Object.fromEntries(
    SETTINGS.filter((s) => s.flag && !s.secret).map((s) => [s.flag!, {
      type: s.type === "boolean" ? "boolean" as const : "string" as const,
      arg: s.type === "boolean" ? undefined : s.type === "enum" ? "MODE" : s.type.toUpperCase(),
      help: `${s.description} [${s.env}]`,
    }]),
  ),
};

const body: Record<string, OptionSpec> = {
  body: { type: "string", arg: "TEXT", help: "Plain-text body" },
  "body-file": { type: "string", arg: "PATH", help: "Read the body from a file ('-' = stdin)" },
  "html-file": { type: "string", arg: "PATH", help: "HTML body from a file" },
  attach: { type: "string", multiple: true, arg: "PATH", help: "Attach a file (repeatable)" },
};
const compose: Record<string, OptionSpec> = {
  to: {
    type: "string",
    multiple: true,
    arg: "ADDR",
    help: "Recipient (repeatable or comma-separated)",
  },
  cc: { type: "string", multiple: true, arg: "ADDR", help: "CC recipient" },
  bcc: { type: "string", multiple: true, arg: "ADDR", help: "BCC recipient" },
  "reply-to": { type: "string", arg: "ADDR", help: "Reply-To address" },
  subject: { type: "string", short: "s", arg: "TEXT", help: "Subject" },
  ...body,
};
const page: Record<string, OptionSpec> = {
  limit: {
    type: "string",
    short: "n",
    arg: "N",
    help: "Maximum results, 1-100 (default 20; more is capped at 100)",
  },
  "page-token": { type: "string", arg: "T", help: "Continue from a previous next_page_token" },
};

const auth = () => import("./commands/auth.ts");
const mail = () => import("./commands/mail.ts");

/** Every command. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    path: ["auth", "login"],
    summary: "Authorize mcs (prints the URL and code to open; --wait polls until done)",
    positionals: { min: 0, max: 0 },
    options: {
      wait: { type: "boolean", short: "w", help: "Wait, polling, until you have finished" },
      timeout: {
        type: "string",
        arg: "SECONDS",
        help: "Give up waiting after this long (default 900)",
      },
      scope: { type: "string", arg: "SCOPE", help: "Scope to authorize (default gmail)" },
    },
    details:
      "Without --wait, login exits with code 4 and prints what to do; run it again after you acted.",
    load: auth,
  },
  {
    path: ["auth", "status"],
    summary: "Show the auth mode, stored state, token expiry and connected accounts (no secrets)",
    positionals: { min: 0, max: 0 },
    load: auth,
  },
  {
    path: ["auth", "token"],
    summary: "Print an access token for scripts",
    args: "[scope]",
    positionals: { min: 0, max: 1 },
    load: auth,
  },
  {
    path: ["auth", "logout"],
    summary: "Remove this profile's stored state",
    positionals: { min: 0, max: 0 },
    load: auth,
  },
  {
    path: ["mail", "search"],
    summary: "Search messages (Gmail query syntax: from:alice is:unread)",
    args: "[query...]",
    positionals: { min: 0 },
    options: page,
    load: mail,
  },
  {
    path: ["mail", "read"],
    summary: "Read a message",
    args: "<id>",
    positionals: { min: 1, max: 1 },
    options: {
      "max-chars": { type: "string", arg: "N", help: "Truncate the body (default 20000)" },
      html: { type: "boolean", help: "Print the HTML body instead of the text" },
    },
    load: mail,
  },
  {
    path: ["mail", "threads"],
    summary: "Search conversations (Gmail query syntax), one line per thread",
    args: "[query...]",
    positionals: { min: 0 },
    options: page,
    load: mail,
  },
  {
    path: ["mail", "thread"],
    summary: "Read a whole conversation",
    args: "<thread-id>",
    positionals: { min: 1, max: 1 },
    load: mail,
  },
  {
    path: ["mail", "send"],
    summary: "Send a message (body from --body, --body-file or stdin)",
    positionals: { min: 0, max: 0 },
    options: compose,
    load: mail,
  },
  {
    path: ["mail", "reply"],
    summary: "Reply in a message's thread",
    args: "<id>",
    positionals: { min: 1, max: 1 },
    options: {
      all: { type: "boolean", help: "Reply to all recipients" },
      cc: compose.cc,
      bcc: compose.bcc,
      ...body,
    },
    load: mail,
  },
  {
    path: ["mail", "draft", "create"],
    summary: "Save a draft",
    positionals: { min: 0, max: 0 },
    options: {
      ...compose,
      "reply-to-id": { type: "string", arg: "ID", help: "Make the draft a reply to this message" },
    },
    load: mail,
  },
  {
    path: ["mail", "draft", "list"],
    summary: "List drafts",
    positionals: { min: 0, max: 0 },
    options: page,
    load: mail,
  },
  {
    path: ["mail", "draft", "send"],
    summary: "Send a draft",
    args: "<draft-id>",
    positionals: { min: 1, max: 1 },
    load: mail,
  },
  {
    path: ["mail", "labels"],
    summary: "List labels",
    positionals: { min: 0, max: 0 },
    load: mail,
  },
  {
    path: ["mail", "modify"],
    summary: "Change labels and flags of messages",
    args: "<id...>",
    positionals: { min: 1 },
    options: {
      add: { type: "string", multiple: true, arg: "LABEL", help: "Add a label (name or id)" },
      remove: { type: "string", multiple: true, arg: "LABEL", help: "Remove a label" },
      read: { type: "boolean", help: "Mark as read" },
      unread: { type: "boolean", help: "Mark as unread" },
      archive: { type: "boolean", help: "Remove from the inbox" },
      star: { type: "boolean", help: "Star" },
      unstar: { type: "boolean", help: "Remove the star" },
    },
    load: mail,
  },
  {
    path: ["mail", "trash"],
    summary: "Move a message to the trash",
    args: "<id>",
    positionals: { min: 1, max: 1 },
    load: mail,
  },
  {
    path: ["mail", "attachment"],
    summary: "Download an attachment",
    args: "<message-id> <attachment-id>",
    positionals: { min: 2, max: 2 },
    options: {
      out: { type: "string", short: "o", arg: "DIR", help: "Directory (default .)" },
      overwrite: {
        type: "boolean",
        help: "Replace an existing file of the same name (default: pick name (1).ext)",
      },
    },
    load: mail,
  },
  {
    path: ["tools"],
    summary: "List the agent tools with their JSON Schema parameters",
    positionals: { min: 0, max: 0 },
    load: () => import("./commands/tools.ts"),
  },
  {
    path: ["exec"],
    summary: "Run one agent tool: mcs exec <tool> '<json>' (or - to read the JSON from stdin)",
    args: "<tool> [<json>|-]",
    positionals: { min: 1, max: 2 },
    alwaysJson: true,
    details:
      "Always prints one JSON document: {ok:true,result} (exit 0), {ok:false,auth_required:true,...} " +
      "(exit 4), {ok:false,error:{code,message,retryable}} (exit 1; 2 bad arguments; 3 configuration).",
    load: () => import("./commands/exec.ts"),
  },
  {
    path: ["mcp"],
    summary: "Run the agent tools as an MCP server on stdio (for Claude, Cursor, VS Code, ...)",
    positionals: { min: 0, max: 0 },
    details: "stdout carries MCP protocol messages only; logs go to stderr. Sign-in steps come " +
      "back as tool results (or URL elicitations for clients that support them). " +
      "MCS_MCP_LEGACY_TOOLS=1 also lists the original SDK's nine tool names.",
    load: () => import("./commands/mcp.ts"),
  },
  {
    path: ["serve"],
    summary: "Serve the agent tools over HTTP: MCP at /mcp, OpenAPI at /openapi.json",
    positionals: { min: 0, max: 0 },
    options: {
      host: { type: "string", arg: "HOST", help: "Address to listen on (default 127.0.0.1)" },
      port: { type: "string", arg: "PORT", help: "Port (default 8765; 0 picks a free one)" },
    },
    details: "With MCS_SERVE_API_KEY set, every request needs Authorization: Bearer <key>. " +
      "A non-loopback --host without a key refuses to start. Requests from a browser Origin " +
      "that is not a loopback one (nor in MCS_SERVE_ALLOWED_ORIGINS, comma-separated) get 403. " +
      "Team mode (one sign-in per user): MCS_SERVE_USER_JWT_SECRET (Open WebUI's signed " +
      "X-OpenWebUI-User-Jwt) or MCS_SERVE_USER_HEADER (with the key). Also /healthz, /readyz; " +
      "SIGTERM drains calls in flight.",
    load: () => import("./commands/serve.ts"),
  },
  {
    path: ["broker", "serve"],
    summary: "Run a LinkAuth-compatible credential broker (production; LinkAuth's env names)",
    positionals: { min: 0, max: 0 },
    options: {
      host: {
        type: "string",
        arg: "HOST",
        help: "Address to listen on (default MCS_BROKER_HOST or 127.0.0.1)",
      },
      port: {
        type: "string",
        arg: "PORT",
        help: "Port (default MCS_BROKER_PORT or 8080; 0 picks a free one)",
      },
    },
    details: "Configured like LinkAuth v0.2: LINKAUTH_BASE_URL, LINKAUTH_API_KEYS (required), " +
      "LINKAUTH_ALLOWED_DOMAINS, OAUTH_<NAME>_CLIENT_ID/_CLIENT_SECRET/_ISSUER (or _AUTH_URL and " +
      "_TOKEN_URL); plus MCS_BROKER_STATE_DIR, MCS_BROKER_TLS_CERT/_KEY, " +
      "MCS_BROKER_TRUSTED_PROXIES, MCS_BROKER_ALLOW_PRIVATE=1, MCS_BROKER_API_KEY_RATE " +
      "(requests per API key per minute, default 600). Serves /health and /metrics (open on " +
      "loopback; elsewhere only with MCS_BROKER_METRICS_TOKEN as a bearer token, else 404). " +
      "Runs until SIGINT or SIGTERM, then finishes requests in flight.",
    load: () => import("./commands/broker.ts"),
  },
  {
    path: ["doctor"],
    summary: "Check settings, cache directory, network routes and the Auth0 tenant",
    positionals: { min: 0, max: 0 },
    options: {
      offline: { type: "boolean", help: "Skip reachability and live checks" },
    },
    details: "Exit status: 0 no problems (warnings, such as settings that cannot be verified " +
      "until later, still exit 0); 3 a configuration problem (missing setting, no auth path, " +
      "unusable cache directory, bad proxy setting, a missing Auth0 tenant setting); 1 only " +
      "runtime problems (a host unreachable, Auth0 unavailable or rate limited). With --json the " +
      'full report is one {"ok":true,"result":{...}} document whatever the exit status: ' +
      "result.healthy, result.exit_code, result.problems, result.warnings, and result.issues " +
      "(severity, category, stable code).",
    load: () => import("./commands/doctor.ts"),
  },
  {
    path: ["dev"],
    summary: "Run local Auth0, LinkAuth and Gmail emulators (HTTPS, throwaway CA) until Ctrl-C",
    positionals: { min: 0, max: 0 },
    options: { "state-dir": { type: "string", arg: "DIR", help: "Where to write the CA file" } },
    load: () => import("./commands/dev.ts"),
  },
  {
    path: ["dev", "demo"],
    summary: "Run the end-to-end demo against the local emulators (no account, no network)",
    positionals: { min: 0, max: 0 },
    load: () => import("./commands/demo.ts"),
  },
  {
    path: ["skill", "build"],
    summary: "Generate skills/gmail/SKILL.md from the tool catalogue",
    positionals: { min: 0, max: 0 },
    options: {
      check: { type: "boolean", help: "Exit 1 if SKILL.md would change" },
      out: { type: "string", arg: "DIR", help: "Skill directory (default skills/gmail)" },
    },
    load: () => import("./commands/skill.ts"),
  },
];

/** Find the longest command path at the start of `words`. */
export function findCommand(
  words: string[],
): { command: CommandSpec; rest: string[] } | undefined {
  let best: CommandSpec | undefined;
  for (const c of COMMANDS) {
    if (c.path.every((p, i) => words[i] === p) && (!best || c.path.length > best.path.length)) {
      best = c;
    }
  }
  return best ? { command: best, rest: words.slice(best.path.length) } : undefined;
}

/** Command groups (`auth`, `mail`, `mail draft`, ...) that are not commands themselves. */
export function groupOf(words: string[]): string[] | undefined {
  for (let n = Math.min(words.length, 2); n >= 1; n--) {
    const prefix = words.slice(0, n);
    if (
      COMMANDS.some((c) => c.path.length > n && prefix.every((p, i) => c.path[i] === p))
    ) return prefix;
  }
  return undefined;
}
