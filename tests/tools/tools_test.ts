/**
 * The tool layer against a recording fake Gmail client: schema validation and strict coercion,
 * the catalogue's completeness, snake_case results, and the original SDK's tools with its bugs
 * fixed (B8: strict booleans, flags space- or comma-separated, unknown flags rejected, IMAP
 * criteria translated, BCC honoured, bodies untouched).
 * @module
 */

import { LIMITS, toolByName, TOOLS } from "../../lib/tools/catalog.ts";
import { imapToGmailQuery } from "../../lib/tools/imap_query.ts";
import { IMPLEMENTED, type MailClient, runTool } from "../../lib/tools/run.ts";
import { noticesOf, validateArgs } from "../../lib/tools/validate.ts";
import { McsError, UsageError } from "../../lib/errors.ts";
import type { Message, MessageSummary } from "../../lib/gmail/types.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../support/assert.ts";

const SUMMARY: MessageSummary = {
  id: "m1",
  threadId: "t1",
  from: "Alice <alice@example.org>",
  to: "ada@example.com",
  subject: "Hi",
  date: "2025-01-02T03:04:05.000Z",
  snippet: "hello",
  labels: ["INBOX", "UNREAD", "Work"],
  unread: true,
  hasAttachments: false,
};

/** A fake client that records every call. */
function fake() {
  const calls: [string, unknown[]][] = [];
  const rec = <T>(name: string, value: T) => (...args: unknown[]) => {
    calls.push([name, args]);
    return Promise.resolve(value);
  };
  const message: Message = {
    ...SUMMARY,
    cc: "",
    bcc: "",
    replyTo: "",
    messageIdHeader: "<x@y>",
    inReplyTo: "",
    references: "",
    text: "Body",
    attachments: [{
      filename: "a.pdf",
      mimeType: "application/pdf",
      size: 3,
      partId: "1",
      inline: false,
    }],
    truncated: false,
  };
  const gmail: MailClient = {
    search: rec("search", { items: [SUMMARY] }),
    getMessage: rec("getMessage", message),
    getThread: rec("getThread", { id: "t1", messages: [message] }),
    listThreads: rec("listThreads", {
      items: [{
        id: "t1",
        subject: "Hi",
        participants: ["Alice <alice@example.com>"],
        messageCount: 2,
        lastMessageId: "m2",
        date: "2026-01-02T00:00:00.000Z",
        snippet: "s",
        labels: ["INBOX"],
        unread: true,
      }],
      nextPageToken: "p2",
    }),
    send: rec("send", { id: "s1", threadId: "t9", labels: ["SENT"] }),
    createDraft: rec("createDraft", { id: "d1", messageId: "m9", threadId: "t9" }),
    listDrafts: rec("listDrafts", { items: [] }),
    sendDraft: rec("sendDraft", { id: "s2", threadId: "t9", labels: ["SENT"] }),
    listLabels: rec("listLabels", [
      { id: "INBOX", name: "INBOX", type: "system" },
      { id: "Label_1", name: "Work", type: "user" },
    ]),
    createLabel: rec("createLabel", { id: "Label_2", name: "New", type: "user" }),
    modifyLabels: rec("modifyLabels", { ids: ["m1"], labels: ["INBOX"] }),
    trash: rec("trash", { ids: ["m1"], labels: ["TRASH"] }),
    untrash: rec("untrash", { ids: ["m1"], labels: ["INBOX"] }),
    downloadAttachment: rec("downloadAttachment", {
      path: "/tmp/a.pdf",
      filename: "a.pdf",
      mimeType: "application/pdf",
      size: 3,
    }),
  };
  return { gmail, calls };
}

