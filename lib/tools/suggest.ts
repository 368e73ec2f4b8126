/**
 * "Did you mean ...?" for unknown commands, flags, tools and parameters.
 *
 * @example
 * ```ts
 * import { closest } from "./suggest.ts";
 * closest("serch_emails", ["search_emails", "read_email"]); // "search_emails"
 * ```
 * @module
 */

/** Levenshtein distance (small strings only). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The candidate closest to `input`, if it is close enough to be a plausible typo. */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(input) && input.length >= 2 ? 0.5 : editDistance(input, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(input.length / 3))
    ? best
    : undefined;
}

/** " Did you mean X?" or "". */
export function didYouMean(input: string, candidates: Iterable<string>, prefix = ""): string {
  const c = closest(input, candidates);
  return c ? ` Did you mean ${prefix}${c}?` : "";
}
