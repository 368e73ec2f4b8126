import { assert, assertEquals, assertRejects, assertThrows } from "../support/assert.ts";
import { parseSecretsInput, resolveConfig } from "../../lib/config/resolve.ts";
import { mapEnv } from "../../lib/config/env.ts";
import { allEnvNames, SETTINGS } from "../../lib/config/settings.ts";
import { ConfigError } from "../../lib/errors.ts";

const files = (map: Record<string, string>) => (path: string) => Promise.resolve(map[path]);

Deno.test("precedence: flag > env > file profile > file top level > default", async () => {
  const readFile = files({
    "/cfg.toml": `auth0_domain = "top.example.com"
gmail_api_base = "https://top.example"
auth0_connection = "top-conn"
[profiles.work]
auth0_domain = "work.example.com"
auth0_connection = "work-conn"
`,
  });
  const env = mapEnv({ MCS_CONFIG: "/cfg.toml", MCS_AUTH0_CONNECTION: "env-conn" });
  const cfg = await resolveConfig({
    env,
    readFile,
    profile: "work",
    flags: { gmail_api_base: "https://flag.example/" },
  });
  assertEquals(cfg.profile, "work");
  assertEquals(cfg.get("gmail_api_base"), "https://flag.example");
  assertEquals(cfg.source("gmail_api_base"), { kind: "flag", name: "--gmail-api-base" });
  assertEquals(cfg.get("auth0_connection"), "env-conn");
  assertEquals(cfg.get("auth0_domain"), "work.example.com");
  assertEquals(cfg.source("auth0_domain"), {
    kind: "file",
    path: "/cfg.toml",
    key: "auth0_domain",
    profile: "work",
  });
  const top = await resolveConfig({ env: mapEnv({ MCS_CONFIG: "/cfg.toml" }), readFile });
  assertEquals(top.get("auth0_domain"), "top.example.com");
  assertEquals(top.get("auth0_connection"), "top-conn");
  const none = await resolveConfig({ env: mapEnv({}), readFile });
  assertEquals(none.get("auth0_connection"), "google-oauth2");
  assertEquals(none.source("auth0_connection"), { kind: "default" });
  assertEquals(none.get("gmail_api_base"), "https://gmail.googleapis.com");
});

Deno.test("config file location: MCS_CONFIG, then XDG_CONFIG_HOME, then HOME", async () => {
  const seen: string[] = [];
  const readFile = (p: string) => {
    seen.push(p);
    return Promise.resolve(undefined);
  };
  await resolveConfig({ env: mapEnv({ XDG_CONFIG_HOME: "/x", HOME: "/h" }), readFile });
  await resolveConfig({ env: mapEnv({ HOME: "/h" }), readFile });
  await resolveConfig({ env: mapEnv({ MCS_CONFIG: "/m.toml", HOME: "/h" }), readFile });
  assertEquals(seen, ["/x/mcs/config.toml", "/h/.config/mcs/config.toml", "/m.toml"]);
});

Deno.test("the original Python skill's variable names are accepted as aliases", async () => {
  const cfg = await resolveConfig({
    env: mapEnv({
      MCS_GMAIL_AUTH0_DOMAIN: "old.example.com",
      MCS_GMAIL_AUTH0_CLIENT_ID: "cid",
      MCS_GMAIL_AUTH0_CLIENT_SECRET: "sec",
      MCS_GMAIL_AUTH0_AUDIENCE: "aud",
      MCS_GMAIL_LINKAUTH_BROKER_URL: "https://broker.example",
      MCS_GMAIL_LINKAUTH_API_KEY: "key",
    }),
    readFile: files({}),
  });
  assertEquals(cfg.get("auth0_domain"), "old.example.com");
  assertEquals(cfg.get("auth0_client_id"), "cid");
  assertEquals(cfg.get("auth0_client_secret"), "sec");
  assertEquals(cfg.get("auth0_audience"), "aud");
  assertEquals(cfg.get("linkauth_broker_url"), "https://broker.example");
  assertEquals(cfg.get("linkauth_api_key"), "key");
  assertEquals(cfg.source("auth0_domain"), { kind: "env", name: "MCS_GMAIL_AUTH0_DOMAIN" });
  // The new name wins over the alias.
  const both = await resolveConfig({
    env: mapEnv({ MCS_GMAIL_AUTH0_DOMAIN: "old", MCS_AUTH0_DOMAIN: "new" }),
    readFile: files({}),
  });
  assertEquals(both.get("auth0_domain"), "new");
});