Deno.test("catalogue: every tool implemented, snake_case, strict schemas, results described", () => {
  assertEquals([...IMPLEMENTED].sort(), TOOLS.map((t) => t.name).sort());
  for (const t of TOOLS) {
    assert(/^[a-z]+(_[a-z]+)*$/.test(t.name), t.name);
    assertEquals(t.parameters.additionalProperties, false);
    assert(t.description.includes("Returns"), `${t.name} describes its result`);
    for (const p of Object.keys(t.parameters.properties)) assert(/^[a-z]+(_[a-z]+)*$/.test(p), p);
  }
  const legacy = {
    list_folders: [],
    list_messages: ["folder", "limit"],
    fetch_message: ["uid", "folder", "include_html"],
    search_messages: ["criteria", "folder", "limit"],
    move_message: ["uid", "destination", "folder"],
    set_flags: ["uid", "flags", "remove", "folder"],
    create_folder: ["name"],
    send_message: ["to", "subject", "body", "cc", "bcc", "reply_to"],
    send_html_message: ["to", "subject", "html_body", "text_body", "cc", "bcc", "reply_to"],
  };
  for (const [name, params] of Object.entries(legacy)) {
    const t = toolByName(name);
    assert(t?.legacy, name);
    assertEquals(Object.keys(t.parameters.properties).sort(), [...params].sort(), name);
  }
});

Deno.test("validation coerces strictly and names the problem", () => {
  const flags = toolByName("set_flags")!;
  assertEquals(validateArgs(flags, { uid: "1", flags: "\\Seen", remove: "false" }).remove, false);
  assertEquals(validateArgs(flags, { uid: "1", flags: "\\Seen", remove: "TRUE" }).remove, true);
  assertEquals(validateArgs(flags, { uid: 7, flags: "x" }).uid, "7");
  assertThrows(
    () => validateArgs(flags, { uid: "1", flags: "x", remove: "yes please" }),
    UsageError,
  );
  const search = toolByName("search_emails")!;
  assertEquals(validateArgs(search, { limit: "5" }), { query: "", limit: 5 });
  const capped = validateArgs(search, { limit: 101 });
  assertEquals(capped.limit, 100, "above the maximum is capped, not rejected");
  assertEquals(noticesOf(capped), ["limit 101 is above the maximum of 100; capped at 100."]);
  assertEquals(noticesOf(validateArgs(search, { limit: 100 })), []);
  assertThrows(() => validateArgs(search, { limit: 0 }), UsageError, "at least 1");
  assertThrows(() => validateArgs(search, { limit: 2.5 }), UsageError, "integer");
  assertThrows(() => validateArgs(search, { qurey: "x" }), UsageError, "Did you mean query?");
  assertThrows(() => validateArgs(search, [1]), UsageError, "JSON object");
  const send = toolByName("send_email")!;
  assertEquals(validateArgs(send, { to: "a@x.org, b@y.org", subject: "s" }).to, [
    "a@x.org",
    "b@y.org",
  ]);
  assertThrows(
    () => validateArgs(send, { subject: "s" }),
    UsageError,
    'missing required parameter "to"',
  );
  assertThrows(() => validateArgs(send, { to: [], subject: "s" }), UsageError, "must not be empty");
});

Deno.test("search_threads returns the documented snake_case shape", async () => {
  const { gmail, calls } = fake();
  const r = await runTool("search_threads", { query: "from:alice", limit: 3 }, { gmail });
  assertEquals(calls[0], ["listThreads", [{
    query: "from:alice",
    limit: 3,
    pageToken: undefined,
  }]]);
  assertEquals(r, {
    threads: [{
      id: "t1",
      subject: "Hi",
      participants: ["Alice <alice@example.com>"],
      message_count: 2,
      last_message_id: "m2",
      date: "2026-01-02T00:00:00.000Z",
      snippet: "s",
      labels: ["INBOX"],
      unread: true,
    }],
    next_page_token: "p2",
  });
});

Deno.test("search_emails returns the documented snake_case shape", async () => {
  const { gmail, calls } = fake();
  const r = await runTool("search_emails", { query: "is:unread", limit: 5, page_token: "p" }, {
    gmail,
  });
  assertEquals(calls[0], ["search", [{ query: "is:unread", limit: 5, pageToken: "p" }]]);
  assertEquals(r, {
    messages: [{
      id: "m1",
      thread_id: "t1",
      from: "Alice <alice@example.org>",
      to: "ada@example.com",
      subject: "Hi",
      date: "2025-01-02T03:04:05.000Z",
      snippet: "hello",
      labels: ["INBOX", "UNREAD", "Work"],
      unread: true,
      has_attachments: false,
    }],
    next_page_token: null,
  });
  const read = await runTool("read_email", { id: "m1" }, { gmail }) as Record<string, unknown>;
  assertEquals(read.body, "Body");
  assertEquals(read.attachments, [{
    attachment_id: null,
    part_id: "1",
    filename: "a.pdf",
    mime_type: "application/pdf",
    size: 3,
  }]);
});

