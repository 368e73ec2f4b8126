/**
 * The emulated mailbox: messages stored as raw RFC 822 bytes plus label ids, threads derived
 * from `In-Reply-To`/`References`, user labels, drafts, and a record of deliveries (envelope
 * recipients incl. Bcc, which is stripped from the stored copy like Gmail does). Tests use it
 * as the hook to seed and inspect state.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 * const box = new Mailbox({ owner: "ada@example.com" });
 * const m = box.insert("From: bob@example.com\r\nSubject: hi\r\n\r\nhello", { labels: ["INBOX", "UNREAD"] });
 * box.get(m.id)?.labelIds.has("UNREAD"); // true
 * ```
 * @module
 */

import { utf8 } from "./bytes.ts";
import { decodeHeader, header as headerValue, parseMessage, type Part, partText } from "./mime.ts";

/**
 * Gmail's system label ids (their names equal their ids). Data copied from Gmail's labels
 * guide, not imported from the client, so the two lists can disagree and a test can see it.
 */
export const SYSTEM_LABELS = [
  "INBOX",
  "SENT",
  "DRAFT",
  "SPAM",
  "TRASH",
  "UNREAD",
  "STARRED",
  "IMPORTANT",
  "CHAT",
  "CATEGORY_PERSONAL",
  "CATEGORY_SOCIAL",
  "CATEGORY_PROMOTIONS",
  "CATEGORY_UPDATES",
  "CATEGORY_FORUMS",
] as const;

/** A stored message. */
export interface StoredMessage {
  id: string;
  threadId: string;
  raw: Uint8Array;
  labelIds: Set<string>;
  /** Epoch ms. */
  internalDate: number;
  historyId: number;
}

/** A user label. */
export interface StoredLabel {
  id: string;
  name: string;
  type: "system" | "user";
  messageListVisibility?: string;
  labelListVisibility?: string;
  color?: { textColor?: string; backgroundColor?: string };
}

/** Who a sent message went to (Bcc included). */
export interface Delivery {
  messageId: string;
  threadId: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
}

/** Options of {@link Mailbox}. */
export interface MailboxOptions {
  owner?: string;
  now?: () => number;
}

/** Extracted, decoded view used by search and snippets. */
export interface MessageView {
  from: string;
  to: string;
  cc: string;
  subject: string;
  messageId: string;
  text: string;
  attachmentNames: string[];
}

function addresses(v: string): string[] {
  return v.split(",").map((s) => (/<([^>]+)>/.exec(s)?.[1] ?? s).trim()).filter((s) =>
    s.includes("@")
  );
}

/** A subject compared for threading: reply/forward prefixes dropped, case and spaces folded. */
function normalizeSubject(s: string): string {
  let t = s.trim();
  for (let prev = ""; prev !== t;) {
    prev = t;
    t = t.replace(/^\s*(?:re|fwd?|aw|wg|sv|vs)\s*(?:\[\d+\])?\s*:\s*/i, "");
  }
  return t.replace(/\s+/g, " ").toLowerCase();
}

function stripHtml(html: string): string {
  return html.replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ").replace(/<[^>]+>/g, " ")
    .replace(/&nbsp;/g, " ").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
}

/** The mailbox. */
export class Mailbox {
  readonly owner: string;
  readonly messages = new Map<string, StoredMessage>();
  readonly labels = new Map<string, StoredLabel>();
  readonly drafts = new Map<string, string>();
  readonly deliveries: Delivery[] = [];
  now: () => number;
  #seq = 0;
  #labelSeq = 0;
  #draftSeq = 0;
  #history = 1000;
  #parsed = new WeakMap<StoredMessage, Part>();
  #views = new WeakMap<StoredMessage, MessageView>();

  constructor(options: MailboxOptions = {}) {
    this.owner = options.owner ?? "ada@example.com";
    this.now = options.now ?? Date.now;
    for (const id of SYSTEM_LABELS) this.labels.set(id, { id, name: id, type: "system" });
  }

  /** Next history id. */
  nextHistoryId(): number {
    return ++this.#history;
  }

  /** Current history id. */
  get historyId(): number {
    return this.#history;
  }

