/**
 * Test helpers for the MCP server: the real CLI (`mcs mcp`, `mcs serve`) in its own process,
 * driven by the MCP SDK's own `Client` over stdio or Streamable HTTP.
 *
 * @example
 * ```ts
 * import { stdioClient } from "./_mcp.ts";
 * await using c = await stdioClient({ MCS_AUTH: "static" });
 * const { tools } = await c.client.listTools();
 * ```
 * @module
 */

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";
import { mcsArgs, mcsEnv, ROOT_PATH } from "../cli/_mcs.ts";

/** An SDK client connected to `mcs mcp` over stdio; stderr is collected. */
export async function stdioClient(
  env: Record<string, string>,
  capabilities: ClientCapabilities = {},
) {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: mcsArgs(["mcp"]),
    env: mcsEnv(env),
    cwd: ROOT_PATH,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (c: Uint8Array) => (stderr += new TextDecoder().decode(c)));
  const client = new Client({ name: "mcs-test", version: "1.0.0" }, { capabilities });
  await client.connect(transport);
  return {
    client,
    get stderr() {
      return stderr;
    },
    async [Symbol.asyncDispose]() {
      await client.close();
    },
  };
}

/** A running `mcs serve` (its URL read from stderr); dispose to stop it with SIGTERM. */
export async function startServe(args: string[], env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: mcsArgs(["serve", "--port", "0", ...args]),
    cwd: ROOT_PATH,
    env: mcsEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let stderr = "";
  let url: string | undefined;
  while (!url) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`mcs serve ended before listening: ${stderr}`);
    stderr += value;
    url = /MCP on (http:\/\/\S+\/mcp)/.exec(stderr)?.[1];
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      stderr += value;
    }
  })();
  return {
    url,
    get stderr() {
      return stderr;
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await rest;
      await stdout;
    },
  };
}

/** An SDK client over Streamable HTTP, with extra request headers (the bearer key). */
export async function httpClient(
  url: string,
  headers: Record<string, string> = {},
  capabilities: ClientCapabilities = {},
) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers },
  });
  const client = new Client({ name: "mcs-test", version: "1.0.0" }, { capabilities });
  await client.connect(transport);
  return {
    client,
    transport,
    async [Symbol.asyncDispose]() {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** A Google access token the stack's Gmail accepts (auth path `static`). */
export function staticEnv(stack: {
  googleTokens: {
    issue(o: { sub: string; email: string; scopes: string[]; ttlS: number }): { token: string };
  };
  auth0: { user: { googleSub: string; email: string } };
  env: Record<string, string>;
}): Record<string, string> {
  const { token } = stack.googleTokens.issue({
    sub: stack.auth0.user.googleSub,
    email: stack.auth0.user.email,
    scopes: ["https://mail.google.com/"],
    ttlS: 3600,
  });
  return {
    MCS_AUTH: "static",
    MCS_GMAIL_TOKEN: token,
    MCS_GMAIL_API_BASE: stack.env.MCS_GMAIL_API_BASE,
    MCS_CA_FILE: stack.env.MCS_CA_FILE,
  };
}
