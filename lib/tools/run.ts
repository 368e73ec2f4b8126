/**
 * The tool implementations: validate the arguments against the catalogue, call the Gmail client
 * and return the documented snake_case result. One code path serves `mcs exec <tool>`,
 * `mcs mail ...` and the original SDK's tool names (with its bugs fixed: strict booleans, flags
 * space- or comma-separated, label names resolved, unknown flags rejected, BCC honoured).
 *
 * Only a type is imported from the Gmail module, so loading this file stays cheap.
 *
 * @example
 * ```ts
 * import { runTool } from "./run.ts";
 * import type { MailClient } from "./run.ts";
 * declare const gmail: MailClient;
 * const r = await runTool("search_emails", { query: "is:unread", limit: 5 }, { gmail });
 * ```
 * @module
 */

import { McsError, UsageError } from "../errors.ts";
import type { GmailClient } from "../gmail/client.ts";
import type { Draft, Message, MessageSummary, SentMessage } from "../gmail/types.ts";
import { toolByName, TOOLS } from "./catalog.ts";
import { imapToGmailQuery } from "./imap_query.ts";
import { didYouMean } from "./suggest.ts";
import { noticesOf, type ToolArgs, validateArgs } from "./validate.ts";

/** The part of the Gmail client the tools use (a fake in tests). */
export type MailClient = Pick<
  GmailClient,
  | "search"
  | "getMessage"
  | "getThread"
  | "listThreads"
  | "send"
  | "createDraft"
  | "listDrafts"
  | "sendDraft"
  | "listLabels"
  | "createLabel"
  | "modifyLabels"
  | "trash"
  | "untrash"
  | "downloadAttachment"
>;

/** What a tool needs besides its arguments. */
export interface ToolDeps {
  gmail: MailClient;
  /** Directory for downloads when `out_dir` is not given (default: `Deno.cwd()`). */
  cwd?: string;
}

type Handler = (a: ToolArgs, deps: ToolDeps) => Promise<unknown>;

const list = (v: unknown): string[] => (Array.isArray(v) ? v as string[] : []);
const splitAddrs = (v: unknown): string[] =>
  typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : list(v);
const opt = (v: unknown): string | undefined => typeof v === "string" && v !== "" ? v : undefined;

/** snake_case view of a listing row. */
export function summaryOut(m: MessageSummary) {
  return {
    id: m.id,
    thread_id: m.threadId,
    from: m.from,
    to: m.to,
    subject: m.subject,
    date: m.date,
    snippet: m.snippet,
    labels: m.labels,
    unread: m.unread,
    has_attachments: m.hasAttachments,
  };
}

/** How much of a read message to return. */
export interface MessageOutOptions {
  /** Characters of `body` (and `html`) to return; undefined keeps the message as read. */
  maxChars?: number;
  /** Add `html` (null when the message has none) and `html_truncated`. */
  includeHtml?: boolean;
}

function cut(s: string, max: number | undefined): [string, boolean] {
  return max !== undefined && s.length > max ? [s.slice(0, max), true] : [s, false];
}

/**
 * snake_case view of a read message. With `maxChars`, `body` and `html` are cut here, each with
 * its own flag (the message should be read with `maxChars + 1` so a cut is detectable).
 */
export function messageOut(m: Message, o: MessageOutOptions = {}) {
  const [body, bodyCut] = cut(m.text, o.maxChars);
  const html = m.html === undefined ? undefined : cut(m.html, o.maxChars);
  return {
    ...summaryOut(m),
    cc: m.cc,
    body,
    body_truncated: o.maxChars === undefined ? m.truncated : bodyCut,
    ...(o.includeHtml ? { html: html?.[0] ?? null, html_truncated: html?.[1] ?? false } : {}),
    attachments: m.attachments.map((a) => ({
      attachment_id: a.attachmentId ?? null,
      part_id: a.partId,
      filename: a.filename,
      mime_type: a.mimeType,
      size: a.size,
    })),
  };
}