  /** Create (or find) a user label by name; returns its id. */
  addLabel(name: string): string {
    const existing = this.findLabel(name);
    if (existing) return existing.id;
    const id = `Label_${++this.#labelSeq}`;
    this.labels.set(id, { id, name, type: "user" });
    return id;
  }

  /** Find a label by id or (case-insensitive) name. */
  findLabel(nameOrId: string): StoredLabel | undefined {
    const l = this.labels.get(nameOrId);
    if (l) return l;
    const want = nameOrId.toLowerCase();
    for (const x of this.labels.values()) if (x.name.toLowerCase() === want) return x;
    return undefined;
  }

  /** Parsed MIME tree (cached). */
  parsed(m: StoredMessage): Part {
    let p = this.#parsed.get(m);
    if (!p) this.#parsed.set(m, p = parseMessage(m.raw));
    return p;
  }

  /** Decoded view for search/snippets (cached). */
  view(m: StoredMessage): MessageView {
    let v = this.#views.get(m);
    if (v) return v;
    const root = this.parsed(m);
    const h = (n: string) => decodeHeader(headerValue(root, n) ?? "");
    const plain: string[] = [];
    const html: string[] = [];
    const names: string[] = [];
    const walk = (p: Part) => {
      if (p.type.startsWith("multipart/")) return p.children.forEach(walk);
      if (p.filename) return void names.push(p.filename);
      const t = partText(p);
      if (p.type === "text/plain") plain.push(t);
      else if (p.type === "text/html") html.push(stripHtml(t));
    };
    walk(root);
    v = {
      from: h("from"),
      to: h("to"),
      cc: h("cc"),
      subject: h("subject"),
      messageId: (headerValue(root, "message-id") ?? "").trim(),
      text: (plain.length ? plain : html).join("\n"),
      attachmentNames: names,
    };
    this.#views.set(m, v);
    return v;
  }