Deno.test("secrets are refused on argv with a message that says how to pass them", async () => {
  const err = await assertRejects(
    () =>
      resolveConfig({
        env: mapEnv({}),
        readFile: files({}),
        flags: { auth0_client_secret: "s3cr3t-value" },
      }),
    ConfigError,
  );
  assertEquals(err.code, "secret_in_argv");
  assert(err.message.includes("MCS_AUTH0_CLIENT_SECRET"));
  assert(err.message.includes("--secrets-stdin"));
  assert(!err.message.includes("s3cr3t-value"));
});

Deno.test("secrets from stdin beat the environment", async () => {
  const stdin = parseSecretsInput(
    "# comment\nMCS_AUTH0_CLIENT_SECRET='from stdin'\nexport MCS_LINKAUTH_API_KEY=k2\n\n",
  );
  const cfg = await resolveConfig({
    env: mapEnv({ MCS_AUTH0_CLIENT_SECRET: "from env" }),
    readFile: files({}),
    stdin,
  });
  assertEquals(cfg.get("auth0_client_secret"), "from stdin");
  assertEquals(cfg.get("linkauth_api_key"), "k2");
  assertEquals(cfg.source("auth0_client_secret"), {
    kind: "stdin",
    name: "MCS_AUTH0_CLIENT_SECRET",
  });
  const err = assertThrows(() => parseSecretsInput("NOPE=abcdef-secret"), ConfigError);
  assert(!err.message.includes("abcdef-secret"));
});

Deno.test("a missing setting names the setting, the env variable and the config key", async () => {
  const cfg = await resolveConfig({ env: mapEnv({ HOME: "/h" }), readFile: files({}) });
  const err = assertThrows(() => cfg.require("auth0_client_secret"), ConfigError);
  assertEquals(err.code, "missing_setting");
  assert(err.message.includes("auth0_client_secret"));
  assert(err.message.includes("MCS_AUTH0_CLIENT_SECRET"));
  assert(err.message.includes("MCS_GMAIL_AUTH0_CLIENT_SECRET"));
  assert(err.message.includes("/h/.config/mcs/config.toml"));
  assertEquals(err.category, "config");
});

Deno.test("invalid values, unknown keys and broken TOML are clear configuration errors", async () => {
  const bad = async (env: Record<string, string>, map: Record<string, string> = {}) =>
    await assertRejects(
      () => resolveConfig({ env: mapEnv({ MCS_CONFIG: "/c.toml", ...env }), readFile: files(map) }),
      ConfigError,
    );
  const e1 = await bad({ MCS_AUTH: "auth1" });
  assert(e1.message.includes("auth0-linkauth"), e1.message);
  assert(e1.message.includes("MCS_AUTH"));
  const e2 = await bad({ MCS_AUTH0_VIA_BROKER: "maybe" });
  assert(e2.message.includes("true or false"));
  const e3 = await bad({ MCS_GMAIL_API_BASE: "ftp://x" });
  assert(e3.message.includes("http(s) URL"));
  const e4 = await bad({}, { "/c.toml": "auth0_domian = 'x'" });
  assert(e4.message.includes('unknown key "auth0_domian"'));
  const e5 = await bad({}, { "/c.toml": "auth0_domain = " });
  assertEquals(e5.code, "config_file_invalid");
  assert(e5.message.includes("/c.toml"));
  const e6 = await bad({ MCS_AUTH0_CALLBACK_PORT: "70000" });
  assert(e6.message.includes("port"));
});

Deno.test("profiles: MCS_PROFILE selects, a typo against a file with profiles is an error", async () => {
  const readFile = files({
    "/c.toml": `[profiles.work]\nauth = "static"\n[profiles.home]\nauth = "auth0"\n`,
  });
  const cfg = await resolveConfig({
    env: mapEnv({ MCS_CONFIG: "/c.toml", MCS_PROFILE: "home" }),
    readFile,
  });
  assertEquals(cfg.authMode(), "auth0");
  const err = await assertRejects(
    () => resolveConfig({ env: mapEnv({ MCS_CONFIG: "/c.toml" }), readFile, profile: "wrok" }),
    ConfigError,
  );
  assertEquals(err.code, "unknown_profile");
  assert(err.message.includes("work, home"));
  // Without a config file a profile is just a separate state namespace.
  const bare = await resolveConfig({ env: mapEnv({}), readFile: files({}), profile: "ci" });
  assertEquals(bare.profile, "ci");
  await assertRejects(
    () => resolveConfig({ env: mapEnv({}), readFile: files({}), profile: "../x" }),
    ConfigError,
  );
});

