/**
 * Children started with a clean environment still get the toolchain's: certificates, npm
 * registry config, proxies (unless the test sets its own, with loopback exempted) and Deno's
 * cache as Deno resolves it.
 */
import { assert, assertEquals } from "./assert.ts";
import { denoDir, toolchainEnv } from "./toolchain_env.ts";
import { mcsEnv } from "../cli/_mcs.ts";
import { buildEnv } from "../build/_build.ts";

/** Run `fn` with `vars` set (undefined: unset) in this process's environment, then restore. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const put = (k: string, v: string | undefined) =>
    v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  for (const [k, v] of Object.entries(vars)) put(k, v);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) put(k, v);
  }
}

const MACHINE = {
  SSL_CERT_FILE: "/etc/ssl/corp.pem",
  SSL_CERT_DIR: "/etc/ssl/corp",
  DENO_CERT: "/etc/ssl/deno.pem",
  DENO_TLS_CA_STORE: "system",
  NODE_EXTRA_CA_CERTS: "/etc/ssl/node.pem",
  NPM_CONFIG_REGISTRY: "https://registry.corp.example/",
  npm_config_strict_ssl: "true",
  HTTPS_PROXY: "http://proxy.corp.example:3128",
  https_proxy: "http://proxy.corp.example:3128",
  NO_PROXY: "corp.example",
  no_proxy: undefined,
  HTTP_PROXY: undefined,
  http_proxy: undefined,
  ALL_PROXY: undefined,
  all_proxy: undefined,
};

Deno.test("every clean-environment helper passes the toolchain's variables through", () => {
  withEnv(MACHINE, () => {
    for (const [name, env] of [["mcsEnv", mcsEnv()], ["buildEnv", buildEnv({})]] as const) {
      for (const k of ["SSL_CERT_FILE", "SSL_CERT_DIR", "DENO_CERT", "DENO_TLS_CA_STORE"]) {
        assertEquals(env[k], MACHINE[k as keyof typeof MACHINE], `${name}: ${k}`);
      }
      assertEquals(env.NODE_EXTRA_CA_CERTS, MACHINE.NODE_EXTRA_CA_CERTS, name);
      assertEquals(env.NPM_CONFIG_REGISTRY, MACHINE.NPM_CONFIG_REGISTRY, name);
      assertEquals(env.npm_config_strict_ssl, "true", name);
      assertEquals(env.HTTPS_PROXY, MACHINE.HTTPS_PROXY, name);
      assertEquals(env.DENO_DIR, denoDir(), name);
      assertEquals(env.PATH, Deno.env.get("PATH"), name);
      // The emulators are on loopback and the program has no implicit loopback bypass.
      assertEquals(env.NO_PROXY, "corp.example,127.0.0.1,localhost,::1", name);
      assertEquals(env.no_proxy, "127.0.0.1,localhost,::1", name);
    }
  });
});

Deno.test("a test that sets its own proxy variables gets none from the machine", () => {
  withEnv(MACHINE, () => {
    const env = mcsEnv({ HTTP_PROXY: "http://127.0.0.1:1" });
    assertEquals(env.HTTP_PROXY, "http://127.0.0.1:1");
    for (const k of ["HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"]) {
      assert(!(k in env), `${k} not inherited`);
    }
    assertEquals(env.SSL_CERT_FILE, MACHINE.SSL_CERT_FILE, "certificates still pass");
  });
});

Deno.test("Deno's cache as Deno resolves it; the test's own values win", () => {
  const info = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .outputSync();
  assertEquals(denoDir(), JSON.parse(new TextDecoder().decode(info.stdout)).denoDir);
  assertEquals(toolchainEnv({ DENO_DIR: "/x" }).DENO_DIR, "/x");
  assert(!("DENO_DIR" in toolchainEnv({}, { denoDir: false })));
});
