/**
 * `mcs mail ...`: the human face of the agent tools. Each subcommand maps its flags onto one
 * tool call (the same validation and code path as `mcs exec`) and renders the result for a
 * terminal; `--json` prints the tool's result unchanged.
 *
 * @example
 * ```sh
 * mcs mail search from:alice is:unread --limit 5
 * echo "Thanks!" | mcs mail reply 18c0ffee --all
 * ```
 * @module
 */

import { UsageError } from "../../lib/errors.ts";
import { prepareToolCall, runValidated } from "../../lib/tools/run.ts";
import { withApp } from "../app.ts";
import type { CommandOutput, Context } from "../context.ts";

type Rec = Record<string, unknown>;
type Msg = {
  id: string;
  thread_id: string;
  from: string;
  to: string;
  cc?: string;
  subject: string;
  date: string;
  snippet: string;
  labels: string[];
  unread: boolean;
  has_attachments: boolean;
  body?: string;
  body_truncated?: boolean;
  html?: string | null;
  html_truncated?: boolean;
  attachments?: { part_id: string; filename: string; mime_type: string; size: number }[];
};

const str = (v: unknown) => (typeof v === "string" ? v : undefined);
const strs = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.length
    ? v.flatMap((x) => String(x).split(",")).map((s) => s.trim()).filter(Boolean)
    : undefined;

function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

/** The body from --body, --body-file (or `-`), or piped stdin. */
async function readBody(ctx: Context, required: boolean): Promise<string | undefined> {
  const o = ctx.options;
  const inline = str(o.body);
  const file = str(o["body-file"]);
  if (inline !== undefined && file !== undefined) {
    throw new UsageError("conflicting_options", "Give --body or --body-file, not both.");
  }
  if (inline !== undefined) return inline;
  const fromStdin = file === "-" || (file === undefined && !ctx.io.stdinIsTerminal && required);
  if (fromStdin) {
    if (o["secrets-stdin"]) {
      throw new UsageError(
        "stdin_conflict",
        "stdin carries the secrets (--secrets-stdin); pass the body with --body or --body-file.",
      );
    }
    const text = await ctx.stdin();
    if (text !== "") return text;
  } else if (file !== undefined) {
    try {
      return await Deno.readTextFile(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new UsageError("body_file_not_found", `--body-file: no such file ${file}.`);
      }
      throw e;
    }
  }
  return undefined;
}

async function readHtml(ctx: Context): Promise<string | undefined> {
  const f = str(ctx.options["html-file"]);
  return f === undefined ? undefined : await Deno.readTextFile(f);
}

function renderList(messages: Msg[], next: string | null): string {
  if (messages.length === 0) return "No messages.\n";
  const lines = messages.map((m) =>
    `${m.unread ? "●" : " "} ${m.id}  ${m.date.slice(0, 16).replace("T", " ")}  ${
      clip(m.from, 28).padEnd(28)
    }  ${clip(m.subject || "(no subject)", 60)}${m.has_attachments ? " 📎" : ""}`
  );
  if (next) lines.push(`More: --page-token ${next}`);
  return lines.join("\n") + "\n";
}

interface ThreadRow {
  id: string;
  subject: string;
  participants: string[];
  message_count: number;
  date: string;
  unread: boolean;
}

function renderThreads(threads: ThreadRow[], next: string | null): string {
  if (threads.length === 0) return "No conversations.\n";
  const lines = threads.map((t) =>
    `${t.unread ? "●" : " "} ${t.id}  ${t.date.slice(0, 16).replace("T", " ")}  ${
      clip(t.participants.join(", "), 28).padEnd(28)
    }  ${clip(t.subject || "(no subject)", 54)} (${t.message_count})`
  );
  if (next) lines.push(`More: --page-token ${next}`);
  return lines.join("\n") + "\n";
}

/** The body to print: the text, or with `--html` the HTML part (the text when there is none). */
function bodyLines(m: Msg, html: boolean): string[] {
  const more = "[… truncated; --max-chars for more]";
  if (html && typeof m.html === "string") {
    return [m.html.trimEnd(), ...(m.html_truncated ? [more] : [])];
  }
  return [
    ...(html ? ["[no HTML part; the text follows]"] : []),
    (m.body ?? m.snippet).trimEnd(),
    ...(m.body_truncated ? [more] : []),
  ];
}

function renderMessage(m: Msg, html = false): string {
  const head = [
    `From:    ${m.from}`,
    `To:      ${m.to}`,
    ...(m.cc ? [`Cc:      ${m.cc}`] : []),
    `Date:    ${m.date}`,
    `Subject: ${m.subject}`,
    `Id:      ${m.id} (thread ${m.thread_id})  Labels: ${m.labels.join(", ")}`,
  ];
  const atts = (m.attachments ?? []).map((a) =>
    `  📎 ${a.filename} (${a.mime_type}, ${a.size} bytes)  mcs mail attachment ${m.id} ${a.part_id}`
  );
  return [
    ...head,
    "",
    ...bodyLines(m, html),
    ...(atts.length ? ["", "Attachments:", ...atts] : []),
    "",
  ].join("\n");
}

