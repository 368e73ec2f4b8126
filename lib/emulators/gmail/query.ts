/**
 * A useful subset of Gmail's search language for the emulator: free text and quoted phrases,
 * `from:` `to:` `cc:` `subject:` `label:` `in:` `is:` `has:attachment` `filename:`
 * `after:`/`before:` (YYYY/MM/DD or epoch seconds), `newer_than:`/`older_than:` (d/m/y),
 * `rfc822msgid:` (the whole Message-ID, brackets optional), negation with `-`, and `OR` between two
 * terms. Other matching is case-insensitive substring.
 *
 * @example
 * ```ts
 * import { compileQuery } from "./query.ts";
 * const q = compileQuery('from:alice -label:Receipts "quarterly report" OR budget');
 * q.mentionsTrashOrSpam; // false
 * ```
 * @module
 */

import type { Mailbox, StoredMessage } from "./mailbox.ts";

interface Term {
  neg: boolean;
  field?: string;
  value: string;
}

type Clause = Term[]; // OR of terms

/** A compiled query. */
export interface CompiledQuery {
  matches(box: Mailbox, m: StoredMessage): boolean;
  /** Whether the query itself targets trash/spam (so they are not excluded by default). */
  mentionsTrashOrSpam: boolean;
}

function tokenize(q: string): string[] {
  const out: string[] = [];
  const re = /-?(?:[A-Za-z0-9_]+:)?(?:"[^"]*"|\([^)]*\)|[^\s"()]+)|"[^"]*"/g;
  for (const m of q.matchAll(re)) out.push(m[0]);
  return out;
}

function parseTerm(tok: string): Term {
  let neg = false;
  let t = tok;
  if (t.startsWith("-") && t.length > 1) {
    neg = true;
    t = t.slice(1);
  }
  const m = /^([A-Za-z][A-Za-z0-9_]*):(.*)$/.exec(t);
  let field: string | undefined;
  let value = t;
  if (m) {
    field = m[1].toLowerCase();
    value = m[2];
  }
  value = value.replace(/^"|"$/g, "").replace(/^\(|\)$/g, "");
  return { neg, field, value };
}

function dateValue(v: string): number {
  if (/^\d{9,}$/.test(v)) return Number(v) * 1000;
  const m = /^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$/.exec(v);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
}

function relativeMs(v: string): number {
  const m = /^(\d+)([dmy])$/i.exec(v);
  if (!m) return NaN;
  const days = { d: 1, m: 30, y: 365 }[m[2].toLowerCase() as "d" | "m" | "y"];
  return Number(m[1]) * days * 86_400_000;
}

const norm = (s: string) => s.toLowerCase().replace(/[\s/&_]+/g, "-");

function termMatches(box: Mailbox, m: StoredMessage, t: Term): boolean {
  const v = box.view(m);
  const val = t.value.toLowerCase();
  const has = (s: string) => s.toLowerCase().includes(val);
  const hasLabel = (id: string) => m.labelIds.has(id);
  switch (t.field) {
    case undefined:
      return has(v.subject) || has(v.from) || has(v.to) || has(v.cc) || has(v.text) ||
        v.attachmentNames.some(has);
    case "from":
      return has(v.from);
    case "to":
      return has(v.to) || has(v.cc);
    case "cc":
      return has(v.cc);
    case "subject":
      return has(v.subject);
    case "filename":
      return v.attachmentNames.some(has);
    case "label": {
      return [...m.labelIds].some((id) => {
        const l = box.labels.get(id);
        return norm(id) === norm(val) || (l !== undefined && norm(l.name) === norm(val));
      });
    }
    case "in":
      if (val === "anywhere") return true;
      if (val === "drafts") return hasLabel("DRAFT");
      return hasLabel(val.toUpperCase());
    case "is":
      if (val === "unread") return hasLabel("UNREAD");
      if (val === "read") return !hasLabel("UNREAD");
      if (val === "starred") return hasLabel("STARRED");
      if (val === "unstarred") return !hasLabel("STARRED");
      if (val === "important") return hasLabel("IMPORTANT");
      return false;
    case "has":
      if (val === "attachment") return v.attachmentNames.length > 0;
      if (val === "userlabels") {
        return [...m.labelIds].some((id) => box.labels.get(id)?.type === "user");
      }
      return false;
    case "category":
      return hasLabel(`CATEGORY_${val.toUpperCase()}`);
    case "after":
      return m.internalDate >= dateValue(t.value);
    case "before":
      return m.internalDate < dateValue(t.value);
    case "newer_than":
      return m.internalDate > box.now() - relativeMs(t.value);
    case "older_than":
      return m.internalDate < box.now() - relativeMs(t.value);
    case "rfc822msgid":
      // Gmail matches the whole Message-ID, with or without its angle brackets.
      return bareMessageId(v.messageId).toLowerCase() === bareMessageId(val);
    default:
      // Unknown operator: Gmail treats "foo:bar" as text.
      return has(`${t.field}:${t.value}`) || has(v.text);
  }
}

function bareMessageId(id: string): string {
  return id.trim().replace(/^<|>$/g, "");
}

/** Compile a query string. An empty query matches everything. */
export function compileQuery(q: string): CompiledQuery {
  const tokens = tokenize(q);
  const clauses: Clause[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === "OR" && clauses.length && i + 1 < tokens.length) {
      clauses[clauses.length - 1].push(parseTerm(tokens[++i]));
    } else if (tokens[i] !== "AND") clauses.push([parseTerm(tokens[i])]);
  }
  const mentionsTrashOrSpam = clauses.flat().some((t) =>
    (t.field === "in" || t.field === "label") &&
    ["trash", "spam", "anywhere"].includes(t.value.toLowerCase())
  );
  return {
    mentionsTrashOrSpam,
    matches: (box, m) => clauses.every((c) => c.some((t) => termMatches(box, m, t) !== t.neg)),
  };
}