Deno.test("set_flags: space or comma separated, strict remove, unknown flags rejected", async () => {
  for (const flags of ["\\Seen \\Flagged", "\\Seen,\\Flagged", " \\Seen , \\Flagged "]) {
    const { gmail, calls } = fake();
    await runTool("set_flags", { uid: "m1", flags, remove: "false" }, { gmail });
    assertEquals(calls, [["modifyLabels", [["m1"], { add: ["STARRED"], remove: ["UNREAD"] }]]]);
  }
  const { gmail, calls } = fake();
  await runTool("set_flags", { uid: "m1", flags: "\\Seen Work", remove: true }, { gmail });
  assertEquals(calls, [["modifyLabels", [["m1"], { add: ["UNREAD"], remove: ["Work"] }]]]);
  const t = fake();
  await runTool("set_flags", { uid: "m1", flags: "\\Deleted" }, { gmail: t.gmail });
  assertEquals(t.calls, [["trash", [["m1"]]]]);
  await assertRejects(
    () => runTool("set_flags", { uid: "m1", flags: "\\Answered" }, { gmail }),
    UsageError,
    "no \\Answered flag",
  );
});

Deno.test("legacy send_message honours BCC and leaves bodies untouched", async () => {
  const { gmail, calls } = fake();
  const body = "Path C:\\new\\folder\nline 2";
  const r = await runTool("send_message", {
    to: "a@x.org, b@y.org",
    subject: "s",
    body,
    bcc: "hidden@z.org",
  }, { gmail });
  assertEquals(r, { id: "s1", thread_id: "t9", labels: ["SENT"] });
  const input = calls[0][1][0] as Record<string, unknown>;
  assertEquals(input.to, ["a@x.org", "b@y.org"]);
  assertEquals(input.bcc, ["hidden@z.org"]);
  assertEquals(input.text, body);
  const h = fake();
  await runTool("send_html_message", { to: "a@x.org", subject: "s", html_body: "<b>x</b>" }, {
    gmail: h.gmail,
  });
  assertEquals((h.calls[0][1][0] as { html: string }).html, "<b>x</b>");
});

Deno.test("legacy search_messages translates IMAP criteria; folders are label names", async () => {
  const { gmail, calls } = fake();
  await runTool("search_messages", { criteria: 'FROM "alice" UNSEEN SINCE 01-Jan-2025' }, {
    gmail,
  });
  assertEquals(calls[0][1][0], {
    query: 'from:"alice" is:unread after:2025/01/01',
    labels: ["INBOX"],
    limit: 20,
  });
  const all = fake();
  await runTool("search_messages", { folder: "ALL" }, { gmail: all.gmail });
  assertEquals(all.calls[0][1][0], { query: "", labels: undefined, limit: 20 });
  const mv = fake();
  await runTool("move_message", { uid: "m1", destination: "Work" }, { gmail: mv.gmail });
  assertEquals(mv.calls[0], ["modifyLabels", [["m1"], { add: ["Work"], remove: ["INBOX"] }]]);
  assertEquals(imapToGmailQuery("from:bob is:unread"), "from:bob is:unread");
  assertEquals(imapToGmailQuery("NOT SEEN SUBJECT invoice"), "-is:read subject:invoice");
});

Deno.test("modify_email maps flags to labels and rejects contradictions", async () => {
  const { gmail, calls } = fake();
  await runTool("modify_email", {
    ids: "m1,m2",
    mark_read: true,
    archive: "true",
    add_labels: "Work",
  }, {
    gmail,
  });
  assertEquals(calls[0], ["modifyLabels", [["m1", "m2"], {
    add: ["Work"],
    remove: ["UNREAD", "INBOX"],
  }]]);
  await assertRejects(
    () => runTool("modify_email", { ids: ["m1"] }, { gmail }),
    UsageError,
    "nothing",
  );
  await assertRejects(
    () => runTool("modify_email", { ids: ["m1"], star: true, unstar: true }, { gmail }),
    UsageError,
    "conflict",
  );
});

