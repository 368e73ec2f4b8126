import { assert, assertEquals, assertRejects, assertThrows } from "../support/assert.ts";
import { resolveConfig } from "../../lib/config/resolve.ts";
import { mapEnv } from "../../lib/config/env.ts";
import { allEnvNames } from "../../lib/config/settings.ts";
import { ConfigError } from "../../lib/errors.ts";
import {
  bakedEnv,
  brokerPermissions,
  genericPermissions,
  netEntry,
  scopedPermissions,
  toDenoFlags,
} from "../../lib/build/permissions.ts";
import { launcherScript, runCommand } from "../../lib/build/artifacts.ts";

const noFile = () => Promise.resolve(undefined);

async function scoped(vars: Record<string, string>, opts = {}) {
  const cfg = await resolveConfig({ env: mapEnv(vars), readFile: noFile });
  return { cfg, set: scopedPermissions(cfg, { configFileExists: false, cwd: "/work", ...opts }) };
}

Deno.test("static mode: only the Gmail host, only the cache dir, exactly the program's env", async () => {
  const { set } = await scoped({ MCS_AUTH: "static", MCS_CACHE_DIR: "/var/cache/mcs" });
  assertEquals(set.net, ["gmail.googleapis.com"]);
  assertEquals(set.read, ["/var/cache/mcs"]);
  assertEquals(set.write, ["/var/cache/mcs"]);
  assertEquals(set.env, allEnvNames());
  const flags = toDenoFlags(set);
  assert(flags.includes("--no-prompt"));
  for (const f of flags) assert(!/--allow-(run|ffi|sys|import|all)|^-A$/.test(f), f);
});

Deno.test("auth0-linkauth: Gmail base, Auth0 domain and broker, with explicit ports", async () => {
  const { set } = await scoped({
    MCS_AUTH: "auth0-linkauth",
    MCS_AUTH0_DOMAIN: "http://127.0.0.1:4001",
    MCS_LINKAUTH_BROKER_URL: "http://127.0.0.1:4002/",
    MCS_GMAIL_API_BASE: "http://127.0.0.1:4003",
    MCS_CACHE_DIR: "/c",
  });
  assertEquals(set.net, ["127.0.0.1:4003", "127.0.0.1:4001", "127.0.0.1:4002"]);
});

Deno.test("auth0 via the broker reaches the broker instead of the Auth0 domain", async () => {
  const { set } = await scoped({
    MCS_AUTH: "auth0",
    MCS_AUTH0_DOMAIN: "tenant.us.auth0.com",
    MCS_AUTH0_VIA_BROKER: "true",
    MCS_LINKAUTH_BROKER_URL: "https://broker.example",
    MCS_CACHE_DIR: "/c",
  });
  assertEquals(set.net, ["gmail.googleapis.com", "broker.example"]);
});

Deno.test("auth0-oauth adds the loopback callback listener (default 3000, ephemeral, or the configured one)", async () => {
  const a = await scoped({
    MCS_AUTH: "auth0-oauth",
    MCS_AUTH0_DOMAIN: "t.eu.auth0.com",
    MCS_CACHE_DIR: "/c",
  });
  assertEquals(a.set.net, ["gmail.googleapis.com", "t.eu.auth0.com", "127.0.0.1:3000"]);
  const any = await scoped({
    MCS_AUTH: "auth0-oauth",
    MCS_AUTH0_DOMAIN: "t.eu.auth0.com",
    MCS_AUTH0_CALLBACK_PORT: "0",
    MCS_CACHE_DIR: "/c",
  });
  assertEquals(any.set.net, ["gmail.googleapis.com", "t.eu.auth0.com", "127.0.0.1"]);
  const b = await scoped({
    MCS_AUTH: "auth0-oauth",
    MCS_AUTH0_DOMAIN: "t.eu.auth0.com",
    MCS_AUTH0_CALLBACK_PORT: "8765",
    MCS_CACHE_DIR: "/c",
  });
  assert((b.set.net as string[]).includes("127.0.0.1:8765"));
});

