/**
 * buildApp runs its independent set-up side by side (the network layer and the auth modules load
 * while the cache directory is probed), yet keeps the documented order of failures: an unusable
 * cache directory is the error reported even when another set-up step fails faster (here the CA
 * file), and nothing is sent before that check.
 * @module
 */

import { assertEquals, assertRejects } from "../support/assert.ts";
import { buildApp } from "../../lib/app/mod.ts";
import { resolveConfig } from "../../lib/config/resolve.ts";
import { mapEnv } from "../../lib/config/env.ts";
import { ConfigError } from "../../lib/errors.ts";

async function configFor(dir: string, extra: Record<string, string>) {
  return await resolveConfig({
    env: mapEnv({
      MCS_AUTH: "auth0",
      MCS_AUTH0_DOMAIN: "http://127.0.0.1:9",
      MCS_AUTH0_CLIENT_ID: "client",
      MCS_AUTH0_CLIENT_SECRET: "secret",
      MCS_AUTH0_REFRESH_TOKEN: "rt",
      MCS_CONFIG: `${dir}/absent.toml`,
      ...extra,
    }),
  });
}

Deno.test("buildApp: an unwritable cache dir wins over a failing CA file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcs-app-order-" });
  try {
    await Deno.writeTextFile(`${dir}/file`, "");
    const config = await configFor(dir, {
      MCS_CACHE_DIR: `${dir}/file/cache`, // under a regular file: cannot be created
      MCS_CA_FILE: `${dir}/missing.pem`,
    });
    const e = await assertRejects(() => buildApp(config), ConfigError);
    assertEquals(e.code, "cache_dir_not_writable");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildApp: with a usable cache dir, the CA file's error is reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcs-app-order-" });
  try {
    const config = await configFor(dir, {
      MCS_CACHE_DIR: `${dir}/cache`,
      MCS_CA_FILE: `${dir}/missing.pem`,
    });
    const e = await assertRejects(() => buildApp(config), ConfigError);
    assertEquals(e.code, "ca_file_unreadable");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
