/**
 * Translate IMAP SEARCH criteria (what the original SDK advertised to models: `FROM "alice"
 * UNSEEN SINCE 01-Jan-2025`) into Gmail query syntax (`from:"alice" is:unread
 * after:2025/01/01`). Text that is not IMAP criteria is returned unchanged, so Gmail syntax
 * passes through.
 *
 * @example
 * ```ts
 * import { imapToGmailQuery } from "./imap_query.ts";
 * imapToGmailQuery('FROM "alice" UNSEEN SINCE 01-Jan-2025'); // 'from:"alice" is:unread after:2025/01/01'
 * imapToGmailQuery("from:bob is:unread"); // unchanged
 * ```
 * @module
 */

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const FLAG_KEYS: Record<string, string> = {
  ALL: "",
  UNSEEN: "is:unread",
  SEEN: "is:read",
  FLAGGED: "is:starred",
  UNFLAGGED: "-is:starred",
  DELETED: "in:trash",
  DRAFT: "in:drafts",
  ANSWERED: "",
  NEW: "is:unread",
};
const TEXT_KEYS: Record<string, string> = {
  FROM: "from:",
  TO: "to:",
  CC: "cc:",
  BCC: "bcc:",
  SUBJECT: "subject:",
  BODY: "",
  TEXT: "",
  KEYWORD: "label:",
};
const DATE_KEYS: Record<string, string> = { SINCE: "after:", BEFORE: "before:", ON: "on" };

function tokens(s: string): string[] {
  return s.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

function imapDate(s: string): Date | undefined {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(s.replace(/"/g, ""));
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2].toLowerCase());
  return month < 0 ? undefined : new Date(Date.UTC(Number(m[3]), month, Number(m[1])));
}

function gmailDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}`;
}

/** True when `criteria` starts with an IMAP SEARCH keyword (upper case). */
export function looksLikeImap(criteria: string): boolean {
  const first = tokens(criteria.trim())[0] ?? "";
  return first in FLAG_KEYS || first in TEXT_KEYS || first in DATE_KEYS || first === "NOT";
}

/** Translate IMAP criteria to a Gmail query; anything else is returned unchanged. */
export function imapToGmailQuery(criteria: string): string {
  const input = criteria.trim();
  if (!looksLikeImap(input)) return input;
  const t = tokens(input);
  const out: string[] = [];
  let negate = false;
  for (let i = 0; i < t.length; i++) {
    const k = t[i];
    let piece: string | undefined;
    if (k === "NOT") {
      negate = true;
      continue;
    } else if (k in FLAG_KEYS) {
      piece = FLAG_KEYS[k];
    } else if (k in TEXT_KEYS && i + 1 < t.length) {
      const v = t[++i];
      piece = `${TEXT_KEYS[k]}${v.startsWith('"') || !/\s/.test(v) ? v : `"${v}"`}`;
    } else if (k in DATE_KEYS && i + 1 < t.length) {
      const d = imapDate(t[++i]);
      if (!d) {
        piece = t[i];
      } else if (k === "ON") {
        piece = `after:${gmailDate(new Date(d.getTime() - 86_400_000))} before:${
          gmailDate(new Date(d.getTime() + 86_400_000))
        }`;
      } else {
        piece = `${DATE_KEYS[k]}${gmailDate(d)}`;
      }
    } else {
      piece = k;
    }
    if (piece) out.push(negate && !piece.startsWith("-") ? `-${piece}` : piece);
    negate = false;
  }
  return out.join(" ");
}