Deno.test("a proxy in the build environment, extra hosts and directories are granted", async () => {
  const { set } = await scoped(
    { MCS_AUTH: "static", MCS_CACHE_DIR: "/c", HTTPS_PROXY: "http://proxy.corp:3128" },
    { readDirs: ["in"], writeDirs: ["/srv/out"], extraHosts: ["extra.example:8443"] },
  );
  assertEquals(set.net, ["gmail.googleapis.com", "proxy.corp:3128", "extra.example:8443"]);
  assertEquals(set.read, ["/c", "/work/in"]);
  assertEquals(set.write, ["/c", "/srv/out"]);
});

Deno.test("the cache directory defaults like the program's and must not start with ~", async () => {
  const { set } = await scoped({ MCS_AUTH: "static", HOME: "/home/a" });
  assertEquals(set.write, ["/home/a/.mcs/cache"]);
  const rel = await scoped({ MCS_AUTH: "static", MCS_CACHE_DIR: "state" });
  assertEquals(rel.set.write, ["/work/state"]);
  const cfg = await resolveConfig({
    env: mapEnv({ MCS_AUTH: "static", MCS_CACHE_DIR: "~/cache" }),
    readFile: noFile,
  });
  const e = assertThrows(() => scopedPermissions(cfg), ConfigError);
  assertEquals((e as ConfigError).code, "path_not_absolute");
});

Deno.test("an existing config file and the CA file are readable", async () => {
  const cfg = await resolveConfig({
    env: mapEnv({ MCS_CACHE_DIR: "/c", MCS_CONFIG: "/etc/mcs.toml" }),
    readFile: () => Promise.resolve('auth = "static"\nca_file = "/etc/ca.pem"\n'),
  });
  const set = scopedPermissions(cfg, { configFileExists: cfg.file.exists });
  assertEquals(set.read, ["/c", "/etc/mcs.toml", "/etc/ca.pem"]);
});

Deno.test("baked env: cache dir, config, non-secret env settings; never a secret", async () => {
  const { cfg, set } = await scoped({
    MCS_AUTH: "static",
    MCS_CACHE_DIR: "/c",
    MCS_GMAIL_TOKEN: "ya29.secret",
    MCS_GMAIL_API_BASE: "http://127.0.0.1:9",
  });
  const env = bakedEnv(cfg, set, { configFileExists: false });
  assertEquals(env, {
    MCS_CACHE_DIR: "/c",
    MCS_AUTH: "static",
    MCS_GMAIL_API_BASE: "http://127.0.0.1:9",
  });
});

Deno.test("netEntry: hosts, URLs, default ports and garbage", () => {
  assertEquals(netEntry("tenant.us.auth0.com"), "tenant.us.auth0.com");
  assertEquals(netEntry("https://tenant.us.auth0.com/"), "tenant.us.auth0.com");
  assertEquals(netEntry("https://a.example:443"), "a.example");
  assertEquals(netEntry("http://[::1]:8080"), "[::1]:8080");
  assertThrows(() => netEntry("http://"), ConfigError);
});

Deno.test("flags escape commas in paths and the generic set is documented-wide but env-exact", () => {
  const flags = toDenoFlags({
    net: [],
    read: ["/a,b"],
    write: [],
    env: ["X"],
    reasons: [],
  });
  assertEquals(flags, ["--no-prompt", "--allow-read=/a,,b", "--allow-env=X"]);
  const g = toDenoFlags(genericPermissions());
  assertEquals(g.slice(0, 4), ["--no-prompt", "--allow-net", "--allow-read", "--allow-write"]);
  assertEquals(g[4], `--allow-env=${allEnvNames().join(",")}`);
});

