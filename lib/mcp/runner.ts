/**
 * The tool runner a long-running MCP server uses: one {@link App} (connections, tokens, label
 * maps in memory) built on the first call and kept, with the cache store as the source of truth
 * shared with other processes (an `mcs exec` sign-in serves the server, and the other way round).
 *
 * Guarantees: arguments are validated against the catalogue before the configuration is read (a
 * bad argument is reported even with no configuration); a failed build (missing setting,
 * unwritable cache) is not remembered, so fixing the setting and calling again works without a
 * restart of the host.
 *
 * @example
 * ```ts
 * import { toolRunner } from "./runner.ts";
 * import { resolveConfig } from "../config/resolve.ts";
 * const runner = toolRunner(() => resolveConfig());
 * const labels = await runner.call("list_labels", {}); // may throw AuthChallenge
 * runner.close();
 * ```
 * @module
 */

import type { App } from "../app/mod.ts";
import type { Config } from "../config/resolve.ts";
import { prepareToolCall, runValidated } from "../tools/run.ts";

/** A runner shared by every session of one server process. */
export interface ToolRunner {
  /** Validate and run one tool. @throws McsError, AuthChallenge */
  call(name: string, args: unknown): Promise<unknown>;
  /** Release the App's connections. */
  close(): void;
}

/** A runner over the configuration `config` resolves. */
export function toolRunner(config: () => Promise<Config>): ToolRunner {
  let app: Promise<App> | undefined;
  const getApp = (): Promise<App> => {
    if (!app) {
      const building = (async () => {
        const { buildApp } = await import("../app/mod.ts");
        return await buildApp(await config());
      })();
      app = building;
      building.catch(() => {
        if (app === building) app = undefined;
      });
    }
    return app;
  };
  return {
    async call(name, args) {
      const valid = prepareToolCall(name, args);
      const gmail = await (await getApp()).gmail();
      return await runValidated(name, valid, { gmail });
    },
    close() {
      app?.then((a) => a.close(), () => {});
    },
  };
}
