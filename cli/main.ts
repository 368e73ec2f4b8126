#!/usr/bin/env -S deno run --no-prompt -P=mcs
/**
 * The `mcs` entry point. Deliberately tiny: it loads the dispatcher, which loads each command's
 * module with a dynamic `import()` only when that command runs, so `mcs --version` and
 * `mcs tools --json` start without loading auth, Gmail or emulator code.
 *
 * @example
 * ```sh
 * deno run -P=mcs cli/main.ts mail search "is:unread" --json
 * ```
 * @module
 */

import { denoIo, runCli } from "./run.ts";

if (import.meta.main) {
  Deno.exitCode = await runCli(Deno.args, denoIo());
}
