/**
 * Public types of the Gmail client (camelCase; the tool layer maps to snake_case) and Gmail's
 * REST JSON shapes, taken from Google's published API description (`@googleapis/gmail`, type
 * only) so that `deno check` rejects a field Gmail does not have.
 *
 * @example
 * ```ts
 * import type { MessageSummary } from "./types.ts";
 * const show = (m: MessageSummary) => `${m.date} ${m.from} ${m.subject}`;
 * ```
 * @module
 */

import type { gmail_v1 } from "@googleapis/gmail";

/** A search/list result row. */
export interface MessageSummary {
  id: string;
  threadId: string;
  from: string;
  to: string;
  subject: string;
  /** ISO 8601, from Gmail's `internalDate`. */
  date: string;
  snippet: string;
  /** Label names (user labels resolved from their ids). */
  labels: string[];
  unread: boolean;
  /** Heuristic from metadata: the top-level MIME type is `multipart/mixed`. */
  hasAttachments: boolean;
}

/** A page of results with a cursor. */
export interface Page<T> {
  items: T[];
  /** Pass as `pageToken` to get the next page; absent on the last page. */
  nextPageToken?: string;
  resultSizeEstimate?: number;
}

/** An attachment of a read message. */
export interface AttachmentInfo {
  filename: string;
  mimeType: string;
  /** Decoded size in bytes. */
  size: number;
  /** Gmail attachment id (not stable across fetches: re-resolve via partId). */
  attachmentId?: string;
  partId: string;
  inline: boolean;
}

/** A fully read message. */
export interface Message extends MessageSummary {
  cc: string;
  bcc: string;
  replyTo: string;
  messageIdHeader: string;
  inReplyTo: string;
  references: string;
  /** Readable text: the text/plain body, or the HTML converted to text. */
  text: string;
  /** The HTML body when there is one. */
  html?: string;
  attachments: AttachmentInfo[];
  /** Whether `text` or `html` was cut at the size limit. */
  truncated: boolean;
}

/** A thread. */
export interface Thread {
  id: string;
  messages: Message[];
}

/** A thread list row (from `threads.get format=metadata`). */
export interface ThreadSummary {
  id: string;
  /** Subject of the first message. */
  subject: string;
  /** Distinct senders (`From` values), in order of first appearance. */
  participants: string[];
  messageCount: number;
  /** Id of the newest message (reply to it to continue the thread). */
  lastMessageId: string;
  /** ISO 8601 date of the newest message. */
  date: string;
  /** Gmail's snippet of the thread. */
  snippet: string;
  /** Union of the messages' label names. */
  labels: string[];
  /** Whether any message is unread. */
  unread: boolean;
}

/** A label. */
export interface Label {
  id: string;
  name: string;
  type: "system" | "user";
  messagesTotal?: number;
  messagesUnread?: number;
}

/** A draft. */
export interface Draft {
  id: string;
  messageId: string;
  threadId: string;
  subject?: string;
  to?: string;
  snippet?: string;
}

/** A file to attach: a path to read, or in-memory content. */
export type AttachmentInput =
  | { path: string; filename?: string; mimeType?: string }
  | { content: Uint8Array; filename: string; mimeType?: string };

/** What to send (also used for drafts). */
export interface SendInput {
  /** Recipients: `"a@b.c, Name <d@e.f>"` or an array. Optional when replying. */
  to?: string | string[];
  cc?: string | string[];
  bcc?: string | string[];
  replyTo?: string | string[];
  /** From (must be the account or a configured alias); Gmail uses the account if omitted. */
  from?: string;
  /** Subject; defaults to "Re: <original>" when replying. */
  subject?: string;
  text?: string;
  html?: string;
  attachments?: AttachmentInput[];
  /** Id of a message in this mailbox to reply to (sets threadId, In-Reply-To, References). */
  replyToMessageId?: string;
  /** Reply to everyone (the original From/Reply-To, To and Cc, minus yourself) when replying. */
  replyAll?: boolean;
}

/** Result of a send. */
export interface SentMessage {
  id: string;
  threadId: string;
  labels: string[];
}

// ---------------------------------------------------------------------------------------------
// Gmail's JSON, typed from Google's own API description (`@googleapis/gmail`, a type-only
// import: nothing of it loads at run time). A field Gmail does not have is a compile error.

