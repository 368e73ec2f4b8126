/**
 * The one resolver for every setting: command-line flag > environment (incl. the original Python
 * skill's aliases) > config file (the selected profile, then the file's top level) > default.
 *
 * Config file: `$MCS_CONFIG`, else `$XDG_CONFIG_HOME/mcs/config.toml`, else
 * `~/.config/mcs/config.toml` (absent is fine). Profiles: `--profile` or `MCS_PROFILE` selects a
 * `[profiles.<name>]` table whose keys override the top-level keys.
 *
 * Secrets are accepted from the environment, the config file or stdin (`--secrets-stdin`), never
 * from argv. A missing setting gives one {@link ConfigError} naming the setting, the environment
 * variable and the config key.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./resolve.ts";
 * import { mapEnv } from "./env.ts";
 * const cfg = await resolveConfig({ env: mapEnv({ MCS_AUTH: "static", MCS_GMAIL_TOKEN: "t" }) });
 * cfg.get("auth"); // "static"
 * cfg.require("gmail_token"); // "t"
 * cfg.source("auth"); // { kind: "env", name: "MCS_AUTH" }
 * ```
 * @module
 */

import { ConfigError } from "../errors.ts";
import { denoEnv, type EnvSource } from "./env.ts";
import { parseOrigin } from "./origin.ts";
import { AUTH_MODES, type AuthMode, type Setting, type SettingName, SETTINGS } from "./settings.ts";

/** Where a resolved value came from. */
export type ValueSource =
  | { kind: "flag"; name: string }
  | { kind: "stdin"; name: string }
  | { kind: "env"; name: string }
  | { kind: "file"; path: string; key: string; profile?: string }
  | { kind: "default" }
  | { kind: "unset" };

/** Inputs of {@link resolveConfig}. */
export interface ResolveOptions {
  /** Values from command-line flags, by setting name (non-secret settings only). */
  flags?: Partial<Record<SettingName, string>>;
  /** Secrets read from stdin, by setting name or env variable name. */
  stdin?: Record<string, string>;
  /** The environment (default: the process environment). */
  env?: EnvSource;
  /** Profile from `--profile` (wins over `MCS_PROFILE`). */
  profile?: string;
  /** Config file path from `--config` (wins over `MCS_CONFIG`). */
  configPath?: string;
  /** Reads a file as text; `undefined` when it does not exist. Injectable for tests. */
  readFile?: (path: string) => Promise<string | undefined>;
  /** The file's permission bits (null when unknown, e.g. Windows). Injectable for tests. */
  fileMode?: (path: string) => Promise<number | null>;
}

/** A resolved configuration. */
export interface Config {
  /** The selected profile ("default" when none). */
  readonly profile: string;
  /** The config file consulted, and whether it existed. */
  readonly file: { path?: string; exists: boolean };
  /** The value of a setting, or undefined. */
  get(name: SettingName): string | undefined;
  /** The value of a setting or a {@link ConfigError} naming the setting, env variable and key. */
  require(name: SettingName, why?: string): string;
  /** A boolean setting. */
  bool(name: SettingName): boolean;
  /** A list setting (comma or whitespace separated). */
  list(name: SettingName): string[];
  /** The auth mode (validated). */
  authMode(): AuthMode | undefined;
  /** Where a value came from (for `mcs doctor` and `mcs auth status`). */
  source(name: SettingName): ValueSource;
  /** The environment the config was resolved against (for the network layer). */
  readonly env: EnvSource;
}

async function defaultReadFile(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    const why = e instanceof Deno.errors.NotCapable
      ? "this build's permissions do not allow reading it (--allow-read; see lib/build/PACKAGING.md)"
      : (e as Error).message;
    throw new ConfigError("config_file_unreadable", `Cannot read config file ${path}: ${why}.`, {
      details: { path, denied: e instanceof Deno.errors.NotCapable },
    });
  }
}

async function defaultFileMode(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).mode;
  } catch {
    return null;
  }
}

/** The default config-file path for an environment. */
export function defaultConfigPath(env: EnvSource): string | undefined {
  const explicit = env.get("MCS_CONFIG");
  if (explicit) return explicit;
  const xdg = env.get("XDG_CONFIG_HOME");
  if (xdg) return `${xdg}/mcs/config.toml`;
  const home = env.get("HOME");
  return home ? `${home}/.config/mcs/config.toml` : undefined;
}

