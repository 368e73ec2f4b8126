/**
 * `users.drafts.*` handlers (list, create, send, get, delete).
 *
 * @example
 * ```ts
 * import { draftRoutes } from "./drafts.ts";
 * draftRoutes.length; // 5
 * ```
 * @module
 */

import { err, listBody, ok, page, readJson } from "../api.ts";
import { googleError } from "../google_errors.ts";
import { header } from "../mime.ts";
import { messageResource } from "../resources.ts";
import { DRAFT } from "../validate.ts";
import { checkRecipients, MESSAGE_FORMATS, rawFromJson, sentBody } from "./messages.ts";
import type { Route } from "./table.ts";

/** The routes of `users.drafts`. */
export const draftRoutes: Route[] = [
  {
    method: "GET",
    path: /^drafts$/,
    query: {
      maxResults: { type: "uint32" },
      pageToken: {},
      q: {},
      includeSpamTrash: { type: "bool" },
    },
    handle: ({ mailbox }, req) => {
      const p = page([...mailbox.drafts.entries()].reverse(), req.query);
      if ("status" in p) return err(p);
      return ok(listBody("drafts", {
        ...p,
        slice: p.slice.map(([id, mid]) => ({
          id,
          message: { id: mid, threadId: mailbox.get(mid)?.threadId },
        })),
      }));
    },
  },
  {
    method: "POST",
    path: /^drafts$/,
    handle: (ctx, req) => {
      const j = readJson(ctx, req, DRAFT);
      if ("error" in j) return err(j.error);
      const message = j.value.message as { raw?: string; threadId?: string } | undefined;
      const raw = rawFromJson(message);
      if (!(raw instanceof Uint8Array)) return err(raw);
      const d = ctx.mailbox.createDraft(raw, message?.threadId);
      return ok({
        id: d.draftId,
        message: { id: d.message.id, threadId: d.message.threadId, labelIds: ["DRAFT"] },
      });
    },
  },
  {
    method: "POST",
    path: /^drafts\/send$/,
    handle: (ctx, req) => {
      const j = readJson(ctx, req, DRAFT);
      if ("error" in j) return err(j.error);
      const { mailbox } = ctx;
      const id = String(j.value.id ?? "");
      const mid = mailbox.drafts.get(id);
      const msg = mid ? mailbox.get(mid) : undefined;
      if (!msg) return err(googleError.notFound());
      const bad = checkRecipients(msg.raw);
      if (bad) return err(bad);
      mailbox.drafts.delete(id);
      msg.labelIds.delete("DRAFT");
      msg.labelIds.add("SENT");
      msg.historyId = mailbox.nextHistoryId();
      mailbox.recordDelivery(msg, header(mailbox.parsed(msg), "bcc") ?? "");
      return ok(sentBody(msg));
    },
  },
  {
    method: "GET",
    path: /^drafts\/([^/]+)$/,
    query: { format: { enum: MESSAGE_FORMATS } },
    handle: ({ mailbox }, req, p) => {
      const mid = mailbox.drafts.get(p[0]);
      const msg = mid ? mailbox.get(mid) : undefined;
      if (!msg) return err(googleError.notFound());
      const format = (req.query.get("format") ?? "full").toLowerCase();
      return ok({ id: p[0], message: messageResource(mailbox, msg, format, []) });
    },
  },
  {
    method: "DELETE",
    path: /^drafts\/([^/]+)$/,
    handle: ({ mailbox }, _req, p) => {
      const mid = mailbox.drafts.get(p[0]);
      if (!mid) return err(googleError.notFound());
      mailbox.drafts.delete(p[0]);
      mailbox.messages.delete(mid);
      return { status: 204 };
    },
  },
];
