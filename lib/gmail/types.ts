/**
 * Public types of the Gmail client (camelCase; the tool layer maps to snake_case) and the
 * subset of Gmail's REST JSON shapes the client reads.
 *
 * @example
 * ```ts
 * import type { MessageSummary } from "./types.ts";
 * const show = (m: MessageSummary) => `${m.date} ${m.from} ${m.subject}`;
 * ```
 * @module
 */

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

/** Gmail JSON: a message part. */
export interface GmailPart {
  partId?: string;
  mimeType?: string;
  filename?: string;
  headers?: { name: string; value: string }[];
  body?: { size?: number; data?: string; attachmentId?: string };
  parts?: GmailPart[];
}

/** Gmail JSON: a message resource. */
export interface GmailMessage {
  id: string;
  threadId: string;
  labelIds?: string[];
  snippet?: string;
  internalDate?: string;
  sizeEstimate?: number;
  historyId?: string;
  payload?: GmailPart;
}

/** Gmail JSON: a label resource. */
export interface GmailLabel {
  id: string;
  name: string;
  type?: "system" | "user";
  messagesTotal?: number;
  messagesUnread?: number;
}
