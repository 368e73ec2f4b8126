/**
 * `users.threads.*` handlers.
 *
 * @example
 * ```ts
 * import { threadRoutes } from "./threads.ts";
 * threadRoutes.length > 0; // true
 * ```
 * @module
 */

import {
  type ApiRequest,
  type ApiResponse,
  type Ctx,
  err,
  listBody,
  listMatching,
  ok,
  page,
} from "../api.ts";
import { googleError } from "../google_errors.ts";
import type { StoredMessage } from "../mailbox.ts";
import { labelsOnly, messageResource, snippet, threadMessages } from "../resources.ts";
import { applyModify, LIST_QUERY, readModify, setTrash } from "./messages.ts";
import type { Route } from "./table.ts";

/** threads.get `format` values (no `raw`, unlike messages.get). */
const THREAD_FORMATS = ["minimal", "full", "metadata"] as const;

const withThread = (
  f: (ctx: Ctx, req: ApiRequest, msgs: StoredMessage[], p: string[]) => ApiResponse,
) =>
(ctx: Ctx, req: ApiRequest, p: string[]) => {
  const msgs = threadMessages(ctx.mailbox, p[0]);
  return msgs.length ? f(ctx, req, msgs, p) : err(googleError.notFound());
};

const threadResult = (id: string, msgs: StoredMessage[]) => ({
  id,
  messages: msgs.map(labelsOnly),
});

/** The routes of `users.threads`. */
export const threadRoutes: Route[] = [
  {
    method: "GET",
    path: /^threads$/,
    query: LIST_QUERY,
    handle: ({ mailbox }, req) => {
      const seen = new Map<string, StoredMessage>();
      for (const x of listMatching(mailbox, req.query)) {
        if (!seen.has(x.threadId)) seen.set(x.threadId, x);
      }
      const p = page([...seen.values()], req.query);
      if ("status" in p) return err(p);
      return ok(listBody("threads", {
        ...p,
        slice: p.slice.map((x) => ({
          id: x.threadId,
          snippet: snippet(mailbox, x),
          historyId: String(
            Math.max(...threadMessages(mailbox, x.threadId).map((y) => y.historyId)),
          ),
        })),
      }));
    },
  },
  {
    method: "GET",
    path: /^threads\/([^/]+)$/,
    query: { format: { enum: THREAD_FORMATS }, metadataHeaders: { repeated: true } },
    handle: withThread((ctx, req, msgs, p) => {
      const format = (req.query.get("format") ?? "full").toLowerCase();
      return ok({
        id: p[0],
        historyId: String(Math.max(...msgs.map((x) => x.historyId))),
        messages: msgs.map((x) =>
          messageResource(ctx.mailbox, x, format, req.query.getAll("metadataHeaders"))
        ),
      });
    }),
  },
  {
    method: "DELETE",
    path: /^threads\/([^/]+)$/,
    handle: withThread((ctx, _req, msgs) => {
      for (const x of msgs) ctx.mailbox.messages.delete(x.id);
      return { status: 204 };
    }),
  },
  {
    method: "POST",
    path: /^threads\/([^/]+)\/modify$/,
    handle: withThread((ctx, req, msgs, p) => {
      const mod = readModify(ctx, req);
      if ("error" in mod) return err(mod.error);
      applyModify(ctx.mailbox, msgs, mod.add, mod.remove);
      return ok(threadResult(p[0], msgs));
    }),
  },
  {
    method: "POST",
    path: /^threads\/([^/]+)\/(trash|untrash)$/,
    handle: withThread((ctx, _req, msgs, p) => {
      setTrash(ctx.mailbox, msgs, p[1] === "trash");
      return ok(threadResult(p[0], msgs));
    }),
  },
];
