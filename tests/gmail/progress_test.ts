/**
 * The cadence of a metadata fetch's progress (`fetchProgress`, shared by the batch, pool and
 * sequential strategies): about every tenth of the total, always the end, rising, never above
 * the total. The wire side is in tests/mcp/tools_test.ts.
 * @module
 */

import { fetchProgress, type GmailProgress } from "../../lib/gmail/http.ts";
import { assertEquals } from "../support/assert.ts";

/** The `done` values reported for `adds` (items finished at each step) of `total`. */
function reported(total: number, adds: number[]): GmailProgress[] {
  const seen: GmailProgress[] = [];
  const add = fetchProgress((p) => seen.push(p), total);
  for (const n of adds) add(n);
  return seen;
}

Deno.test("fetchProgress: one item at a time reports each tenth and the end", () => {
  const ones = (n: number) => Array.from({ length: n }, () => 1);
  assertEquals(
    reported(95, ones(95)).map((p) => p.done),
    [10, 20, 30, 40, 50, 60, 70, 80, 90, 95],
  );
  const tenths = Array.from({ length: 10 }, (_, i) => (i + 1) * 10);
  assertEquals(reported(100, ones(100)).map((p) => p.done), tenths);
  assertEquals(reported(4, ones(4)).map((p) => p.done), [1, 2, 3, 4]);
  const p = reported(23, ones(23));
  assertEquals(p.map((x) => x.done), [3, 6, 9, 12, 15, 18, 21, 23]);
  assertEquals(p.at(-1), { done: 23, total: 23, message: "fetched 23 of 23" });
});

Deno.test("fetchProgress: batch chunks of 50 report once each; the count never passes the total", () => {
  assertEquals(reported(95, [50, 45]).map((p) => [p.done, p.total]), [[50, 95], [95, 95]]);
  assertEquals(reported(60, [10, 50]).map((p) => p.done), [10, 60]);
  // More than announced (never expected): capped at the total, reported once.
  assertEquals(reported(3, [2, 5, 1]).map((p) => p.done), [2, 3]);
  assertEquals(reported(0, [0]), []);
});