const PROFILE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function validate(setting: Setting, raw: string, where: string): string {
  const value = raw.trim();
  const bad = (what: string) =>
    new ConfigError(
      "invalid_setting",
      `${where} sets ${setting.name} to an invalid value: ${what}. ${setting.description}.`,
      { details: { setting: setting.name, env: setting.env } },
    );
  switch (setting.type) {
    case "enum":
      if (!setting.values?.includes(value)) {
        throw bad(
          `expected one of ${setting.values?.join(", ")}${
            setting.secret ? "" : `, got "${value}"`
          }`,
        );
      }
      return value;
    case "boolean": {
      const v = value.toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return "true";
      if (["0", "false", "no", "off"].includes(v)) return "false";
      throw bad(`expected true or false, got "${value}"`);
    }
    case "port": {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0 || n > 65535) {
        throw bad(`expected a port 0-65535, got "${value}"`);
      }
      return String(n);
    }
    case "origin": {
      const parsed = parseOrigin(value);
      if (!parsed.ok) throw bad(parsed.message);
      return value.replace(/\/+$/, "");
    }
    case "url": {
      let u: URL;
      try {
        u = new URL(value);
      } catch {
        throw bad(`expected an http(s) URL, got "${value}"`);
      }
      if (u.protocol !== "https:" && u.protocol !== "http:") {
        throw bad(`expected an http(s) URL, got "${value}"`);
      }
      return value.replace(/\/+$/, "");
    }
    default:
      if (/[\r\n\0]/.test(value)) throw bad("it contains a line break or NUL");
      return value;
  }
}

function tableOf(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
}

/**
 * Resolve the configuration. Reads the config file once (if it exists); never touches the cache
 * directory or the network.
 * @throws {ConfigError} on an unparsable config file, an unknown key, an invalid value or profile.
 */