/** Map the subcommand to a tool call and a renderer. */
async function plan(
  ctx: Context,
): Promise<{ tool: string; args: Rec; render: (r: Rec) => string }> {
  const o = ctx.options;
  const p = ctx.positionals;
  const sub = ctx.command.path.slice(1).join(" ");
  const limit = str(o.limit);
  const page = { limit, page_token: str(o["page-token"]) };
  const compose = async (): Promise<Rec> => ({
    to: strs(o.to),
    cc: strs(o.cc),
    bcc: strs(o.bcc),
    reply_to: str(o["reply-to"]),
    subject: str(o.subject),
    body: await readBody(ctx, true),
    html: await readHtml(ctx),
    attachments: o.attach,
  });
  const sent = (r: Rec) => `Sent message ${r.id} (thread ${r.thread_id}).\n`;
  switch (sub) {
    case "search":
      return {
        tool: "search_emails",
        args: { query: p.join(" "), ...page },
        render: (r) => renderList(r.messages as Msg[], r.next_page_token as string | null),
      };
    case "threads":
      return {
        tool: "search_threads",
        args: { query: p.join(" "), ...page },
        render: (r) => renderThreads(r.threads as ThreadRow[], r.next_page_token as string | null),
      };
    case "read":
      return {
        tool: "read_email",
        args: {
          id: p[0],
          max_body_chars: str(o["max-chars"]),
          ...(o.html === true ? { include_html: true } : {}),
        },
        render: (r) => renderMessage(r as unknown as Msg, o.html === true),
      };
    case "thread":
      return {
        tool: "get_thread",
        args: { id: p[0] },
        render: (r) =>
          (r.messages as Msg[]).map((m) => renderMessage(m)).join("\n" + "─".repeat(60) + "\n"),
      };
    case "send":
      return { tool: "send_email", args: await compose(), render: sent };
    case "reply":
      return {
        tool: "reply_email",
        args: {
          id: p[0],
          reply_all: o.all === true,
          cc: strs(o.cc),
          bcc: strs(o.bcc),
          body: await readBody(ctx, true),
          html: await readHtml(ctx),
          attachments: o.attach,
        },
        render: sent,
      };
    case "draft create":
      return {
        tool: "create_draft",
        args: { ...(await compose()), reply_to_id: str(o["reply-to-id"]) },
        render: (r) => `Saved draft ${r.draft_id} (message ${r.id}).\n`,
      };
    case "draft list":
      return {
        tool: "list_drafts",
        args: page,
        render: (r) => {
          const d = r.drafts as Rec[];
          return d.length === 0
            ? "No drafts.\n"
            : d.map((x) => `${x.draft_id}  ${clip(String(x.to), 30).padEnd(30)}  ${x.subject}`)
              .join("\n") + "\n";
        },
      };
    case "draft send":
      return { tool: "send_draft", args: { draft_id: p[0] }, render: sent };
    case "labels":
      return {
        tool: "list_labels",
        args: {},
        render: (r) =>
          (r.labels as Rec[]).map((l) => `${String(l.name).padEnd(24)} ${l.id} (${l.type})`)
            .join("\n") + "\n",
      };
    case "modify":
      return {
        tool: "modify_email",
        args: {
          ids: p,
          add_labels: o.add,
          remove_labels: o.remove,
          mark_read: o.read,
          mark_unread: o.unread,
          archive: o.archive,
          star: o.star,
          unstar: o.unstar,
        },
        render: (r) => `Updated ${(r.ids as string[]).length} message(s).\n`,
      };
    case "trash":
      return {
        tool: "trash_email",
        args: { id: p[0] },
        render: (r) => `Moved ${r.id} to the trash.\n`,
      };
    case "attachment":
      return {
        tool: "download_attachment",
        args: {
          message_id: p[0],
          attachment_id: p[1],
          out_dir: str(o.out),
          ...(o.overwrite === true ? { overwrite: true } : {}),
        },
        render: (r) => `Saved ${r.path} (${r.size} bytes).\n`,
      };
  }
  throw new UsageError("unknown_command", `Unknown mail command ${sub}.`);
}

/** Run the command. */
export async function run(ctx: Context): Promise<CommandOutput> {
  const { tool, args, render } = await plan(ctx);
  const clean = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
  const valid = prepareToolCall(tool, clean);
  return await withApp(ctx, {}, async (app) => {
    const result = await runValidated(tool, valid, { gmail: await app.gmail() }) as Rec;
    const note = typeof result.notice === "string" ? `Note: ${result.notice}\n` : "";
    return { result, human: render(result) + note };
  });
}
