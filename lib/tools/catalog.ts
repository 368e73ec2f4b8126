/**
 * The agent tool catalogue: every tool's name, description (which says what the result looks
 * like) and JSON Schema parameters. This module is data only, with no imports that touch auth,
 * Gmail or the network, so `mcs tools --json` and `mcs skill build` load it in milliseconds.
 *
 * Two families share one implementation: the Gmail-native tools (`search_emails`, ...) and the
 * original Python SDK's nine IMAP-flavoured tools (`list_folders`, ...), kept by name and
 * parameters so that agents written for it keep working, with their bugs fixed (strict booleans,
 * flags space- or comma-separated, label names resolved to IDs, BCC honoured).
 *
 * @example
 * ```ts
 * import { TOOLS, toolByName } from "./catalog.ts";
 * TOOLS.map((t) => t.name); // ["search_emails", "read_email", ...]
 * toolByName("read_email")?.parameters.required; // ["id"]
 * ```
 * @module
 */

/** The subset of JSON Schema the catalogue uses. */
export interface JsonSchema {
  type?: "object" | "string" | "integer" | "boolean" | "array";
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  items?: JsonSchema;
  enum?: string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  /** Longest string accepted (characters); longer is an argument error. */
  maxLength?: number;
  /** Most items a list accepts; more is an argument error. */
  maxItems?: number;
  /** Rendering hint carried over from the original SDK (multi-line text). */
  format?: string;
}

/** The parameters of a tool: always an object schema without extra keys. */
export interface ObjectSchema extends JsonSchema {
  type: "object";
  properties: Record<string, JsonSchema>;
  required: string[];
  additionalProperties: false;
}

/** One tool as agents see it. */
export interface ToolSpec {
  /** snake_case name. */
  name: string;
  /** Short human title. */
  title: string;
  /** What it does, the query syntax where relevant, and the shape of its result. */
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: ObjectSchema;
  /** True for the original SDK's tools, kept for compatibility. */
  legacy?: boolean;
  /** True when the tool changes the mailbox or sends mail. */
  mutates?: boolean;
  /**
   * Arguments of a call that works as written (apart from the ids, which come from earlier
   * results): SKILL.md shows it, the tests validate it. No `'` (it is shown in shell quotes).
   */
  example: Record<string, unknown>;
}

const MESSAGE_SUMMARY =
  "{id, thread_id, from, to, subject, date (ISO 8601), snippet, labels (names), unread, has_attachments}";
const MESSAGE_FULL =
  "{id, thread_id, from, to, cc, subject, date, labels, unread, snippet, body (plain text; HTML converted), body_truncated, html and html_truncated (only with include_html), attachments: [{attachment_id, part_id, filename, mime_type, size}]}";
const GMAIL_QUERY =
  "Gmail search syntax, e.g. `from:alice is:unread after:2025/01/01 has:attachment subject:invoice`";

/**
 * Size limits of the parameters, derived from Gmail and the RFCs. An argument beyond its limit
 * is an argument error (`invalid_arguments`, exit 2) before anything is sent, never a network
 * error: every string parameter has a `maxLength` and every list a `maxItems`.
 */
export const LIMITS = {
  /** A search query: Gmail's search box takes far less; 2,048 keeps URLs well under 8 KB. */
  query: 2048,
  /** Message, thread and draft ids (Gmail's are 16-20 characters). */
  id: 256,
  /** Page tokens (Gmail's are about 20 characters). */
  pageToken: 1024,
  /** One address: RFC 5321's 64-octet local part, "@" and a 255-octet domain. */
  address: 320,
  /** Recipients per field: Gmail sends to at most 500 recipients per message. */
  recipients: 500,
  /** The legacy tools' comma-separated address strings: 500 addresses and their separators. */
  addressString: 500 * 322,
  /** A subject line. */
  subject: 2000,
  /** A body: Gmail's 35 MB message size limit. */
  body: 35 * 1024 * 1024,
  /** A file or directory path (Linux PATH_MAX). */
  path: 4096,
  /** Attachments per message. */
  attachments: 100,
  /** A label name (Gmail allows 225 characters). */
  label: 225,
  /** Labels added or removed in one call. */
  labels: 100,
  /** Message ids in one call (Gmail's batchModify takes at most 1,000). */
  ids: 1000,
  /** Any other string parameter. */
  text: 1000,
} as const;