Deno.test("download_attachment accepts a part id, an attachment id or a file name", async () => {
  const cases: [string, Record<string, string>][] = [
    ["1.2", { partId: "1.2" }],
    ["ANGjdJ8wZ4Xq9vT1kLmN", { attachmentId: "ANGjdJ8wZ4Xq9vT1kLmN" }],
    ["report.pdf", { filename: "report.pdf" }],
  ];
  for (const [which, selector] of cases) {
    const { gmail, calls } = fake();
    const r = await runTool("download_attachment", {
      message_id: "m1",
      attachment_id: which,
      out_dir: "/tmp/x",
    }, { gmail });
    assertEquals(calls[0], ["downloadAttachment", ["m1", selector, "/tmp/x", {
      overwrite: false,
    }]]);
    assertEquals((r as { mime_type: string }).mime_type, "application/pdf");
  }
});

Deno.test("unknown tools are usage errors with a suggestion", async () => {
  const { gmail } = fake();
  await assertRejects(() => runTool("serch_emails", {}, { gmail }), UsageError, "search_emails");
});

Deno.test("a limit above 100 is capped with a notice, for every tool with a limit", async () => {
  const withLimit = TOOLS.filter((t) => "limit" in t.parameters.properties).map((t) => t.name);
  assertEquals(withLimit.sort(), [
    "list_drafts",
    "list_messages",
    "search_emails",
    "search_messages",
    "search_threads",
  ]);
  for (const name of withLimit) {
    const { gmail, calls } = fake();
    const r = await runTool(name, { limit: 500 }, { gmail }) as { notice?: string };
    assertEquals((calls[0][1][0] as { limit: number }).limit, 100, name);
    assert(r.notice?.includes("limit 500 is above the maximum of 100; capped at 100."), name);
    const paged = "page_token" in toolByName(name)!.parameters.properties;
    assertEquals(r.notice?.includes("page_token"), paged, name);
    const plain = await runTool(name, { limit: 5 }, { gmail }) as { notice?: string };
    assertEquals(plain.notice, undefined, `${name}: no notice when nothing was capped`);
  }
});

Deno.test("include_html adds html (or null) cut at the same limit, with its own flag", async () => {
  const { gmail, calls } = fake();
  const base = await gmail.getMessage("m1") as Message;
  const htmlMsg: Message = { ...base, text: "short", html: "<p>" + "x".repeat(50) + "</p>" };
  gmail.getMessage = (...args: unknown[]) => {
    calls.push(["getMessage", args]);
    return Promise.resolve(htmlMsg);
  };
  const plain = await runTool("read_email", { id: "m1" }, { gmail }) as Record<string, unknown>;
  assert(!("html" in plain) && !("html_truncated" in plain), "no html unless asked");
  const r = await runTool("read_email", { id: "m1", include_html: true, max_body_chars: 10 }, {
    gmail,
  }) as Record<string, unknown>;
  // One character more than the limit is read, so a cut is detectable per field.
  assertEquals(calls.at(-1), ["getMessage", ["m1", { maxBodyChars: 11 }]]);
  assertEquals(r.body, "short");
  assertEquals(r.body_truncated, false);
  assertEquals(r.html, "<p>xxxxxxx");
  assertEquals(r.html_truncated, true);
  const f = await runTool("fetch_message", { uid: "m1", include_html: "true" }, {
    gmail,
  }) as Record<
    string,
    unknown
  >;
  assertEquals(f.html, htmlMsg.html);
  assertEquals(f.html_truncated, false);
  gmail.getMessage = () => Promise.resolve(base);
  const none = await runTool("read_email", { id: "m1", include_html: true }, { gmail }) as Record<
    string,
    unknown
  >;
  assertEquals(none.html, null);
  assertEquals(none.html_truncated, false);
  const t = fake();
  t.gmail.getThread = () => Promise.resolve({ id: "t1", messages: [htmlMsg] });
  const thread = await runTool("get_thread", { id: "t1", include_html: true }, {
    gmail: t.gmail,
  }) as { messages: Record<string, unknown>[] };
  assertEquals(thread.messages[0].html, htmlMsg.html);
});

