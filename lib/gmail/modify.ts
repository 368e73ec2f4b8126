/**
 * Modify side: mark read/unread, star/unstar, archive, add/remove labels by name, trash and
 * untrash. Several ids use `messages.batchModify` (one request); trash has no batch form and
 * runs through a small concurrency pool.
 *
 * @example
 * ```ts
 * import { modifyLabels } from "./modify.ts";
 * declare const ctx: import("./context.ts").GmailContext;
 * await modifyLabels(ctx, ["18f0a1"], { add: ["Receipts"], remove: ["INBOX"] });
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import { type GmailContext, mapPool } from "./context.ts";
import { checkId } from "./read.ts";
import { OPS } from "./scopes.ts";
import type { GmailMessage, GmailRequest } from "./types.ts";

/** Result per message. */
export interface ModifyResult {
  ids: string[];
  /**
   * Label names after the change (single-id calls only: batchModify returns nothing, and a
   * per-message list would not fit one field).
   */
  labels?: string[];
}

/** Add and/or remove labels (names or ids) on one or more messages. */
export async function modifyLabels(
  ctx: GmailContext,
  ids: readonly string[],
  change: { add?: readonly string[]; remove?: readonly string[] },
): Promise<ModifyResult> {
  if (!ids.length) throw new UsageError("missing_id", "Give at least one message id.");
  if (ids.length > 1000) throw new UsageError("too_many_ids", "At most 1000 message ids per call.");
  ids.forEach((id) => checkId(id, "message"));
  const addLabelIds = await ctx.labels.idsFor(change.add ?? []);
  const removeLabelIds = await ctx.labels.idsFor(change.remove ?? []);
  if (!addLabelIds.length && !removeLabelIds.length) {
    throw new UsageError("nothing_to_change", "Nothing to change: give labels to add or remove.");
  }
  if (ids.length === 1) {
    const m = await ctx.http.call<GmailMessage>({
      path: `messages/${ids[0]}/modify`,
      json: { addLabelIds, removeLabelIds } satisfies GmailRequest["modify"],
      op: OPS.modify,
      idempotent: true,
    });
    return { ids: [...ids], labels: await ctx.labels.namesFor(m.labelIds ?? []) };
  }
  await ctx.http.call<void>({
    path: "messages/batchModify",
    json: { ids: [...ids], addLabelIds, removeLabelIds } satisfies GmailRequest["batchModify"],
    op: OPS.modify,
    idempotent: true,
  });
  return { ids: [...ids] };
}

/** Mark read. */
export const markRead = (ctx: GmailContext, ids: readonly string[]) =>
  modifyLabels(ctx, ids, { remove: ["UNREAD"] });
/** Mark unread. */
export const markUnread = (ctx: GmailContext, ids: readonly string[]) =>
  modifyLabels(ctx, ids, { add: ["UNREAD"] });
/** Star. */
export const star = (ctx: GmailContext, ids: readonly string[]) =>
  modifyLabels(ctx, ids, { add: ["STARRED"] });
/** Unstar. */
export const unstar = (ctx: GmailContext, ids: readonly string[]) =>
  modifyLabels(ctx, ids, { remove: ["STARRED"] });
/** Archive (remove from the inbox). */
export const archive = (ctx: GmailContext, ids: readonly string[]) =>
  modifyLabels(ctx, ids, { remove: ["INBOX"] });

/** Move to (or, with `untrash`, out of) the trash. */
export async function trash(
  ctx: GmailContext,
  ids: readonly string[],
  untrash = false,
): Promise<ModifyResult> {
  if (!ids.length) throw new UsageError("missing_id", "Give at least one message id.");
  ids.forEach((id) => checkId(id, "message"));
  const messages = await mapPool(ids, ctx.concurrency, (id) =>
    ctx.http.call<GmailMessage>({
      path: `messages/${id}/${untrash ? "untrash" : "trash"}`,
      method: "POST",
      op: OPS.trash,
      idempotent: true,
    }));
  // Like modifyLabels: the resulting label names when one id was given (trash/untrash return
  // the message resource with its new labelIds).
  if (ids.length === 1 && messages[0]?.labelIds) {
    return { ids: [...ids], labels: await ctx.labels.namesFor(messages[0].labelIds) };
  }
  return { ids: [...ids] };
}