Deno.test("list settings and the env allow-list cover every setting and alias", async () => {
  const cfg = await resolveConfig({
    env: mapEnv({ MCS_PROXY_FORCE: "googleapis.com, .google.com  x.io" }),
    readFile: files({}),
  });
  assertEquals(cfg.list("proxy_force"), ["googleapis.com", ".google.com", "x.io"]);
  const names = allEnvNames();
  for (const s of SETTINGS) {
    assert(names.includes(s.env));
    for (const a of s.aliases ?? []) assert(names.includes(a));
  }
  assert(names.includes("HTTPS_PROXY") && names.includes("MCS_TOKEN_*"));
});

Deno.test("auth0_domain: a host or an origin URL; anything else is a configuration error", async () => {
  const ok = async (v: string) =>
    (await resolveConfig({ env: mapEnv({ MCS_AUTH0_DOMAIN: v }), readFile: files({}) })).get(
      "auth0_domain",
    );
  assertEquals(await ok("tenant.us.auth0.com"), "tenant.us.auth0.com");
  assertEquals(await ok("https://login.example.com/"), "https://login.example.com");
  assertEquals(await ok("http://127.0.0.1:4711"), "http://127.0.0.1:4711");
  for (const bad of ["bad domain", "https://t.example.com/path", "http://tenant.example.com"]) {
    const err = await assertRejects(
      () => resolveConfig({ env: mapEnv({ MCS_AUTH0_DOMAIN: bad }), readFile: files({}) }),
      ConfigError,
    );
    assertEquals(err.code, "invalid_setting", bad);
    assert(err.message.includes("MCS_AUTH0_DOMAIN"), err.message);
  }
});

Deno.test("config file: a named file that cannot be read is an error; the implicit one is optional", async () => {
  const denied = (path: string) =>
    Promise.reject(
      new ConfigError("config_file_unreadable", `Cannot read config file ${path}: denied.`, {
        details: { path, denied: true },
      }),
    );
  const named = await assertRejects(
    () => resolveConfig({ env: mapEnv({ MCS_CONFIG: "/etc/mcs.toml" }), readFile: denied }),
    ConfigError,
  );
  assertEquals(named.code, "config_file_unreadable");
  assert(named.message.includes("/etc/mcs.toml"));
  await assertRejects(
    () => resolveConfig({ env: mapEnv({}), configPath: "/x.toml", readFile: denied }),
    ConfigError,
  );
  // The default location outside a least-privilege build's read grant reads as "no file".
  const implicit = await resolveConfig({ env: mapEnv({ HOME: "/h" }), readFile: denied });
  assertEquals(implicit.file.exists, false);
});

Deno.test("config file: secrets in a file other users can read are refused with the fix", async () => {
  const readFile = files({ "/c.toml": 'auth0_client_secret = "s3cret-value-123"\n' });
  const err = await assertRejects(
    () =>
      resolveConfig({
        env: mapEnv({ MCS_CONFIG: "/c.toml" }),
        readFile,
        fileMode: () => Promise.resolve(0o100644),
      }),
    ConfigError,
  );
  assertEquals(err.code, "config_file_insecure");
  assert(err.message.includes("chmod 600 /c.toml"), err.message);
  assert(err.message.includes("0644"));
  assert(!err.message.includes("s3cret-value-123"));
  const safe = await resolveConfig({
    env: mapEnv({ MCS_CONFIG: "/c.toml" }),
    readFile,
    fileMode: () => Promise.resolve(0o100600),
  });
  assertEquals(safe.get("auth0_client_secret"), "s3cret-value-123");
  // Without secrets, a readable file is fine.
  const plain = await resolveConfig({
    env: mapEnv({ MCS_CONFIG: "/p.toml" }),
    readFile: files({ "/p.toml": 'auth = "static"\n' }),
    fileMode: () => Promise.resolve(0o100644),
  });
  assertEquals(plain.get("auth"), "static");
});

Deno.test("the missing-secret message survives redaction intact", async () => {
  const { redact } = await import("../../lib/errors.ts");
  const cfg = await resolveConfig({ env: mapEnv({ HOME: "/h" }), readFile: files({}) });
  const err = assertThrows(() => cfg.require("auth0_client_secret"), ConfigError);
  assertEquals(redact(err.message), err.message);
  assert(err.message.includes("add the key auth0_client_secret to /h/.config/mcs/config.toml"));
});