Deno.test("the run command is self-contained and the launcher forwards arguments", () => {
  const set = genericPermissions();
  const cmd = runCommand(set, { bundle: "mcs.js", envFile: "mcs.env" });
  assertEquals(cmd.slice(0, 7), [
    "deno",
    "run",
    "--no-config",
    "--no-lock",
    "--no-remote",
    "--no-npm",
    "--unstable-no-legacy-abort", // request.signal aborts only when the client goes away
  ]);
  assertEquals(cmd.slice(-2), ["--env-file=mcs.env", "mcs.js"]);
  const sh = launcherScript(set, true);
  assert(sh.startsWith("#!/bin/sh\n"));
  assert(sh.includes(`--env-file="$here/mcs.env"`));
  assert(sh.trimEnd().endsWith(`"$here/mcs.js" \\\n  "$@"`));
});

Deno.test("deno.json permissions.mcs lists exactly the program's env variables", async () => {
  const conf = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const mcs = conf.permissions.mcs;
  assertEquals(mcs.env, allEnvNames());
  assertEquals([mcs.run, mcs.ffi, mcs.sys, mcs.import], [false, false, false, false]);
});

Deno.test("a build with MCS_STORE grants the Redis host:port, never bakes the URL or its password", async () => {
  const { cfg, set } = await scoped({
    MCS_AUTH: "static",
    MCS_CACHE_DIR: "/c",
    MCS_STORE: "redis://:pw-XYZ@cache.internal/0",
  });
  assertEquals(set.net, ["gmail.googleapis.com", "cache.internal:6379"]);
  assert(!JSON.stringify(set).includes("pw-XYZ"), "no password in the set or its reasons");
  assertEquals(bakedEnv(cfg, set, { configFileExists: false }).MCS_STORE, undefined);
  const tls = await scoped({
    MCS_AUTH: "static",
    MCS_CACHE_DIR: "/c",
    MCS_STORE: "rediss://10.0.0.7:6380/1",
  });
  assertEquals(tls.set.net, ["gmail.googleapis.com", "10.0.0.7:6380"]);
  const e = await assertRejects(
    () => scoped({ MCS_AUTH: "static", MCS_CACHE_DIR: "/c", MCS_STORE: "http://x" }),
    ConfigError,
  );
  assertEquals(e.code, "store_url_invalid");
});

Deno.test("broker build: any host; files only in the state dir (rw) and the TLS and CA files (r)", () => {
  const env = mapEnv({
    MCS_BROKER_STATE_DIR: "state",
    MCS_BROKER_TLS_CERT: "/etc/broker/cert.pem",
    MCS_BROKER_TLS_KEY: "/etc/broker/key.pem",
  });
  const set = brokerPermissions(env, "/srv");
  assertEquals(set.net, true);
  assertEquals(set.write, ["/srv/state"]);
  assertEquals(set.read, ["/srv/state", "/etc/broker/cert.pem", "/etc/broker/key.pem"]);
  for (
    const name of [
      "LINKAUTH_API_KEYS",
      "OAUTH_*",
      "MCS_BROKER_ALLOW_PRIVATE",
      "MCS_BROKER_METRICS_TOKEN",
      "MCS_STORE",
      "MCS_STORE_KEY",
      "MCS_STORE_PREFIX",
    ]
  ) {
    assert(set.env.includes(name), name);
  }
  const redis = brokerPermissions(
    mapEnv({ MCS_STORE: "redis://:pw@redis.internal:6380/0", MCS_BROKER_STATE_DIR: "/srv/s" }),
    "/srv",
  );
  assert(redis.reasons.some((r) => r.startsWith("net redis.internal:6380")), redis.reasons.join());
  assert(!redis.reasons.join().includes("pw"), "no password in the reasons");
  assertThrows(
    () => brokerPermissions(mapEnv({ MCS_BROKER_STATE_DIR: "~/s" }), "/srv"),
    ConfigError,
  );
});
