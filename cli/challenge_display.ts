/**
 * How `mcs auth login --wait` shows a challenge while it polls. Everything goes to stderr (stdout
 * stays for the result / the one JSON document):
 * - on a terminal: the URL, the code, a QR code of the URL (npm `uqr`, imported lazily) and a
 *   spinner;
 * - otherwise (or with `--json`): one plain line per new URL/code.
 *
 * @example
 * ```ts
 * import { challengeDisplay } from "./challenge_display.ts";
 * import type { Context } from "./context.ts";
 * declare const ctx: Context;
 * const d = challengeDisplay(ctx);
 * ```
 * @module
 */

import type { AuthChallenge } from "../lib/auth/types.ts";
import type { Context } from "./context.ts";

/** The display. */
export interface ChallengeDisplay {
  /** Show a challenge (only when its URL or code changed). */
  show(c: AuthChallenge): Promise<void>;
  /** Wait `ms`, animating a spinner on a terminal. */
  spin(ms: number): Promise<void>;
  /** Clear the spinner line. */
  done(): void;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Create the display for this invocation. */
export function challengeDisplay(ctx: Context): ChallengeDisplay {
  const tty = ctx.io.stderrIsTerminal && !ctx.json;
  let last = "";
  let frame = 0;
  let spinning = false;
  return {
    async show(c) {
      const key = `${c.step}|${c.url}|${c.userCode}`;
      if (key === last) return;
      last = key;
      if (!tty) {
        ctx.io.err(
          `mcs: ${c.step === "connect" ? "connect Gmail" : "sign in"}: open ${c.url ?? "(no URL)"}${
            c.userCode ? ` and enter code ${c.userCode}` : ""
          }\n`,
        );
        return;
      }
      if (spinning) ctx.io.err("\r\x1b[2K");
      const lines = [
        "",
        c.step === "connect"
          ? "! One more step: allow mcs to use your Gmail account."
          : "! Sign in to authorize mcs.",
        `  ${c.message}`,
        "",
        `  Open:  ${c.url ?? ""}`,
        ...(c.userCode ? [`  Code:  ${c.userCode}`] : []),
        "",
      ];
      if (c.url) {
        try {
          const { renderUnicodeCompact } = await import("uqr");
          lines.push(...renderUnicodeCompact(c.url).split("\n").map((l) => `  ${l}`), "");
        } catch { /* the QR code is a nicety */ }
      }
      ctx.io.err(lines.join("\n") + "\n");
    },
    async spin(ms) {
      if (!tty) return await new Promise((r) => setTimeout(r, Math.max(0, ms)));
      spinning = true;
      const end = Date.now() + Math.max(0, ms);
      while (Date.now() < end) {
        ctx.io.err(
          `\r${FRAMES[frame++ % FRAMES.length]} Waiting for you to finish in the browser…`,
        );
        await new Promise((r) => setTimeout(r, Math.min(120, Math.max(0, end - Date.now()))));
      }
    },
    done() {
      if (spinning) ctx.io.err("\r\x1b[2K");
      spinning = false;
    },
  };
}