function obj(properties: Record<string, JsonSchema>, required: string[] = []): ObjectSchema {
  return { type: "object", properties, required, additionalProperties: false };
}

const str = (description: string, extra: Partial<JsonSchema> = {}): JsonSchema => ({
  type: "string",
  description,
  maxLength: LIMITS.text,
  ...extra,
});
const bool = (description: string): JsonSchema => ({
  type: "boolean",
  description,
  default: false,
});
const strList = (description: string, maxItems: number, maxLength: number): JsonSchema => ({
  type: "array",
  items: { type: "string", maxLength },
  maxItems,
  description: `${description} A list, or one string with comma-separated values.`,
});
const id = (description: string): JsonSchema => str(description, { maxLength: LIMITS.id });
const pageToken = (description: string): JsonSchema =>
  str(description, { maxLength: LIMITS.pageToken });
const query = (description: string, extra: Partial<JsonSchema> = {}): JsonSchema =>
  str(description, { maxLength: LIMITS.query, ...extra });
const recipients = (description: string): JsonSchema =>
  strList(description, LIMITS.recipients, LIMITS.address);
const addressString = (description: string, extra: Partial<JsonSchema> = {}): JsonSchema =>
  str(description, { maxLength: LIMITS.addressString, ...extra });
const bodyText = (description: string, extra: Partial<JsonSchema> = {}): JsonSchema =>
  str(description, { format: "multiline", maxLength: LIMITS.body, ...extra });
/** The HTML opt-in of the read tools. */
const includeHtml = (limitName: string): JsonSchema => ({
  type: "boolean",
  description:
    `Also return the HTML body as html (null when the message has none), cut at the same ${limitName} (html_truncated). Default false: body already holds the text, and HTML is much larger.`,
  default: false,
});
/** A page size: above 100 is capped at 100 (with a notice in the result), not rejected. */
const limit = (def: number, what = "messages"): JsonSchema => ({
  type: "integer",
  description:
    `Maximum number of ${what} to return, 1-100 (default: ${def}); a larger value is capped at 100 and the result gets a notice.`,
  default: def,
  minimum: 1,
  maximum: 100,
});

const COMPOSE = {
  to: recipients("Recipient addresses."),
  cc: recipients("CC addresses."),
  bcc: recipients("BCC addresses (delivered, not shown to other recipients)."),
  reply_to: str("Reply-To address."),
  subject: str("Subject line.", { maxLength: LIMITS.subject }),
  body: bodyText("Plain-text body."),
  html: bodyText("HTML body (sent as multipart/alternative with `body` as the text part)."),
  attachments: strList("Paths of local files to attach.", LIMITS.attachments, LIMITS.path),
};

/** A message id as the examples show it (real ones come from search results). */
const MSG_ID = "18f0a1b2c3d4e5f6";

