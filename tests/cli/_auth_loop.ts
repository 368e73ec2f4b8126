/**
 * Test helper: play the agent and the user through the CLI's authorization contract — run a
 * command, and while it answers `auth_required` (exit 4) complete the URL/code at the local stack
 * as the user would, wait `retry_after_s`, and run the same command again.
 * @module
 */

import type { Stack } from "../../lib/emulators/stack.ts";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { doc, mcs, type Ran, sleep } from "./_mcs.ts";

/** Run `args` until it stops asking for authorization, acting as the user in between. */
export async function untilAuthorized(
  stack: Stack,
  args: string[],
  env: Record<string, string>,
  maxRounds = 3,
): Promise<{ last: Ran; steps: string[] }> {
  const steps: string[] = [];
  const done = new Set<string>();
  for (let round = 0;; round++) {
    const r = await mcs(args, { env });
    if (r.code !== 4) return { last: r, steps };
    assert(round < maxRounds * 3, `still asking after ${round} rounds: ${r.stdout}`);
    const d = doc(r);
    assertEquals(d.ok, false);
    assertEquals(d.auth_required, true);
    assert(typeof d.url === "string" && typeof d.code === "string", r.stdout);
    assert(!Number.isNaN(Date.parse(d.expires_at)), "expires_at is an ISO time");
    assertStringIncludes(r.stderr, d.url, "one-line human hint on stderr");
    // Ran again before the broker's next poll slot: the same challenge; just run it again.
    if (!done.has(d.code)) {
      steps.push(d.step);
      done.add(d.code);
      await stack.userCompletes(d.url, d.code);
    }
    await sleep(Math.max(1, d.retry_after_s ?? 1) * 1000);
  }
}