  #resolveLabels(labels: readonly string[] | undefined): Set<string> {
    return new Set((labels ?? []).map((l) => this.findLabel(l)?.id ?? this.addLabel(l)));
  }

  /**
   * Store a message. `labels` are ids or names (unknown names become user labels). The thread
   * is `threadId` if given and it exists (the test hook), else — like received mail — the thread
   * of a message it references whose subject matches ({@link Mailbox.joinsThread}), else a new
   * one; `newThread` forces a new one.
   */
  insert(
    raw: Uint8Array | string,
    options: {
      labels?: readonly string[];
      internalDate?: number;
      threadId?: string;
      newThread?: boolean;
    } = {},
  ): StoredMessage {
    const bytes = typeof raw === "string" ? utf8(raw.replace(/\r?\n/g, "\r\n")) : raw;
    const id = (0x18f0000000000000n + BigInt(++this.#seq) * 0x1a3bn).toString(16);
    const msg: StoredMessage = {
      id,
      threadId: id,
      raw: bytes,
      labelIds: this.#resolveLabels(options.labels),
      internalDate: options.internalDate ?? this.now(),
      historyId: this.nextHistoryId(),
    };
    const root = this.parsed(msg);
    if (options.internalDate === undefined) {
      const d = Date.parse(headerValue(root, "date") ?? "");
      if (!Number.isNaN(d)) msg.internalDate = d;
    }
    if (options.newThread) {
      // A thread of its own.
    } else if (
      options.threadId && [...this.messages.values()].some((m) => m.threadId === options.threadId)
    ) {
      msg.threadId = options.threadId;
    } else {
      for (const m of this.messages.values()) {
        if (this.joinsThread(msg, m.threadId)) {
          msg.threadId = m.threadId;
          break;
        }
      }
    }
    this.messages.set(id, msg);
    return msg;
  }

  /**
   * Gmail's threading rule (the "Managing threads" guide, reference §4.1): a message joins a
   * thread only when its `In-Reply-To`/`References` name the Message-ID of a message in that
   * thread AND its Subject matches the thread's. How Gmail compares subjects is not in the
   * reference: the emulator drops `Re:`/`Fwd:`-style prefixes, folds case and whitespace.
   */
  joinsThread(msg: StoredMessage, threadId: string): boolean {
    const root = this.parsed(msg);
    const refs =
      `${headerValue(root, "in-reply-to") ?? ""} ${headerValue(root, "references") ?? ""}`
        .match(/<[^>]+>/g) ?? ([] as string[]);
    const subject = normalizeSubject(this.view(msg).subject);
    const members = [...this.messages.values()].filter((m) => m.threadId === threadId);
    return members.some((m) => refs.includes(this.view(m).messageId)) &&
      members.some((m) => normalizeSubject(this.view(m).subject) === subject);
  }

  /**
   * Accept an outgoing message like Gmail: add Message-ID/From/Date when missing, record the
   * envelope (incl. Bcc), strip the Bcc header, label it SENT.
   */
  send(raw: Uint8Array, options: { threadId?: string; draft?: boolean } = {}): StoredMessage {
    const root = parseMessage(raw);
    let text = "";
    for (let i = 0; i < raw.length; i += 0x8000) {
      text += String.fromCharCode(...raw.subarray(i, i + 0x8000));
    }
    const sep = /\r?\n\r?\n/.exec(text);
    let head = sep ? text.slice(0, sep.index) : text;
    const rest = sep ? text.slice(sep.index) : "\r\n\r\n";
    const bcc = decodeHeader(headerValue(root, "bcc") ?? "");
    if (!options.draft) {
      head = head.replace(/^Bcc:.*(\r?\n[ \t].*)*(\r?\n)?/gim, "").replace(/\r?\n$/, "");
    }
    const extra: string[] = [];
    if (!headerValue(root, "from")) extra.push(`From: ${this.owner}`);
    if (!headerValue(root, "message-id")) {
      extra.push(`Message-ID: <${crypto.randomUUID()}@mail.gmail.com>`);
    }
    if (!headerValue(root, "date")) {
      extra.push(`Date: ${new Date(this.now()).toUTCString().replace("GMT", "+0000")}`);
    }
    const finalHead = (extra.length ? extra.join("\r\n") + "\r\n" : "") + head;
    const bin = finalHead + rest;
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0) & 0xff);
    const msg = this.insert(bytes, {
      labels: options.draft ? ["DRAFT"] : ["SENT"],
      internalDate: this.now(),
      newThread: true,
    });
    // Through the API a message joins a thread only when `threadId` names it AND the headers
    // match (reference §4.1); otherwise it starts its own.
    if (options.threadId && this.joinsThread(msg, options.threadId)) {
      msg.threadId = options.threadId;
    }
    if (!options.draft) this.recordDelivery(msg, bcc);
    return msg;
  }

  /** Record a delivery for a sent message. */
  recordDelivery(msg: StoredMessage, bcc: string): void {
    const v = this.view(msg);
    this.deliveries.push({
      messageId: msg.id,
      threadId: msg.threadId,
      from: v.from,
      to: addresses(v.to),
      cc: addresses(v.cc),
      bcc: addresses(bcc),
    });
  }

  /** Create a draft holding a new DRAFT message; returns the draft id. */
  createDraft(raw: Uint8Array, threadId?: string): { draftId: string; message: StoredMessage } {
    const message = this.send(raw, { threadId, draft: true });
    const draftId = `r${(7000000000000000000n + BigInt(++this.#draftSeq)).toString()}`;
    this.drafts.set(draftId, message.id);
    return { draftId, message };
  }

  /** Get a message by id. */
  get(id: string): StoredMessage | undefined {
    return this.messages.get(id);
  }

  /** All messages, newest first. */
  list(): StoredMessage[] {
    return [...this.messages.values()].sort((a, b) =>
      b.internalDate - a.internalDate || (a.id < b.id ? 1 : -1)
    );
  }

  /** Messages that were sent (SENT label), newest first. */
  sent(): StoredMessage[] {
    return this.list().filter((m) => m.labelIds.has("SENT"));
  }

  /** Raw text of a message (for assertions). */
  rawText(id: string): string {
    const m = this.get(id);
    return m ? new TextDecoder().decode(m.raw) : "";
  }
}