/** The catalogue, in display order. */
export const TOOLS: readonly ToolSpec[] = [
  {
    name: "search_emails",
    title: "Search messages",
    description:
      `Search the mailbox with ${GMAIL_QUERY}; newest first. Returns {messages: [${MESSAGE_SUMMARY}], next_page_token} — pass next_page_token back as page_token for the next page (null when there are no more).`,
    parameters: obj({
      query: query(
        `Search query (${GMAIL_QUERY}). Empty matches everything except spam and trash.`,
        { default: "" },
      ),
      limit: limit(20),
      page_token: pageToken("Cursor from a previous result's next_page_token."),
    }),
    example: { query: "from:alice is:unread", limit: 10 },
  },
  {
    name: "read_email",
    title: "Read a message",
    description: `Read one message by id, with its body as plain text. Returns ${MESSAGE_FULL}.`,
    parameters: obj({
      id: id("Message id (from search_emails)."),
      max_body_chars: {
        type: "integer",
        description: "Truncate the body to this many characters (default: 20000).",
        default: 20000,
        minimum: 1,
      },
      include_html: includeHtml("max_body_chars"),
    }, ["id"]),
    example: { id: MSG_ID },
  },
  {
    name: "search_threads",
    title: "Search conversations",
    description:
      `Search conversations (threads) with ${GMAIL_QUERY}; newest first. Returns {threads: [{id, subject, participants: [string], message_count, last_message_id, date (ISO 8601), snippet, labels: [name], unread}], next_page_token} — use get_thread to read one, reply_email with last_message_id to answer it.`,
    parameters: obj({
      query: query(
        `Search query (${GMAIL_QUERY}). Empty matches everything except spam and trash.`,
        { default: "" },
      ),
      limit: limit(20, "conversations"),
      page_token: pageToken("Cursor from a previous result's next_page_token."),
    }),
    example: { query: "subject:invoice", limit: 5 },
  },
  {
    name: "get_thread",
    title: "Read a conversation",
    description:
      `Read every message of a thread (conversation), oldest first. Returns {id, messages: [${MESSAGE_FULL}]}.`,
    parameters: obj({
      id: id("Thread id (a message's thread_id)."),
      max_body_chars: {
        type: "integer",
        description: "Truncate each body to this many characters (default: 5000).",
        default: 5000,
        minimum: 1,
      },
      include_html: includeHtml("max_body_chars"),
    }, ["id"]),
    example: { id: MSG_ID },
  },
  {
    name: "send_email",
    title: "Send a message",
    description:
      "Send a new message (plain text, optionally with an HTML part and file attachments). Returns {id, thread_id, labels}.",
    parameters: obj(COMPOSE, ["to", "subject"]),
    mutates: true,
    example: { to: ["bob@example.com"], subject: "Lunch", body: "Hi Bob, lunch at noon?" },
  },
  {
    name: "reply_email",
    title: "Reply to a message",
    description:
      "Reply in the same thread (sets In-Reply-To and References; subject gets 'Re: '). Returns {id, thread_id, labels}.",
    parameters: obj({
      id: id("Id of the message to reply to."),
      body: COMPOSE.body,
      html: COMPOSE.html,
      reply_all: bool("Also reply to the original To and CC recipients (default: false)."),
      cc: COMPOSE.cc,
      bcc: COMPOSE.bcc,
      attachments: COMPOSE.attachments,
    }, ["id"]),
    mutates: true,
    example: { id: MSG_ID, body: "Thanks, see you then." },
  },
  {
    name: "create_draft",
    title: "Create a draft",
    description:
      "Save a draft without sending it; with reply_to_id the draft is a reply in that message's thread. Returns {draft_id, id, thread_id}.",
    parameters: obj({
      ...COMPOSE,
      reply_to_id: id("Make the draft a reply to this message id."),
    }),
    mutates: true,
    example: { to: ["bob@example.com"], subject: "Report", body: "Draft of the report." },
  },
  {
    name: "list_drafts",
    title: "List drafts",
    description:
      "List drafts, newest first. Returns {drafts: [{draft_id, id, thread_id, to, subject, snippet}], next_page_token}.",
    parameters: obj({
      limit: limit(20, "drafts"),
      page_token: pageToken("Cursor from next_page_token."),
    }),
    example: { limit: 10 },
  },
  {
    name: "send_draft",
    title: "Send a draft",
    description: "Send an existing draft. Returns {id, thread_id, labels}.",
    parameters: obj({ draft_id: id("Draft id (from create_draft or list_drafts).") }, [
      "draft_id",
    ]),
    mutates: true,
    example: { draft_id: "r-5312906436475092547" },
  },
  {
    name: "list_labels",
    title: "List labels",
    description:
      "List the mailbox's labels (system labels such as INBOX, SENT, STARRED, and user labels). Returns {labels: [{id, name, type ('system'|'user')}]}.",
    parameters: obj({}),
    example: {},
  },
  {
    name: "modify_email",
    title: "Change labels and flags",
    description:
      "Add or remove labels (names or ids) and mark messages read, unread, archived or starred. Returns {ids, labels} (labels: the label names after the change, when one id was given).",
    parameters: obj({
      ids: strList("Message ids.", LIMITS.ids, LIMITS.id),
      add_labels: strList("Labels to add (names or ids).", LIMITS.labels, LIMITS.label),
      remove_labels: strList("Labels to remove (names or ids).", LIMITS.labels, LIMITS.label),
      mark_read: bool("Mark as read."),
      mark_unread: bool("Mark as unread."),
      archive: bool("Remove from the inbox."),
      star: bool("Add a star."),
      unstar: bool("Remove the star."),
    }, ["ids"]),
    mutates: true,
    example: { ids: [MSG_ID], mark_read: true, add_labels: ["Receipts"] },
  },
  {
    name: "trash_email",
    title: "Move to trash",
    description: "Move a message to the trash (recoverable for 30 days). Returns {id, labels}.",
    parameters: obj({ id: id("Message id.") }, ["id"]),
    mutates: true,
    example: { id: MSG_ID },
  },
  {
    name: "download_attachment",
    title: "Download an attachment",
    description:
      "Save a message attachment to a local directory. An existing file is kept and a numbered name is picked (name (1).pdf), unless overwrite is true. Pass out_dir: the current directory is often read-only in a sandbox. Returns {path, filename, mime_type, size}.",
    parameters: obj({
      message_id: id("Message id."),
      attachment_id: str(
        "Which attachment: its part_id, attachment_id or filename (from read_email's attachments).",
        { maxLength: LIMITS.path },
      ),
      out_dir: str(
        "Writable directory to save into, e.g. a scratch or output directory (default: the current directory).",
        { maxLength: LIMITS.path },
      ),
      overwrite: bool(
        "Replace a file of the same name instead of picking a numbered name (default: false).",
      ),
    }, ["message_id", "attachment_id"]),
    mutates: true,
    example: { message_id: MSG_ID, attachment_id: "invoice.pdf", out_dir: "/tmp" },
  },
  // The original SDK's tools (mcs-sdk.md 7.2), Gmail semantics, bugs fixed.
  {
    name: "list_folders",
    title: "List mailbox folders",
    description:
      "List all folders (Gmail labels) of the mailbox. Returns {folders: [names, sorted]}.",
    parameters: obj({}),
    legacy: true,
    example: {},
  },
  {
    name: "list_messages",
    title: "List messages in a folder",
    description:
      `List message headers in a folder (a label name such as INBOX), newest first. Returns {messages: [${MESSAGE_SUMMARY} plus uid (= id)]}.`,
    parameters: obj({
      folder: str("Folder name (default: INBOX).", { default: "INBOX", maxLength: LIMITS.label }),
      limit: limit(20),
    }),
    legacy: true,
    example: { folder: "INBOX", limit: 10 },
  },
  {
    name: "fetch_message",
    title: "Fetch a complete message",
    description:
      `Fetch the full message identified by its UID (the Gmail message id), including body text. Returns ${MESSAGE_FULL} plus uid.`,
    parameters: obj({
      uid: id("Message UID."),
      folder: str("Folder containing the message (default: INBOX; ignored by Gmail).", {
        default: "INBOX",
        maxLength: LIMITS.label,
      }),
      include_html: includeHtml("limit (50000 characters)"),
    }, ["uid"]),
    legacy: true,
    example: { uid: MSG_ID },
  },
  {
    name: "search_messages",
    title: "Search messages by criteria",
    description:
      `Search messages with ${GMAIL_QUERY}. IMAP-style criteria (FROM "alice" SUBJECT "x" UNSEEN SINCE 01-Jan-2025) are translated. Returns {messages: [${MESSAGE_SUMMARY} plus uid]}.`,
    parameters: obj({
      criteria: query('Search criteria (default: "ALL").', { default: "ALL" }),
      folder: str('Folder to search in (default: INBOX; "ALL" for every folder).', {
        default: "INBOX",
        maxLength: LIMITS.label,
      }),
      limit: limit(20),
    }),
    legacy: true,
    example: { criteria: 'FROM "alice" UNSEEN', limit: 10 },
  },
  {
    name: "move_message",
    title: "Move a message to another folder",
    description:
      "Move a message from one folder to another (label names resolved to ids). Returns {uid, labels}.",
    parameters: obj({
      uid: id("Message UID."),
      destination: str("Target folder name.", { maxLength: LIMITS.label }),
      folder: str("Source folder (default: INBOX).", { default: "INBOX", maxLength: LIMITS.label }),
    }, ["uid", "destination"]),
    legacy: true,
    mutates: true,
    example: { uid: MSG_ID, destination: "Receipts" },
  },
  {
    name: "set_flags",
    title: "Set or remove message flags",
    description:
      "Add or remove flags on a message. Flags: \\Seen, \\Flagged, \\Deleted (trash), \\Draft, or a label name; space- or comma-separated. Returns {uid, labels}.",
    parameters: obj({
      uid: id("Message UID."),
      flags: str("Space- or comma-separated flags, e.g. '\\Seen \\Flagged'."),
      remove: bool("If true, remove the flags instead of adding them (default: false)."),
      folder: str("Folder (default: INBOX; ignored by Gmail).", {
        default: "INBOX",
        maxLength: LIMITS.label,
      }),
    }, ["uid", "flags"]),
    legacy: true,
    mutates: true,
    example: { uid: MSG_ID, flags: "\\Seen \\Flagged" },
  },
  {
    name: "create_folder",
    title: "Create a new mailbox folder",
    description: "Create a new folder (a Gmail user label). Returns {id, name}.",
    parameters: obj({ name: str("Name of the folder to create.", { maxLength: LIMITS.label }) }, [
      "name",
    ]),
    legacy: true,
    mutates: true,
    example: { name: "Projects" },
  },
  {
    name: "send_message",
    title: "Send a plain-text e-mail",
    description:
      "Send an e-mail with a plain-text body. Supports To, CC, BCC, and Reply-To headers. Returns {id, thread_id, labels}.",
    parameters: obj({
      to: addressString("Comma-separated recipient addresses."),
      subject: str("E-mail subject line.", { maxLength: LIMITS.subject }),
      body: bodyText("Plain-text message body."),
      cc: addressString("Comma-separated CC addresses (default: none).", { default: "" }),
      bcc: addressString("Comma-separated BCC addresses (default: none).", { default: "" }),
      reply_to: str("Reply-To address (default: none)."),
    }, ["to", "subject", "body"]),
    legacy: true,
    mutates: true,
    example: { to: "bob@example.com", subject: "Lunch", body: "Hi Bob, lunch at noon?" },
  },
  {
    name: "send_html_message",
    title: "Send an HTML e-mail",
    description:
      "Send an e-mail with an HTML body and an optional plain-text fallback. Supports To, CC, BCC, and Reply-To headers. Returns {id, thread_id, labels}.",
    parameters: obj({
      to: addressString("Comma-separated recipient addresses."),
      subject: str("E-mail subject line.", { maxLength: LIMITS.subject }),
      html_body: bodyText("HTML message body."),
      text_body: bodyText("Plain-text fallback body (default: none).", { default: "" }),
      cc: addressString("Comma-separated CC addresses (default: none).", { default: "" }),
      bcc: addressString("Comma-separated BCC addresses (default: none).", { default: "" }),
      reply_to: str("Reply-To address (default: none)."),
    }, ["to", "subject", "html_body"]),
    legacy: true,
    mutates: true,
    example: {
      to: "bob@example.com",
      subject: "Lunch",
      html_body: "<p>Hi Bob, lunch at <b>noon</b>?</p>",
    },
  },
];

const BY_NAME = new Map(TOOLS.map((t) => [t.name, t]));

/** Look a tool up by name. */
export function toolByName(name: string): ToolSpec | undefined {
  return BY_NAME.get(name);
}

/** The machine form `mcs tools --json` prints: `{name, description, parameters}` per tool. */
export function toolList(): { name: string; description: string; parameters: ObjectSchema }[] {
  return TOOLS.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters }));
}