/** A value as Gmail sends it: Google's types allow `null`, Gmail leaves the field out. */
type NoNull<V> = V extends readonly (infer E)[] ? NoNull<E>[]
  : V extends object ? { [P in keyof V]: NoNull<V[P]> }
  : Exclude<V, null>;

/** Keys of `Over` that `T` has; any other key is `never`, so it fails the constraint. */
type KnownKeys<T, Over> = { [P in keyof Over]: P extends keyof T ? unknown : never };

/**
 * Google's declared shape `T` as the client reads it: no `null`s, the fields `K` always
 * present, and the fields in `Over` narrowed (`Over` may only name fields that `T` has).
 */
export type Api<
  T,
  K extends keyof T = never,
  Over extends KnownKeys<T, Over> = Record<never, never>,
> = Omit<NoNull<T> & { [P in K]-?: Exclude<NoNull<T[P]>, undefined> }, keyof Over> & Over;

/** Gmail JSON: a header of a part. */
export type GmailHeader = Api<gmail_v1.Schema$MessagePartHeader, "name" | "value">;

/** Gmail JSON: a message part. */
export type GmailPart = Api<
  gmail_v1.Schema$MessagePart,
  never,
  { headers?: GmailHeader[]; parts?: GmailPart[] }
>;

/** Gmail JSON: a message resource. */
export type GmailMessage = Api<
  gmail_v1.Schema$Message,
  "id" | "threadId",
  { payload?: GmailPart }
>;

/** Gmail JSON: a thread resource. */
export type GmailThread = Api<gmail_v1.Schema$Thread, "id", { messages?: GmailMessage[] }>;

/** Gmail JSON: a label resource. */
export type GmailLabel = Api<gmail_v1.Schema$Label, "id" | "name", { type?: "system" | "user" }>;

/** Gmail JSON: a draft resource. */
export type GmailDraft = Api<gmail_v1.Schema$Draft, "id" | "message", { message: GmailMessage }>;

/** Gmail JSON: a part body (also what attachments.get returns). */
export type GmailBody = Api<gmail_v1.Schema$MessagePartBody>;

/** Gmail JSON: users.getProfile. */
export type GmailProfile = Api<
  gmail_v1.Schema$Profile,
  "emailAddress" | "messagesTotal" | "threadsTotal" | "historyId"
>;

/** Gmail JSON: messages.list. */
export type GmailMessageList = Api<
  gmail_v1.Schema$ListMessagesResponse,
  never,
  { messages?: GmailMessage[] }
>;

/** Gmail JSON: threads.list. */
export type GmailThreadList = Api<
  gmail_v1.Schema$ListThreadsResponse,
  never,
  { threads?: GmailThread[] }
>;

/** Gmail JSON: drafts.list. */
export type GmailDraftList = Api<
  gmail_v1.Schema$ListDraftsResponse,
  never,
  { drafts?: GmailDraft[] }
>;

/** Gmail JSON: labels.list. */
export type GmailLabelList = Api<
  gmail_v1.Schema$ListLabelsResponse,
  never,
  { labels?: GmailLabel[] }
>;

/** Query parameters of a Gmail method as Google declares them (path parameters left out). */
type QueryOf<P> = Omit<P, "userId" | "id" | "messageId" | "requestBody" | "media" | "auth">;

/** Query parameters per method, checked with `satisfies` where they are built. */
export type GmailParams = {
  messagesGet: QueryOf<gmail_v1.Params$Resource$Users$Messages$Get>;
  messagesList: QueryOf<gmail_v1.Params$Resource$Users$Messages$List>;
  messagesSend: QueryOf<gmail_v1.Params$Resource$Users$Messages$Send>;
  threadsGet: QueryOf<gmail_v1.Params$Resource$Users$Threads$Get>;
  threadsList: QueryOf<gmail_v1.Params$Resource$Users$Threads$List>;
  draftsGet: QueryOf<gmail_v1.Params$Resource$Users$Drafts$Get>;
  draftsList: QueryOf<gmail_v1.Params$Resource$Users$Drafts$List>;
  draftsCreate: QueryOf<gmail_v1.Params$Resource$Users$Drafts$Create>;
};

/** Request bodies, checked with `satisfies` where they are built. */
export type GmailRequest = {
  message: gmail_v1.Schema$Message;
  draft: gmail_v1.Schema$Draft;
  label: gmail_v1.Schema$Label;
  modify: gmail_v1.Schema$ModifyMessageRequest;
  batchModify: gmail_v1.Schema$BatchModifyMessagesRequest;
};
