/**
 * `GmailClient`: the facade the tool layer uses. Native fetch against the Gmail REST API (no
 * Google client library), token from any {@link CredentialProvider}, plain camelCase results.
 *
 * @example
 * ```ts
 * import { GmailClient } from "./client.ts";
 * declare const credentials: import("../auth/types.ts").CredentialProvider;
 * const gmail = new GmailClient({ credentials });
 * const page = await gmail.search({ query: "label:Receipts newer_than:30d", limit: 50 });
 * const msg = await gmail.getMessage(page.items[0].id);
 * await gmail.send({ to: "bob@example.com", subject: "Re: hi", text: "ok", replyToMessageId: msg.id });
 * ```
 * @module
 */

import type { CacheStore } from "../cache/types.ts";
import type { AttachmentSelector, DownloadedAttachment } from "./attachments.ts";
import type { GmailContext, MetadataStrategy } from "./context.ts";
import { GmailHttp, type GmailHttpOptions } from "./http.ts";
import { LabelResolver } from "./labels.ts";
import * as modify from "./modify.ts";
import type { ModifyResult } from "./modify.ts";
import {
  getMessage,
  getProfile,
  getThread,
  type ReadOptions,
  searchMessages,
  type SearchOptions,
} from "./read.ts";
import { listThreads } from "./thread_list.ts";
// send.ts (with MIME building) and attachments.ts are imported by the methods that use them:
// a search or a read never loads them (the CLI's cold path).
const sending = () => import("./send.ts");
import type {
  Draft,
  Label,
  Message,
  MessageSummary,
  Page,
  SendInput,
  SentMessage,
  Thread,
  ThreadSummary,
} from "./types.ts";

/** Options of {@link GmailClient}. */
export interface GmailClientOptions extends GmailHttpOptions {
  /** Optional cross-process cache for the label list. */
  cache?: CacheStore;
  /** Cache key for labels (namespace per account/profile); default `gmail/labels`. */
  labelCacheKey?: string;
  /** `batch` (default: one batch call), `pool` (bounded concurrency) or `sequential` (N+1). */
  metadataStrategy?: MetadataStrategy;
  /** In-flight requests for pools (default 4). */
  concurrency?: number;
  /** Default body limit for reads, characters (default 50 000). */
  maxBodyChars?: number;
  /** JSON body size above which sends use the upload endpoint (default 1 000 000 bytes). */
  maxJsonBytes?: number;
}

/** The Gmail client. */
export class GmailClient {
  readonly #ctx: GmailContext;

  constructor(options: GmailClientOptions) {
    const http = new GmailHttp(options);
    this.#ctx = {
      http,
      labels: new LabelResolver(http, { cache: options.cache, cacheKey: options.labelCacheKey }),
      metadataStrategy: options.metadataStrategy ?? "batch",
      concurrency: options.concurrency ?? 4,
      maxBodyChars: options.maxBodyChars ?? 50_000,
      maxJsonBytes: options.maxJsonBytes ?? 1_000_000,
    };
  }

  /** Search with Gmail query syntax (or list a label); page with `nextPageToken`. */
  search(options: SearchOptions = {}): Promise<Page<MessageSummary>> {
    return searchMessages(this.#ctx, options);
  }

  /** Read one message. */
  getMessage(id: string, options?: ReadOptions): Promise<Message> {
    return getMessage(this.#ctx, id, options);
  }

  /**
   * List threads (Gmail query syntax, label names, `limit` 1..100, `pageToken`): subject,
   * participants, message count, snippet. Metadata comes in one batch call, not N requests.
   */
  listThreads(options: SearchOptions = {}): Promise<Page<ThreadSummary>> {
    return listThreads(this.#ctx, options);
  }

  /** Read a thread. */
  getThread(id: string, options?: ReadOptions): Promise<Thread> {
    return getThread(this.#ctx, id, options);
  }

  /** The mailbox address and counters. */
  getProfile(): ReturnType<typeof getProfile> {
    return getProfile(this.#ctx);
  }

  /** All labels (cached). */
  listLabels(options: { refresh?: boolean } = {}): Promise<Label[]> {
    return options.refresh ? this.#ctx.labels.refresh() : this.#ctx.labels.list();
  }

  /** Create a user label. */
  createLabel(name: string): Promise<Label> {
    return this.#ctx.labels.create(name);
  }

  /** Resolve a label name to its id. */
  labelId(name: string): Promise<string> {
    return this.#ctx.labels.idFor(name);
  }

  /** Send a message (reply in thread with `replyToMessageId`). */
  send(input: SendInput): Promise<SentMessage> {
    return sending().then((m) => m.sendMessage(this.#ctx, input));
  }

  /** Create a draft. */
  createDraft(input: SendInput): Promise<Draft> {
    return sending().then((m) => m.createDraft(this.#ctx, input));
  }

  /** List drafts. */
  listDrafts(options?: { limit?: number; pageToken?: string }): Promise<Page<Draft>> {
    return sending().then((m) => m.listDrafts(this.#ctx, options));
  }

  /** Send a draft. */
  sendDraft(draftId: string): Promise<SentMessage> {
    return sending().then((m) => m.sendDraft(this.#ctx, draftId));
  }

  /** Add/remove labels by name. */
  modifyLabels(
    ids: readonly string[],
    change: { add?: readonly string[]; remove?: readonly string[] },
  ): Promise<ModifyResult> {
    return modify.modifyLabels(this.#ctx, ids, change);
  }

  markRead(ids: readonly string[]): Promise<ModifyResult> {
    return modify.markRead(this.#ctx, ids);
  }

  markUnread(ids: readonly string[]): Promise<ModifyResult> {
    return modify.markUnread(this.#ctx, ids);
  }

  star(ids: readonly string[]): Promise<ModifyResult> {
    return modify.star(this.#ctx, ids);
  }

  unstar(ids: readonly string[]): Promise<ModifyResult> {
    return modify.unstar(this.#ctx, ids);
  }

  archive(ids: readonly string[]): Promise<ModifyResult> {
    return modify.archive(this.#ctx, ids);
  }

  trash(ids: readonly string[]): Promise<ModifyResult> {
    return modify.trash(this.#ctx, ids);
  }

  untrash(ids: readonly string[]): Promise<ModifyResult> {
    return modify.trash(this.#ctx, ids, true);
  }

  /** Download an attachment into `dir` (safe name, no overwrite unless asked). */
  downloadAttachment(
    messageId: string,
    selector: AttachmentSelector,
    dir: string,
    options?: { overwrite?: boolean },
  ): Promise<DownloadedAttachment> {
    return import("./attachments.ts").then((m) =>
      m.downloadAttachment(this.#ctx, messageId, selector, dir, options)
    );
  }
}