Deno.test("download_attachment: overwrite passes through; a read-only cwd says to pass out_dir", async () => {
  const { gmail, calls } = fake();
  await runTool("download_attachment", {
    message_id: "m1",
    attachment_id: "1",
    out_dir: "/tmp/x",
    overwrite: true,
  }, { gmail });
  assertEquals(calls[0][1][3], { overwrite: true });
  const readOnly = (cause: Error) => () =>
    Promise.reject(
      new McsError("download_write_failed", `Cannot write /ro/a.pdf: ${cause.message}`, "runtime", {
        cause,
      }),
    );
  for (
    const cause of [
      new Error("Read-only file system (os error 30)"),
      new Deno.errors.PermissionDenied("Permission denied (os error 13)"),
    ]
  ) {
    gmail.downloadAttachment = readOnly(cause);
    const e = await assertRejects(
      () =>
        runTool("download_attachment", { message_id: "m1", attachment_id: "1" }, {
          gmail,
          cwd: "/ro",
        }),
      McsError,
    );
    assertEquals(e.code, "download_write_failed");
    assertStringIncludes(e.message, "pass out_dir");
    // With an explicit out_dir the message is left alone (the caller chose the directory).
    const given = await assertRejects(
      () =>
        runTool("download_attachment", { message_id: "m1", attachment_id: "1", out_dir: "/ro" }, {
          gmail,
        }),
      McsError,
    );
    assert(!given.message.includes("pass out_dir"));
  }
});

Deno.test("trash_email returns the resulting label names", async () => {
  const { gmail } = fake();
  assertEquals(await runTool("trash_email", { id: "m1" }, { gmail }), {
    id: "m1",
    labels: ["TRASH"],
  });
});

Deno.test("every string parameter has a maxLength and every list a maxItems", () => {
  for (const t of TOOLS) {
    for (const [name, p] of Object.entries(t.parameters.properties)) {
      if (p.type === "string") assert(p.maxLength, `${t.name}.${name} has a maxLength`);
      if (p.type === "array") {
        assert(p.maxItems, `${t.name}.${name} has a maxItems`);
        assert(p.items?.maxLength, `${t.name}.${name} items have a maxLength`);
      }
    }
  }
});

Deno.test("arguments over their limits are argument errors naming the parameter and the limit", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    [
      "search_emails",
      { query: "x".repeat(100_000) },
      `"query" is too long: 100000 characters, at most ${LIMITS.query}`,
    ],
    ["search_threads", { query: "x".repeat(LIMITS.query + 1) }, `"query" is too long`],
    ["read_email", { id: "1".repeat(LIMITS.id + 1) }, `"id" is too long`],
    [
      "send_email",
      { to: Array.from({ length: 501 }, (_, i) => `u${i}@example.com`), subject: "s", body: "b" },
      `"to" has 501 items, at most ${LIMITS.recipients}`,
    ],
    [
      "send_email",
      { to: "a@example.com", bcc: `${"b".repeat(400)}@example.com`, subject: "s", body: "b" },
      `"bcc[0]" is too long`,
    ],
    ["send_email", { to: "a@example.com", subject: "s".repeat(LIMITS.subject + 1) }, `"subject"`],
    ["modify_email", { ids: Array(LIMITS.ids + 1).fill("1") }, `"ids" has 1001 items`],
    [
      "send_message",
      { to: "a".repeat(LIMITS.addressString + 1), subject: "s", body: "b" },
      `"to" is too long`,
    ],
  ];
  for (const [tool, args, want] of cases) {
    const e = assertThrows(() => validateArgs(toolByName(tool)!, args), UsageError);
    assertEquals(e.code, "invalid_arguments");
    assertStringIncludes(e.message, want);
    assert(e.message.length < 300, "the message does not echo the argument");
  }
  // At the limit is fine.
  validateArgs(toolByName("search_emails")!, { query: "x".repeat(LIMITS.query) });
});