export async function resolveConfig(options: ResolveOptions = {}): Promise<Config> {
  const env = options.env ?? denoEnv;
  const readFile = options.readFile ?? defaultReadFile;
  const fileMode = options.fileMode ?? defaultFileMode;
  const profile = options.profile ?? env.get("MCS_PROFILE") ?? "default";
  if (!PROFILE_RE.test(profile)) {
    throw new ConfigError(
      "invalid_profile",
      `Profile name "${profile}" is invalid: use letters, digits, '.', '_' or '-' (max 64).`,
    );
  }
  const path = options.configPath ?? defaultConfigPath(env);
  let fileTop: Record<string, unknown> = {};
  let fileProfile: Record<string, unknown> | undefined;
  let exists = false;
  let hasProfiles = false;
  let profileNames: string[] = [];
  if (path) {
    let text: string | undefined;
    try {
      text = await readFile(path);
    } catch (e) {
      // The implicit default path may lie outside a least-privilege build's read grant: that is
      // "no config file". A file the user named (MCS_CONFIG, --config) must be read or reported.
      const implicit = options.configPath === undefined && env.get("MCS_CONFIG") === undefined;
      if (!(implicit && e instanceof ConfigError && e.details?.denied === true)) throw e;
    }
    if (text !== undefined) {
      exists = true;
      let doc: Record<string, unknown>;
      // The TOML parser loads only when there is a file to parse (most runs have none).
      const { parse: parseToml } = await import("smol-toml");
      try {
        doc = parseToml(text) as Record<string, unknown>;
      } catch (e) {
        const msg = (e as Error).message.split("\n")[0];
        throw new ConfigError(
          "config_file_invalid",
          `Config file ${path} is not valid TOML: ${msg}`,
        );
      }
      const { profiles, ...top } = doc;
      fileTop = top;
      const profTable = tableOf(profiles);
      if (profiles !== undefined && !profTable) {
        throw new ConfigError(
          "config_file_invalid",
          `Config file ${path}: "profiles" must be a table of [profiles.<name>] tables.`,
        );
      }
      fileProfile = tableOf(profTable?.[profile]);
      profileNames = Object.keys(profTable ?? {});
      hasProfiles = profileNames.length > 0;
      for (
        const [where, table] of [["top level", fileTop], [
          `[profiles.${profile}]`,
          fileProfile ?? {},
        ]] as const
      ) {
        for (const key of Object.keys(table)) {
          if (!SETTINGS.some((s) => s.name === key)) {
            throw new ConfigError(
              "config_file_invalid",
              `Config file ${path} (${where}): unknown key "${key}". Known keys: ${
                SETTINGS.map((s) => s.name).join(", ")
              }.`,
            );
          }
        }
      }
      // Like ssh with private keys: secrets in a file others can read are refused, not used.
      const secrets = SETTINGS.filter((x) =>
        x.secret && (x.name in fileTop || (fileProfile !== undefined && x.name in fileProfile))
      ).map((x) => x.name);
      const mode = secrets.length ? await fileMode(path) : null;
      if (mode !== null && (mode & 0o077) !== 0) {
        throw new ConfigError(
          "config_file_insecure",
          `Config file ${path} holds secrets (${secrets.join(", ")}) but other users can read it ` +
            `(mode ${(mode & 0o777).toString(8).padStart(4, "0")}). Run: chmod 600 ${path}`,
          { details: { path, settings: secrets } },
        );
      }
    }
  }
  if (profile !== "default" && !fileProfile && hasProfiles) {
    // The file defines profiles but not this one: almost certainly a typo, and silently using
    // an empty state would start a new login.
    throw new ConfigError(
      "unknown_profile",
      `Profile "${profile}" is not defined in ${path} (defined: ${
        profileNames.join(", ")
      }). Add a [profiles.${profile}] table or pick one of those.`,
    );
  }

  const values = new Map<SettingName, { value: string; source: ValueSource }>();
  for (const s of SETTINGS) {
    const flag = options.flags?.[s.name];
    if (flag !== undefined) {
      if (s.secret) {
        throw new ConfigError(
          "secret_in_argv",
          `${s.name} is a secret and is never accepted on the command line (it would be visible in the process list). Set ${s.env}, put ${s.name} in the config file, or pipe it with --secrets-stdin.`,
        );
      }
      values.set(s.name, {
        value: validate(s, flag, `--${s.flag}`),
        source: { kind: "flag", name: `--${s.flag}` },
      });
      continue;
    }
    const fromStdin = options.stdin?.[s.name] ?? options.stdin?.[s.env];
    if (fromStdin !== undefined && fromStdin !== "") {
      values.set(s.name, {
        value: validate(s, fromStdin, "stdin"),
        source: { kind: "stdin", name: s.env },
      });
      continue;
    }
    let found = false;
    for (const name of [s.env, ...(s.aliases ?? [])]) {
      const v = env.get(name);
      if (v !== undefined) {
        values.set(s.name, { value: validate(s, v, name), source: { kind: "env", name } });
        found = true;
        break;
      }
    }
    if (found) continue;
    for (const [table, prof] of [[fileProfile, profile], [fileTop, undefined]] as const) {
      const raw = table?.[s.name];
      if (raw === undefined) continue;
      if (
        typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean" &&
        !Array.isArray(raw)
      ) {
        throw new ConfigError(
          "config_file_invalid",
          `Config file ${path}: ${s.name} must be a string, number, boolean or list.`,
        );
      }
      const text = Array.isArray(raw) ? raw.map(String).join(",") : String(raw);
      values.set(s.name, {
        value: validate(s, text, `${path} (${s.name})`),
        source: { kind: "file", path: path!, key: s.name, profile: prof },
      });
      found = true;
      break;
    }
    if (!found && s.default !== undefined) {
      values.set(s.name, { value: s.default, source: { kind: "default" } });
    }
  }

  const cfg: Config = {
    profile,
    file: { path, exists },
    env,
    get: (name) => values.get(name)?.value,
    require(name, why) {
      const v = values.get(name)?.value;
      if (v !== undefined) return v;
      const s = SETTINGS.find((x) => x.name === name)!;
      const how = [
        `set ${s.env}${s.aliases?.length ? ` (or ${s.aliases.join(", ")})` : ""}`,
        s.flag ? `pass --${s.flag}` : undefined,
        `add the key ${s.name} to ${path ?? "~/.config/mcs/config.toml"}${
          profile !== "default" ? ` under [profiles.${profile}]` : ""
        }`,
        s.secret ? "or pipe it with --secrets-stdin" : undefined,
      ].filter(Boolean).join(", ");
      throw new ConfigError(
        "missing_setting",
        // "name. Set ..." rather than "name: set ...": `name: value` reads like a secret to redact().
        `Missing setting ${s.name}${why ? ` (${why})` : ""}. ${how[0].toUpperCase()}${
          how.slice(1)
        }. ${s.description}.`,
        { details: { setting: s.name, env: s.env, key: s.name } },
      );
    },
    bool: (name) => values.get(name)?.value === "true",
    list: (name) =>
      (values.get(name)?.value ?? "").split(/[\s,]+/).map((x) => x.trim()).filter((x) => x !== ""),
    authMode() {
      const v = values.get("auth")?.value;
      return v === undefined
        ? undefined
        : (AUTH_MODES as readonly string[]).includes(v)
        ? v as AuthMode
        : undefined;
    },
    source: (name) => values.get(name)?.source ?? { kind: "unset" },
  };
  return cfg;
}

/**
 * Parse secrets piped on stdin for `--secrets-stdin`: `NAME=value` lines (env-file style;
 * `#` comments and blank lines ignored; NAME is an env variable or a config key).
 * @throws {ConfigError} on a malformed line (the value is never echoed).
 */
export function parseSecretsInput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const known = new Set(SETTINGS.flatMap((s) => [s.name, s.env, ...(s.aliases ?? [])]));
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) return;
    const eq = t.indexOf("=");
    const name = eq > 0 ? t.slice(0, eq).trim().replace(/^export\s+/, "") : "";
    if (!name || !known.has(name)) {
      throw new ConfigError(
        "invalid_secrets_input",
        `--secrets-stdin line ${
          i + 1
        }: expected NAME=value with NAME a setting such as MCS_AUTH0_CLIENT_SECRET${
          name ? ` (unknown name "${name}")` : ""
        }.`,
      );
    }
    let value = t.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
      value = value.slice(1, -1);
    }
    out[name] = value;
  });
  return out;
}