/** Body limit of `fetch_message` (the original SDK's tool has no parameter for it). */
const FETCH_MESSAGE_MAX_CHARS = 50_000;

/** Read one message and shape it: one character more than `max` is read to detect a cut. */
async function readOne(gmail: MailClient, id: string, max: number, includeHtml: boolean) {
  const m = await gmail.getMessage(id, { maxBodyChars: max + 1 });
  return messageOut(m, { maxChars: max, includeHtml });
}

/** Whether a failed download looks like an unwritable directory (read-only, no permission). */
function unwritable(e: unknown): boolean {
  if (!(e instanceof McsError)) return false;
  if (e.code === "permission_denied") return true;
  const cause = e.cause;
  return e.code === "download_write_failed" &&
    (cause instanceof Deno.errors.PermissionDenied || cause instanceof Deno.errors.NotCapable ||
      /read-only file system|os error 30\b/i.test(cause instanceof Error ? cause.message : ""));
}

const sentOut = (s: SentMessage) => ({ id: s.id, thread_id: s.threadId, labels: s.labels });
const draftOut = (d: Draft) => ({
  draft_id: d.id,
  id: d.messageId,
  thread_id: d.threadId,
  to: d.to ?? "",
  subject: d.subject ?? "",
  snippet: d.snippet ?? "",
});

function requireBody(a: ToolArgs, tool: string): void {
  if (!opt(a.body) && !opt(a.html)) {
    throw new UsageError("invalid_arguments", `${tool}: give a body (body or html).`);
  }
}

const attachments = (a: ToolArgs) => list(a.attachments).map((path) => ({ path }));

