/**
 * `users.messages.*` and `users.getProfile` handlers, plus what other resources reuse: reading
 * `raw`, the recipient check, and label modification with Gmail's rules.
 *
 * @example
 * ```ts
 * import { messageRoutes } from "./messages.ts";
 * messageRoutes.length > 0; // true
 * ```
 * @module
 */

import {
  type ApiResponse,
  type Ctx,
  err,
  listBody,
  listMatching,
  ok,
  page,
  readJson,
} from "../api.ts";
import { b64url as b64, fromB64 } from "../bytes.ts";
import { type ErrorResponse, googleError } from "../google_errors.ts";
import type { Mailbox, StoredMessage } from "../mailbox.ts";
import { header, parseMessage, partAt } from "../mime.ts";
import { labelsOnly, messageResource } from "../resources.ts";
import type { Route } from "./table.ts";
import { BATCH_DELETE, BATCH_MODIFY, MESSAGE, MODIFY, type QuerySpec } from "../validate.ts";

/** Query parameters of messages.list / threads.list (discovery document). */
export const LIST_QUERY: QuerySpec = {
  q: {},
  labelIds: { repeated: true },
  maxResults: { type: "uint32" },
  pageToken: {},
  includeSpamTrash: { type: "bool" },
};

/** messages.get `format` values. */
export const MESSAGE_FORMATS = ["minimal", "full", "raw", "metadata"] as const;

/** The `raw` of a Message body, decoded. */
export function rawFromJson(message: unknown): Uint8Array | ErrorResponse {
  const raw = (message as { raw?: unknown } | undefined)?.raw;
  if (typeof raw !== "string" || !raw) {
    return googleError.invalidArgument(
      "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
    );
  }
  try {
    return fromB64(raw);
  } catch {
    return googleError.invalidArgument("Invalid value for ByteString");
  }
}

/** Gmail refuses to send a message with no To, Cc or Bcc. */
export function checkRecipients(raw: Uint8Array): ErrorResponse | undefined {
  const root = parseMessage(raw);
  const any = ["to", "cc", "bcc"].some((h) => header(root, h)?.trim());
  return any ? undefined : googleError.invalidArgument("Recipient address required");
}

/**
 * Labels a client may not add or remove by hand: `SENT` and `DRAFT` follow from sending and
 * drafting, `CHAT` from chat. Gmail answers "Invalid label: SENT" (observed,
 * google-api-php-client#1254).
 */
const MANAGED = new Set(["SENT", "DRAFT", "CHAT"]);

/** Check a modify's labels: each must exist and not be a managed one. */
export function checkLabels(
  mailbox: Mailbox,
  add: string[],
  remove: string[],
): ErrorResponse | undefined {
  for (const l of [...add, ...remove]) {
    if (!mailbox.labels.has(l) || MANAGED.has(l)) {
      return googleError.invalidArgument(`Invalid label: ${l}`);
    }
  }
  return undefined;
}

/** A modify body of a single message or thread, checked. */
export function readModify(
  ctx: Ctx,
  req: Parameters<typeof readJson>[1],
): { add: string[]; remove: string[] } | { error: ErrorResponse } {
  const j = readJson(ctx, req, MODIFY);
  if ("error" in j) return j;
  const add = (j.value.addLabelIds ?? []) as string[];
  const remove = (j.value.removeLabelIds ?? []) as string[];
  // Observed (google-api-nodejs-client#312): an empty modify is refused.
  if (!add.length && !remove.length) {
    return { error: googleError.invalidArgument("No label add or removes specified") };
  }
  const bad = checkLabels(ctx.mailbox, add, remove);
  return bad ? { error: bad } : { add, remove };
}

/** Apply a modify; each message gets a new history id. */
export function applyModify(
  mailbox: Mailbox,
  msgs: Iterable<StoredMessage>,
  add: string[],
  remove: string[],
): void {
  for (const m of msgs) {
    add.forEach((l) => m.labelIds.add(l));
    remove.forEach((l) => m.labelIds.delete(l));
    m.historyId = mailbox.nextHistoryId();
  }
}

/** Set or clear TRASH on messages. */
export function setTrash(mailbox: Mailbox, msgs: Iterable<StoredMessage>, on: boolean): void {
  for (const m of msgs) {
    if (on) m.labelIds.add("TRASH");
    else m.labelIds.delete("TRASH");
    m.historyId = mailbox.nextHistoryId();
  }
}

/** The message at `id`, or Gmail's answer for a missing (404) or malformed (400) id. */
function findMessage(ctx: Ctx, id: string): StoredMessage | ApiResponse {
  const m = ctx.mailbox.get(id);
  if (m) return m;
  return err(
    /^[0-9a-f]+$/i.test(id)
      ? googleError.notFound()
      : googleError.invalidArgument("Invalid id value"),
  );
}

const withMessage = (
  f: (ctx: Ctx, req: Parameters<typeof readJson>[1], m: StoredMessage, p: string[]) => ApiResponse,
) =>
(ctx: Ctx, req: Parameters<typeof readJson>[1], p: string[]) => {
  const m = findMessage(ctx, p[0]);
  return "status" in m ? m : f(ctx, req, m, p);
};

