/**
 * Gmail client: search, read, threads, labels, send, drafts, modify, attachments over the Gmail
 * REST API with native fetch.
 *
 * @example
 * ```ts
 * import { GmailClient } from "./mod.ts";
 * declare const credentials: import("../auth/types.ts").CredentialProvider;
 * const gmail = new GmailClient({ credentials });
 * await gmail.search({ query: "is:unread", limit: 10 });
 * ```
 * @module
 */

export { GmailClient, type GmailClientOptions } from "./client.ts";
export { GMAIL_API_BASE, GmailHttp, type GmailHttpOptions } from "./http.ts";
export { LabelResolver } from "./labels.ts";
export { isSystemLabel, SYSTEM_LABELS } from "./system_labels.ts";
export { MAX_LIMIT, type ReadOptions, type SearchOptions } from "./read.ts";
export { type AttachmentSelector, type DownloadedAttachment, safeFileName } from "./attachments.ts";
export type { ModifyResult } from "./modify.ts";
export { OPS } from "./scopes.ts";
export type * from "./types.ts";