const HANDLERS: Record<string, Handler> = {
  async search_emails(a, { gmail }) {
    const page = await gmail.search({
      query: String(a.query ?? ""),
      limit: a.limit as number,
      pageToken: opt(a.page_token),
    });
    return { messages: page.items.map(summaryOut), next_page_token: page.nextPageToken ?? null };
  },
  async read_email(a, { gmail }) {
    return await readOne(gmail, String(a.id), a.max_body_chars as number, a.include_html === true);
  },
  async search_threads(a, { gmail }) {
    const page = await gmail.listThreads({
      query: String(a.query ?? ""),
      limit: a.limit as number,
      pageToken: opt(a.page_token),
    });
    return {
      threads: page.items.map((t) => ({
        id: t.id,
        subject: t.subject,
        participants: t.participants,
        message_count: t.messageCount,
        last_message_id: t.lastMessageId,
        date: t.date,
        snippet: t.snippet,
        labels: t.labels,
        unread: t.unread,
      })),
      next_page_token: page.nextPageToken ?? null,
    };
  },
  async get_thread(a, { gmail }) {
    const max = a.max_body_chars as number;
    const t = await gmail.getThread(String(a.id), { maxBodyChars: max + 1 });
    return {
      id: t.id,
      messages: t.messages.map((m) =>
        messageOut(m, { maxChars: max, includeHtml: a.include_html === true })
      ),
    };
  },
  async send_email(a, { gmail }) {
    requireBody(a, "send_email");
    return sentOut(
      await gmail.send({
        to: list(a.to),
        cc: list(a.cc),
        bcc: list(a.bcc),
        replyTo: opt(a.reply_to),
        subject: String(a.subject),
        text: opt(a.body),
        html: opt(a.html),
        attachments: attachments(a),
      }),
    );
  },
  async reply_email(a, { gmail }) {
    requireBody(a, "reply_email");
    return sentOut(
      await gmail.send({
        replyToMessageId: String(a.id),
        replyAll: a.reply_all === true,
        cc: list(a.cc),
        bcc: list(a.bcc),
        text: opt(a.body),
        html: opt(a.html),
        attachments: attachments(a),
      }),
    );
  },
  async create_draft(a, { gmail }) {
    const d = await gmail.createDraft({
      to: list(a.to),
      cc: list(a.cc),
      bcc: list(a.bcc),
      replyTo: opt(a.reply_to),
      subject: opt(a.subject),
      text: opt(a.body),
      html: opt(a.html),
      attachments: attachments(a),
      replyToMessageId: opt(a.reply_to_id),
    });
    return { draft_id: d.id, id: d.messageId, thread_id: d.threadId };
  },
  async list_drafts(a, { gmail }) {
    const page = await gmail.listDrafts({ limit: a.limit as number, pageToken: opt(a.page_token) });
    return { drafts: page.items.map(draftOut), next_page_token: page.nextPageToken ?? null };
  },
  async send_draft(a, { gmail }) {
    return sentOut(await gmail.sendDraft(String(a.draft_id)));
  },
  async list_labels(_a, { gmail }) {
    const labels = await gmail.listLabels();
    return { labels: labels.map((l) => ({ id: l.id, name: l.name, type: l.type })) };
  },
  async modify_email(a, { gmail }) {
    if (a.mark_read && a.mark_unread) {
      throw new UsageError(
        "invalid_arguments",
        "modify_email: mark_read and mark_unread conflict.",
      );
    }
    if (a.star && a.unstar) {
      throw new UsageError("invalid_arguments", "modify_email: star and unstar conflict.");
    }
    const add = list(a.add_labels), remove = list(a.remove_labels);
    if (a.mark_read) remove.push("UNREAD");
    if (a.mark_unread) add.push("UNREAD");
    if (a.archive) remove.push("INBOX");
    if (a.star) add.push("STARRED");
    if (a.unstar) remove.push("STARRED");
    if (add.length === 0 && remove.length === 0) {
      throw new UsageError(
        "invalid_arguments",
        "modify_email: nothing to change; give add_labels, remove_labels, mark_read, mark_unread, archive, star or unstar.",
      );
    }
    const r = await gmail.modifyLabels(list(a.ids), { add, remove });
    return { ids: r.ids, labels: r.labels ?? null };
  },
  async trash_email(a, { gmail }) {
    const r = await gmail.trash([String(a.id)]);
    return { id: String(a.id), labels: r.labels ?? null };
  },
  async download_attachment(a, { gmail, cwd }) {
    const which = String(a.attachment_id);
    const selector = /^\d+(\.\d+)*$/.test(which)
      ? { partId: which }
      : /^[A-Za-z0-9_-]{16,}$/.test(which)
      ? { attachmentId: which }
      : { filename: which };
    const outDir = opt(a.out_dir);
    const dir = outDir ?? cwd ?? Deno.cwd();
    let d;
    try {
      d = await gmail.downloadAttachment(String(a.message_id), selector, dir, {
        overwrite: a.overwrite === true,
      });
    } catch (e) {
      // No out_dir: the current directory was used, which in a sandbox is often read-only.
      if (outDir !== undefined || !unwritable(e)) throw e;
      const err = e as McsError;
      throw new McsError(
        err.code,
        `${err.message.replace(/\s*$/, "")} No out_dir was given, so the current directory ` +
          `(${dir}) was used: pass out_dir with a writable directory (CLI: --out DIR).`,
        err.category,
        { cause: err, retryable: err.retryable, details: err.details },
      );
    }
    return { path: d.path, filename: d.filename, mime_type: d.mimeType, size: d.size };
  },

  // The original SDK's tools.
  async list_folders(_a, { gmail }) {
    return { folders: (await gmail.listLabels()).map((l) => l.name).sort() };
  },
  async list_messages(a, { gmail }) {
    const page = await gmail.search({ labels: [String(a.folder)], limit: a.limit as number });
    return { messages: page.items.map((m) => ({ uid: m.id, ...summaryOut(m) })) };
  },
  async fetch_message(a, { gmail }) {
    const m = await readOne(
      gmail,
      String(a.uid),
      FETCH_MESSAGE_MAX_CHARS,
      a.include_html === true,
    );
    return { uid: m.id, ...m };
  },
  async search_messages(a, { gmail }) {
    const folder = String(a.folder ?? "");
    const query = imapToGmailQuery(String(a.criteria ?? ""));
    const page = await gmail.search({
      query: /^ALL$/i.test(query) ? "" : query,
      labels: folder === "" || /^ALL$/i.test(folder) ? undefined : [folder],
      limit: a.limit as number,
    });
    return { messages: page.items.map((m) => ({ uid: m.id, ...summaryOut(m) })) };
  },
  async move_message(a, { gmail }) {
    const uid = String(a.uid);
    const r = await gmail.modifyLabels([uid], {
      add: [String(a.destination)],
      remove: [String(a.folder)],
    });
    return { uid, labels: r.labels ?? null };
  },
  async set_flags(a, { gmail }) {
    const uid = String(a.uid);
    const remove = a.remove === true;
    const add: string[] = [], rem: string[] = [];
    let trash: boolean | undefined;
    for (const f of String(a.flags).split(/[\s,]+/).filter(Boolean)) {
      switch (f.toLowerCase()) {
        case "\\seen":
          (remove ? add : rem).push("UNREAD");
          break;
        case "\\flagged":
          (remove ? rem : add).push("STARRED");
          break;
        case "\\deleted":
          trash = !remove;
          break;
        default:
          if (f.startsWith("\\")) {
            throw new UsageError(
              "unsupported_flag",
              `set_flags: Gmail has no ${f} flag. Supported: \\Seen, \\Flagged, \\Deleted, or a label name.`,
            );
          }
          (remove ? rem : add).push(f);
      }
    }
    let labels: string[] | undefined;
    if (add.length || rem.length) {
      labels = (await gmail.modifyLabels([uid], { add, remove: rem })).labels;
    }
    if (trash !== undefined) {
      labels = (trash ? await gmail.trash([uid]) : await gmail.untrash([uid])).labels;
    }
    return { uid, labels: labels ?? null };
  },
  async create_folder(a, { gmail }) {
    const l = await gmail.createLabel(String(a.name));
    return { id: l.id, name: l.name };
  },
  async send_message(a, deps) {
    return await HANDLERS.send_email({
      to: splitAddrs(a.to),
      cc: splitAddrs(a.cc),
      bcc: splitAddrs(a.bcc),
      reply_to: a.reply_to,
      subject: a.subject,
      body: a.body,
    }, deps);
  },
  async send_html_message(a, deps) {
    return await HANDLERS.send_email({
      to: splitAddrs(a.to),
      cc: splitAddrs(a.cc),
      bcc: splitAddrs(a.bcc),
      reply_to: a.reply_to,
      subject: a.subject,
      body: a.text_body,
      html: a.html_body,
    }, deps);
  },
};