/** Sent-message answer (`id`, `threadId`, `labelIds`). */
export const sentBody = (m: StoredMessage) => ({
  id: m.id,
  threadId: m.threadId,
  labelIds: [...m.labelIds],
});

/** The routes of `users.messages` and `users.getProfile`. */
export const messageRoutes: Route[] = [
  {
    method: "GET",
    path: /^profile$/,
    handle: ({ mailbox }) => {
      const msgs = mailbox.list();
      return ok({
        emailAddress: mailbox.owner,
        messagesTotal: msgs.length,
        threadsTotal: new Set(msgs.map((x) => x.threadId)).size,
        historyId: String(mailbox.historyId),
      });
    },
  },
  {
    method: "GET",
    path: /^messages$/,
    query: LIST_QUERY,
    handle: ({ mailbox }, req) => {
      const p = page(listMatching(mailbox, req.query), req.query);
      if ("status" in p) return err(p);
      return ok(listBody("messages", {
        ...p,
        slice: p.slice.map((x) => ({ id: x.id, threadId: x.threadId })),
      }));
    },
  },
  {
    method: "POST",
    path: /^messages\/send$/,
    handle: (ctx, req) => {
      const j = readJson(ctx, req, MESSAGE);
      if ("error" in j) return err(j.error);
      const raw = rawFromJson(j.value);
      if (!(raw instanceof Uint8Array)) return err(raw);
      const bad = checkRecipients(raw);
      if (bad) return err(bad);
      const threadId = j.value.threadId as string | undefined;
      return ok(sentBody(ctx.mailbox.send(raw, { threadId })));
    },
  },
  {
    method: "POST",
    path: /^messages\/batchModify$/,
    handle: (ctx, req) => {
      const j = readJson(ctx, req, BATCH_MODIFY);
      if ("error" in j) return err(j.error);
      const { ids = [], addLabelIds = [], removeLabelIds = [] } = j.value as Record<
        string,
        string[]
      >;
      const bad = checkLabels(ctx.mailbox, addLabelIds, removeLabelIds);
      if (bad) return err(bad);
      // Reference §4.1: ids ≤ 1000. The message text is the emulator's guess.
      if (ids.length > 1000) {
        return err(googleError.invalidArgument("Too many ids: at most 1000 are allowed."));
      }
      const found = ids.map((id) => ctx.mailbox.get(id)).filter((m): m is StoredMessage => !!m);
      applyModify(ctx.mailbox, found, addLabelIds, removeLabelIds);
      return { status: 204 };
    },
  },
  {
    method: "POST",
    path: /^messages\/batchDelete$/,
    handle: (ctx, req) => {
      const j = readJson(ctx, req, BATCH_DELETE);
      if ("error" in j) return err(j.error);
      const ids = (j.value.ids ?? []) as string[];
      if (ids.length > 1000) {
        return err(googleError.invalidArgument("Too many ids: at most 1000 are allowed."));
      }
      for (const id of ids) ctx.mailbox.messages.delete(id);
      return { status: 204 };
    },
  },
  {
    method: "GET",
    path: /^messages\/([^/]+)$/,
    query: { format: { enum: MESSAGE_FORMATS }, metadataHeaders: { repeated: true } },
    handle: withMessage((ctx, req, m) => {
      const format = (req.query.get("format") ?? "full").toLowerCase();
      return ok(messageResource(ctx.mailbox, m, format, req.query.getAll("metadataHeaders")));
    }),
  },
  {
    method: "DELETE",
    path: /^messages\/([^/]+)$/,
    handle: withMessage((ctx, _req, m) => {
      ctx.mailbox.messages.delete(m.id);
      return { status: 204 };
    }),
  },
  {
    method: "POST",
    path: /^messages\/([^/]+)\/modify$/,
    handle: withMessage((ctx, req, m) => {
      const mod = readModify(ctx, req);
      if ("error" in mod) return err(mod.error);
      applyModify(ctx.mailbox, [m], mod.add, mod.remove);
      return ok(labelsOnly(m));
    }),
  },
  {
    method: "POST",
    path: /^messages\/([^/]+)\/(trash|untrash)$/,
    handle: withMessage((ctx, _req, m, p) => {
      setTrash(ctx.mailbox, [m], p[1] === "trash");
      return ok(labelsOnly(m));
    }),
  },
  {
    method: "GET",
    path: /^messages\/([^/]+)\/attachments\/([^/]+)$/,
    handle: withMessage((ctx, _req, m, p) => {
      let decoded = "";
      try {
        decoded = new TextDecoder().decode(fromB64(p[1].replace(/^ANGjdJ/, "")));
      } catch { /* invalid id */ }
      const [mid, partId] = decoded.split(":"); // `${messageId}:${partId}:${nonce}`
      if (mid !== m.id || partId === undefined) {
        return err(googleError.invalidArgument("Invalid attachment token"));
      }
      const part = partAt(ctx.mailbox.parsed(m), partId);
      if (!part) return err(googleError.notFound());
      return ok({ attachmentId: p[1], size: part.body.length, data: b64(part.body) });
    }),
  },
];
