/**
 * Every write path, end to end: each CLI write command and every recipient field of every
 * sending tool (`mcs exec`), run as a separate process against the Gmail emulator, then read
 * back from what the emulator recorded — the delivery record (who a sent message went to, Bcc
 * included, since Gmail strips Bcc from the stored copy) and the Gmail REST API (Sent and
 * drafts as raw RFC 822, parsed with postal-mime; labels). A flag or field the code drops
 * (`--bcc`, `--cc`, `--attach`, `--archive` wired to star, bcc in a tool handler) fails here.
 * @module
 */

import PostalMime from "postal-mime";
import { type Stack, startStack } from "../../lib/emulators/stack.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { doc, mcs } from "./_mcs.ts";

/** A Gmail REST client for reading back what the CLI did. */
function gmailApi(stack: Stack, token: string) {
  const base = `${stack.urls.gmail}/gmail/v1/users/me`;
  const get = async (path: string) => {
    const res = await stack.fetch(`${base}/${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const parseRaw = (raw: string) => {
    const bin = atob(raw.replace(/-/g, "+").replace(/_/g, "/"));
    return PostalMime.parse(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  };
  return {
    get,
    /** One id of a message matching `q`. */
    async find(q: string): Promise<string> {
      const r = await get(`messages?q=${encodeURIComponent(q)}&maxResults=1`);
      assert(r.messages?.length, `no message matches ${q}`);
      return r.messages[0].id;
    },
    async labels(id: string): Promise<string[]> {
      return (await get(`messages/${id}?format=minimal`)).labelIds ?? [];
    },
    async message(id: string) {
      const m = await get(`messages/${id}?format=raw`);
      return { threadId: m.threadId as string, mail: await parseRaw(m.raw) };
    },
    async draft(id: string) {
      const d = await get(`drafts/${id}?format=raw`);
      return {
        messageId: d.message.id as string,
        threadId: d.message.threadId as string,
        mail: await parseRaw(d.message.raw),
      };
    },
  };
}

const emails = (list: { address?: string }[] | undefined) =>
  (list ?? []).map((a) => a.address).sort();

Deno.test("every CLI write command and every recipient field of every tool reach Gmail", async (t) => {
  const stack = await startStack({ pollInterval: 1 });
  const dir = await Deno.makeTempDir({ prefix: "mcs-write-" });
  try {
    const { token } = stack.googleTokens.issue({
      sub: stack.auth0.user.googleSub,
      email: stack.auth0.user.email,
      scopes: ["https://mail.google.com/"],
      ttlS: 3600,
    });
    const env = {
      MCS_AUTH: "static",
      MCS_GMAIL_TOKEN: token,
      MCS_GMAIL_API_BASE: stack.env.MCS_GMAIL_API_BASE,
      MCS_CA_FILE: stack.env.MCS_CA_FILE,
      MCS_CACHE_DIR: `${dir}/cache`,
    };
    const api = gmailApi(stack, token);
    const deliveries = stack.gmail.mailbox.deliveries;
    const run = async (args: string[], stdin?: string) => {
      const r = await mcs(args, { env, stdin });
      assertEquals(r.code, 0, `mcs ${args.join(" ")}: ${r.stdout}${r.stderr}`);
      return doc(r).result;
    };
    const exec = (tool: string, args: Record<string, unknown>) =>
      run(["exec", tool, JSON.stringify(args)]);
    /** The delivery recorded for sent message `id`. */
    const delivered = (id: string) => {
      const d = deliveries.find((x) => x.messageId === id);
      assert(d, `no delivery recorded for ${id}`);
      return { to: [...d.to].sort(), cc: [...d.cc].sort(), bcc: [...d.bcc].sort() };
    };
    const attachment = `${dir}/notes.txt`;
    await Deno.writeTextFile(attachment, "attached bytes\n");
    const html = `${dir}/body.html`;
    await Deno.writeTextFile(html, "<p>Hello <b>there</b></p>");
    const party = await api.find("subject:Party"); // from sam@, cc alice@, to the owner

    await t.step(
      "mail send: --to (repeated and comma-separated), --cc, --bcc, --reply-to, --attach, --html-file",
      async () => {
        const r = await run([
          "mail",
          "send",
          "--json",
          "--to",
          "to1@example.com",
          "--to",
          "to2@example.com,to3@example.com",
          "--cc",
          "cc1@example.com",
          "--cc",
          "cc2@example.com",
          "--bcc",
          "bcc1@example.com",
          "--bcc",
          "bcc2@example.com",
          "--reply-to",
          "replies@example.com",
          "--subject",
          "cli send",
          "--attach",
          attachment,
          "--html-file",
          html,
          "--body",
          "plain text",
        ]);
        assertEquals(delivered(r.id), {
          to: ["to1@example.com", "to2@example.com", "to3@example.com"],
          cc: ["cc1@example.com", "cc2@example.com"],
          bcc: ["bcc1@example.com", "bcc2@example.com"],
        });
        const { mail } = await api.message(r.id);
        assertEquals(mail.subject, "cli send");
        assertEquals(emails(mail.replyTo), ["replies@example.com"]);
        assertEquals(mail.attachments.map((a) => a.filename), ["notes.txt"]);
        assert(mail.html?.includes("<b>there</b>"), "the HTML part was sent");
        assertEquals(mail.text?.trim(), "plain text");
      },
    );

    await t.step("mail reply --all: --cc, --bcc, --attach, in the thread", async () => {
      const r = await run([
        "mail",
        "reply",
        party,
        "--all",
        "--json",
        "--cc",
        "extra@example.com",
        "--bcc",
        "hidden@example.com",
        "--attach",
        attachment,
        "--body",
        "count me in",
      ]);
      const orig = await api.message(party);
      assertEquals(r.thread_id, orig.threadId);
      const d = delivered(r.id);
      assertEquals(d.to, ["sam@example.net"]);
      assertEquals(d.cc, ["alice@example.org", "extra@example.com"]);
      assertEquals(d.bcc, ["hidden@example.com"]);
      const { mail } = await api.message(r.id);
      assertEquals(mail.attachments.map((a) => a.filename), ["notes.txt"]);
    });

    await t.step("mail reply without --all answers the sender only", async () => {
      const r = await run(["mail", "reply", party, "--json", "--body", "just you"]);
      assertEquals(delivered(r.id), { to: ["sam@example.net"], cc: [], bcc: [] });
    });

    await t.step(
      "mail reply --bcc adds a hidden recipient and still answers the sender",
      async () => {
        const r = await run([
          "mail",
          "reply",
          party,
          "--json",
          "--bcc",
          "me2@example.com",
          "--body",
          "b",
        ]);
        assertEquals(delivered(r.id), {
          to: ["sam@example.net"],
          cc: [],
          bcc: ["me2@example.com"],
        });
      },
    );

    await t.step(
      "mail draft create keeps every field; mail draft send delivers it, Bcc included",
      async () => {
        const before = deliveries.length;
        const r = await run([
          "mail",
          "draft",
          "create",
          "--json",
          "--to",
          "d1@example.com,d2@example.com",
          "--cc",
          "dcc@example.com",
          "--bcc",
          "dbcc@example.com",
          "--reply-to",
          "r@example.com",
          "--subject",
          "cli draft",
          "--attach",
          attachment,
          "--body",
          "draft body",
        ]);
        assertEquals(deliveries.length, before, "a draft is not sent");
        const { mail } = await api.draft(r.draft_id);
        assertEquals(emails(mail.to), ["d1@example.com", "d2@example.com"]);
        assertEquals(emails(mail.cc), ["dcc@example.com"]);
        assertEquals(emails(mail.bcc), ["dbcc@example.com"]);
        assertEquals(emails(mail.replyTo), ["r@example.com"]);
        assertEquals(mail.subject, "cli draft");
        assertEquals(mail.attachments.map((a) => a.filename), ["notes.txt"]);
        const s = await run(["mail", "draft", "send", r.draft_id, "--json"]);
        assertEquals(delivered(s.id), {
          to: ["d1@example.com", "d2@example.com"],
          cc: ["dcc@example.com"],
          bcc: ["dbcc@example.com"],
        });
      },
    );

    await t.step("mail draft create --reply-to-id drafts in the thread", async () => {
      const r = await run([
        "mail",
        "draft",
        "create",
        "--json",
        "--reply-to-id",
        party,
        "--to",
        "sam@example.net",
        "--body",
        "later",
      ]);
      assertEquals((await api.draft(r.draft_id)).threadId, (await api.message(party)).threadId);
    });

    await t.step("mail modify: each flag changes its own label", async () => {
      const id = await api.find("in:inbox is:unread -is:starred");
      const has = async (label: string) => (await api.labels(id)).includes(label);
      assert(await has("INBOX") && await has("UNREAD") && !(await has("STARRED")));
      await run(["mail", "modify", id, "--archive", "--json"]);
      assertEquals([await has("INBOX"), await has("STARRED")], [false, false], "--archive");
      await run(["mail", "modify", id, "--star", "--json"]);
      assertEquals([await has("STARRED"), await has("INBOX")], [true, false], "--star");
      await run(["mail", "modify", id, "--unstar", "--json"]);
      assertEquals(await has("STARRED"), false, "--unstar");
      await run(["mail", "modify", id, "--read", "--json"]);
      assertEquals(await has("UNREAD"), false, "--read");
      await run(["mail", "modify", id, "--unread", "--json"]);
      assertEquals(await has("UNREAD"), true, "--unread");
      await run(["mail", "modify", id, "--add", "IMPORTANT", "--json"]);
      assertEquals(await has("IMPORTANT"), true, "--add");
      await run(["mail", "modify", id, "--remove", "IMPORTANT", "--json"]);
      assertEquals(await has("IMPORTANT"), false, "--remove");
    });

    await t.step("mail trash moves the message to the trash", async () => {
      const id = await api.find("subject:Deno Weekly");
      await run(["mail", "trash", id, "--json"]);
      assert((await api.labels(id)).includes("TRASH"));
    });

    await t.step("mail attachment saves the attachment's bytes", async () => {
      const id = await api.find("filename:trip.ics");
      const out = `${dir}/out`;
      await Deno.mkdir(out);
      const r = await run(["mail", "attachment", id, "trip.ics", "--out", out, "--json"]);
      assertEquals(r.path, `${out}/trip.ics`);
      assert((await Deno.readTextFile(r.path)).includes("BEGIN:VCALENDAR"));
    });

    await t.step("tool send_email: to, cc, bcc, reply_to, html, attachments", async () => {
      const r = await exec("send_email", {
        to: ["t1@example.com", "t2@example.com"],
        cc: "c1@example.com, c2@example.com",
        bcc: ["b1@example.com"],
        reply_to: "rt@example.com",
        subject: "tool send",
        body: "text",
        html: "<i>rich</i>",
        attachments: [attachment],
      });
      assertEquals(delivered(r.id), {
        to: ["t1@example.com", "t2@example.com"],
        cc: ["c1@example.com", "c2@example.com"],
        bcc: ["b1@example.com"],
      });
      const { mail } = await api.message(r.id);
      assertEquals(emails(mail.replyTo), ["rt@example.com"]);
      assertEquals(mail.attachments.map((a) => a.filename), ["notes.txt"]);
      assert(mail.html?.includes("<i>rich</i>"));
    });

    await t.step("tool reply_email: reply_all, cc, bcc, attachments", async () => {
      const r = await exec("reply_email", {
        id: party,
        reply_all: true,
        cc: ["rc@example.com"],
        bcc: ["rb@example.com"],
        body: "yes",
        attachments: [attachment],
      });
      assertEquals(delivered(r.id), {
        to: ["sam@example.net"],
        cc: ["alice@example.org", "rc@example.com"],
        bcc: ["rb@example.com"],
      });
      assertEquals((await api.message(r.id)).mail.attachments.length, 1);
    });

    await t.step(
      "tool create_draft: to, cc, bcc, reply_to, attachments; send_draft delivers",
      async () => {
        const r = await exec("create_draft", {
          to: ["x@example.com"],
          cc: ["xc@example.com"],
          bcc: ["xb@example.com"],
          reply_to: "xr@example.com",
          subject: "tool draft",
          body: "b",
          attachments: [attachment],
        });
        const { mail } = await api.draft(r.draft_id);
        assertEquals(emails(mail.to), ["x@example.com"]);
        assertEquals(emails(mail.cc), ["xc@example.com"]);
        assertEquals(emails(mail.bcc), ["xb@example.com"]);
        assertEquals(emails(mail.replyTo), ["xr@example.com"]);
        assertEquals(mail.attachments.map((a) => a.filename), ["notes.txt"]);
        const s = await exec("send_draft", { draft_id: r.draft_id });
        assertEquals(delivered(s.id), {
          to: ["x@example.com"],
          cc: ["xc@example.com"],
          bcc: ["xb@example.com"],
        });
      },
    );

    await t.step("tool send_message (legacy): to, cc, bcc, reply_to", async () => {
      const r = await exec("send_message", {
        to: "l1@example.com, l2@example.com",
        cc: "lc@example.com",
        bcc: "lb1@example.com, lb2@example.com",
        reply_to: "lr@example.com",
        subject: "legacy",
        body: "plain",
      });
      assertEquals(delivered(r.id), {
        to: ["l1@example.com", "l2@example.com"],
        cc: ["lc@example.com"],
        bcc: ["lb1@example.com", "lb2@example.com"],
      });
      assertEquals(emails((await api.message(r.id)).mail.replyTo), ["lr@example.com"]);
    });

    await t.step(
      "tool send_html_message (legacy): to, cc, bcc, reply_to, both bodies",
      async () => {
        const r = await exec("send_html_message", {
          to: "h1@example.com",
          cc: "hc@example.com",
          bcc: "hb@example.com",
          reply_to: "hr@example.com",
          subject: "legacy html",
          html_body: "<p>hi <b>you</b></p>",
          text_body: "hi you",
        });
        assertEquals(delivered(r.id), {
          to: ["h1@example.com"],
          cc: ["hc@example.com"],
          bcc: ["hb@example.com"],
        });
        const { mail } = await api.message(r.id);
        assertEquals(emails(mail.replyTo), ["hr@example.com"]);
        assert(mail.html?.includes("<b>you</b>"));
        assertEquals(mail.text?.trim(), "hi you");
      },
    );
  } finally {
    await stack.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
