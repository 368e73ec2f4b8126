/**
 * `mcs exec <tool> [<json>|-]`: run one agent tool and print the JSON contract. Arguments are
 * validated against the tool's schema before any configuration is read (bad arguments exit 2
 * even with no configuration at all).
 *
 * @example
 * ```sh
 * mcs exec search_emails '{"query":"is:unread","limit":5}'
 * echo '{"id":"18c..."}' | mcs exec read_email -
 * ```
 * @module
 */

import { UsageError } from "../../lib/errors.ts";
import { prepareToolCall, runValidated } from "../../lib/tools/run.ts";
import type { CommandOutput, Context } from "../context.ts";
import { withApp } from "../app.ts";

/** Parse the JSON argument (inline, `-` for stdin, absent for `{}`). */
export async function readToolArgs(ctx: Context, arg: string | undefined): Promise<unknown> {
  if (arg === undefined) return {};
  let text = arg;
  if (arg === "-") {
    if (ctx.options["secrets-stdin"]) {
      throw new UsageError(
        "stdin_conflict",
        "stdin carries the secrets (--secrets-stdin); pass the tool arguments inline.",
      );
    }
    text = await ctx.stdin();
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(
      "invalid_json",
      `Tool arguments are not valid JSON (${
        (e as Error).message
      }). Example: mcs exec search_emails '{"query":"is:unread"}'`,
    );
  }
}

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const [tool, arg] = ctx.positionals;
  const args = prepareToolCall(tool, await readToolArgs(ctx, arg));
  return await withApp(ctx, {}, async (app) => {
    const gmail = await app.gmail();
    return { result: await runValidated(tool, args, { gmail }) };
  });
}
