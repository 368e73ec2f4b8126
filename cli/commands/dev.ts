/**
 * `mcs dev`: run the local stack (Auth0 tenant, LinkAuth broker and Gmail emulators over HTTPS
 * with a throwaway CA) until Ctrl-C, and print the environment that points mcs at it.
 *
 * @example
 * ```sh
 * deno task mcs dev           # prints export lines; in another shell paste them, then:
 * deno task mcs auth login --wait
 * ```
 * @module
 */

import type { CommandOutput, Context } from "../context.ts";
import { jsonLine, success } from "../output.ts";

/** Shell-quote a value for an `export` line. */
export function shellQuote(v: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/** Resolve when SIGINT or SIGTERM arrives. */
function interrupted(): Promise<string> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const handlers = signals.map((sig) => {
      const h = () => {
        signals.forEach((s, i) => Deno.removeSignalListener(s, handlers[i]));
        resolve(sig);
      };
      Deno.addSignalListener(sig, h);
      return h;
    });
  });
}

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const { startStack } = await import("../../lib/emulators/stack.ts");
  const stateDir = typeof ctx.options["state-dir"] === "string"
    ? ctx.options["state-dir"]
    : undefined;
  if (stateDir) await Deno.mkdir(stateDir, { recursive: true });
  const stack = await startStack({ stateDir });
  try {
    const info = { env: stack.env, urls: stack.urls, ca_file: stack.caFile };
    if (ctx.json) {
      ctx.io.out(jsonLine(success(info)));
    } else {
      ctx.io.out(
        [
          "# mcs local stack is running (Ctrl-C to stop). In another shell:",
          ...Object.entries(stack.env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
          "",
          "# then: mcs auth login --wait    (sign in as ada@example.com in the browser)",
          "",
        ].join("\n"),
      );
      ctx.io.err(
        [
          `Broker connect page: ${stack.urls.connect}`,
          `Auth0 tenant:        ${stack.urls.auth0}`,
          `Gmail API:           ${stack.urls.gmail}`,
          `Your browser must trust ${stack.caFile} to open the HTTPS pages (or accept the warning).`,
          "The client secret and API key above are throwaway values for this session only.",
          "",
        ].join("\n"),
      );
    }
    const sig = await interrupted();
    ctx.io.err(`\nmcs dev: ${sig}, shutting down.\n`);
    return { result: info, printed: true };
  } finally {
    await stack.close();
  }
}