/** Validate `args` against the named tool's schema. @throws {UsageError} */
export function prepareToolCall(name: string, args: unknown): ToolArgs {
  const spec = toolByName(name);
  if (!spec) {
    throw new UsageError(
      "unknown_tool",
      `Unknown tool "${name}".${didYouMean(name, TOOLS.map((t) => t.name))} Run \`mcs tools\`.`,
    );
  }
  return validateArgs(spec, args);
}

/**
 * Run one tool with already validated arguments. When validation adjusted an argument (a limit
 * above 100 is capped), the result carries a `notice` saying so.
 */
export async function runValidated(name: string, args: ToolArgs, deps: ToolDeps): Promise<unknown> {
  const result = await HANDLERS[name](args, deps);
  const notices = noticesOf(args);
  if (!notices.length || !result || typeof result !== "object") return result;
  const paged = "page_token" in (toolByName(name)?.parameters.properties ?? {});
  const more = paged ? " Pass next_page_token back as page_token for more." : "";
  return { ...result, notice: notices.join(" ") + more };
}

/** Validate and run one tool; returns its documented result. */
export async function runTool(name: string, args: unknown, deps: ToolDeps): Promise<unknown> {
  return await runValidated(name, prepareToolCall(name, args), deps);
}

/** Names with an implementation (every catalogue entry; checked by the tests). */
export const IMPLEMENTED: readonly string[] = Object.keys(HANDLERS);
