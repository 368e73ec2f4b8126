/**
 * Build the application for a command and close it afterwards. Loads the composition root
 * lazily (only commands that talk to Gmail or Auth0 pay for it).
 *
 * @example
 * ```ts
 * import { withApp } from "./app.ts";
 * import type { Context } from "./context.ts";
 * declare const ctx: Context;
 * await withApp(ctx, {}, async (app) => ({ result: app.mode }));
 * ```
 * @module
 */

import type { App, BuildOptions } from "../lib/app/mod.ts";
import type { Context } from "./context.ts";

/** Run `fn` with a freshly built {@link App}; always closes it. */
export async function withApp<T>(
  ctx: Context,
  options: BuildOptions,
  fn: (app: App) => Promise<T>,
): Promise<T> {
  // The composition root loads while the configuration resolves (it may read a file).
  const appModule = import("../lib/app/mod.ts");
  appModule.catch(() => {}); // awaited below
  const config = await ctx.config();
  const { buildApp } = await appModule;
  const app = await buildApp(config, options);
  try {
    return await fn(app);
  } finally {
    app.close();
  }
}
