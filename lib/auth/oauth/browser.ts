/**
 * Open a sign-in URL in the user's browser "when it can", honestly: only when someone is at a
 * terminal (stderr is a TTY) and the process already holds Deno's run permission for the
 * platform's opener. The permission is only queried, never requested, so a least-privilege
 * build (no `--allow-run`, e.g. the `mcs` permission set and the compiled binary) never prompts
 * and simply prints the URL. The opener gets the URL as one argument, never through a shell.
 *
 * | OS      | opener                                      |
 * | ------- | ------------------------------------------- |
 * | Linux…  | `xdg-open <url>`                            |
 * | macOS   | `open <url>`                                |
 * | Windows | `rundll32 url.dll,FileProtocolHandler <url>` |
 *
 * On Windows `cmd /c start <url>` is avoided on purpose: cmd parses `&`, `|` and `^` in the URL
 * (every authorize URL has `&`), which would cut the URL and run the rest as a command.
 *
 * @example
 * ```ts
 * import { browserOpener, denoOpenerHost } from "./browser.ts";
 * const open = browserOpener(denoOpenerHost());
 * await open("https://tenant.auth0.com/authorize?client_id=abc&state=xyz"); // true if spawned
 * ```
 * @module
 */

/** A platform's browser opener: the program and the arguments placed before the URL. */
export interface Opener {
  command: string;
  args: readonly string[];
}

/** The opener for an OS (`Deno.build.os` values). */
export function openerFor(os: typeof Deno.build.os): Opener {
  if (os === "darwin") return { command: "open", args: [] };
  if (os === "windows") return { command: "rundll32", args: ["url.dll,FileProtocolHandler"] };
  return { command: "xdg-open", args: [] };
}

/** What {@link browserOpener} needs from the process (injectable for tests). */
export interface OpenerHost {
  /** `Deno.build.os`. */
  os: typeof Deno.build.os;
  /** Whether stderr is a terminal (someone is there to use a browser). */
  stderrIsTerminal(): boolean;
  /** The run permission's state for `command`, queried without prompting. */
  queryRun(command: string): Promise<Deno.PermissionState>;
  /** Start `command args...` detached, stdio closed; must not throw for a missing program. */
  spawn(command: string, args: string[]): void;
}

/**
 * A function that opens `url` when it can and reports whether it started the opener. It never
 * throws: a missing opener or permission means "print only" (the caller always prints the URL).
 * Only `http:`/`https:` URLs are handed over, so a URL from a server cannot make the opener
 * run a `file:` or custom-scheme handler.
 */
export function browserOpener(host: OpenerHost): (url: string) => Promise<boolean> {
  return async (url) => {
    try {
      const protocol = new URL(url).protocol;
      if (protocol !== "https:" && protocol !== "http:") return false;
      if (!host.stderrIsTerminal()) return false;
      const opener = openerFor(host.os);
      if ((await host.queryRun(opener.command)) !== "granted") return false;
      host.spawn(opener.command, [...opener.args, url]);
      return true;
    } catch {
      return false;
    }
  };
}

/** The real process: `Deno.stderr`, `Deno.permissions.query`, a detached `Deno.Command`. */
export function denoOpenerHost(): OpenerHost {
  return {
    os: Deno.build.os,
    stderrIsTerminal: () => {
      try {
        return Deno.stderr.isTerminal();
      } catch {
        return false;
      }
    },
    queryRun: async (command) => (await Deno.permissions.query({ name: "run", command })).state,
    spawn: (command, args) => {
      try {
        const child = new Deno.Command(command, {
          args,
          stdin: "null",
          stdout: "null",
          stderr: "null",
          detached: true,
        }).spawn();
        child.status.catch(() => {});
        child.unref();
      } catch {
        // No opener installed (or no display): the URL was printed.
      }
    },
  };
}
