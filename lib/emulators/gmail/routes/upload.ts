/**
 * The upload endpoint (`/upload/gmail/v1/users/{userId}/messages/send|drafts`). Reference §4.1:
 * `uploadType=media|multipart|resumable`, at most 35 MB, `message/*` only. media is the raw
 * message; multipart is `multipart/related` with JSON metadata then the `message/rfc822` part;
 * resumable follows Google's generic resumable protocol (the reference names it but does not
 * spell it out): POST metadata → 200 + `Location` session URI, then PUT the bytes (optionally
 * in `Content-Range` chunks, answered 308 + `Range` until complete).
 *
 * @example
 * ```ts
 * import { uploadRoutes } from "./upload.ts";
 * uploadRoutes.length; // 4
 * ```
 * @module
 */

import { type ApiRequest, type ApiResponse, type Ctx, err, ok } from "../api.ts";
import { type ErrorResponse, googleError } from "../google_errors.ts";
import { parseMessage, parseParams } from "../mime.ts";
import { DRAFT, MESSAGE } from "../validate.ts";
import { checkBody, type FieldSpec } from "../validate.ts";
import { checkRecipients, sentBody } from "./messages.ts";
import type { Route } from "./table.ts";

/** Largest message accepted (reference §4.1: 35 MB). */
const MAX_UPLOAD = 35 * 1024 * 1024;

const isMessageType = (ct: string | null) => /^message\//i.test((ct ?? "").trim());

function unsupportedMedia(ct: string | null): ErrorResponse {
  return googleError.invalidArgument(
    `Media type '${ct ?? ""}' is not supported. Valid media types: [message/*]`,
  );
}

function parseMeta(
  bytes: Uint8Array,
  spec: Record<string, FieldSpec>,
): { meta: Record<string, unknown> } | { error: ErrorResponse } {
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder().decode(bytes) || "{}");
  } catch {
    return { error: googleError.invalidArgument("Invalid JSON payload received.") };
  }
  const bad = checkBody(spec, meta);
  return bad ? { error: bad } : { meta: meta as Record<string, unknown> };
}

/** The uploaded message and its metadata, or a pending answer, or an error. */
function uploadBody(
  ctx: Ctx,
  req: ApiRequest,
  spec: Record<string, FieldSpec>,
):
  | { raw: Uint8Array; meta: Record<string, unknown> }
  | { pending: ApiResponse }
  | ErrorResponse {
  const type = req.query.get("uploadType");
  const target = req.path;
  if (req.body.length > MAX_UPLOAD) return googleError.tooLarge(MAX_UPLOAD);
  if (type === "media") {
    const ct = req.headers.get("content-type");
    if (!isMessageType(ct)) return unsupportedMedia(ct);
    return { raw: req.body, meta: {} };
  }
  if (type === "multipart") {
    const ct = req.headers.get("content-type") ?? "";
    const { value, params } = parseParams(ct);
    if (value !== "multipart/related" || !params.boundary) {
      return googleError.invalidArgument("Invalid multipart request with 0 mime parts.");
    }
    const head = new TextEncoder().encode(
      `Content-Type: multipart/related; boundary="${params.boundary}"\r\n\r\n`,
    );
    const all = new Uint8Array(head.length + req.body.length);
    all.set(head);
    all.set(req.body, head.length);
    const parts = parseMessage(all).children;
    if (parts.length !== 2) {
      return googleError.invalidArgument(
        `Invalid multipart request with ${parts.length} mime parts.`,
      );
    }
    if (!isMessageType(parts[1].type)) return unsupportedMedia(parts[1].type);
    const j = parseMeta(parts[0].body, spec);
    if ("error" in j) return j.error;
    return { raw: parts[1].body, meta: j.meta };
  }
  if (type === "resumable") {
    const uploadId = req.query.get("upload_id");
    if (!uploadId) {
      if (req.method !== "POST") return googleError.methodNotAllowed();
      const declared = req.headers.get("x-upload-content-type");
      if (declared && !isMessageType(declared)) return unsupportedMedia(declared);
      const len = Number(req.headers.get("x-upload-content-length") ?? 0);
      if (len > MAX_UPLOAD) return googleError.tooLarge(MAX_UPLOAD);
      const j = parseMeta(req.body, spec);
      if ("error" in j) return j.error;
      const id = "ADPycd" + crypto.randomUUID().replace(/-/g, "");
      ctx.sessions.set(id, { target, meta: j.meta, chunks: [], received: 0 });
      const loc = `${ctx.baseUrl()}${target}?uploadType=resumable&upload_id=${id}`;
      return { pending: { status: 200, headers: { location: loc, "x-guploader-uploadid": id } } };
    }
    const session = ctx.sessions.get(uploadId);
    if (!session || session.target !== target) return googleError.notFound();
    const range = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(
      req.headers.get("content-range") ?? "",
    );
    if (range && range[1] !== undefined && Number(range[1]) !== session.received) {
      return googleError.invalidArgument("Invalid request. Content-Range offset mismatch.");
    }
    session.chunks.push(req.body);
    session.received += req.body.length;
    if (session.received > MAX_UPLOAD) {
      ctx.sessions.delete(uploadId);
      return googleError.tooLarge(MAX_UPLOAD);
    }
    const total = range?.[3] && range[3] !== "*" ? Number(range[3]) : undefined;
    if (range && (total === undefined || session.received < total)) {
      return {
        pending: {
          status: 308,
          headers: session.received ? { range: `bytes=0-${session.received - 1}` } : {},
        },
      };
    }
    ctx.sessions.delete(uploadId);
    const raw = new Uint8Array(session.received);
    let o = 0;
    for (const c of session.chunks) raw.set(c, (o += c.length) - c.length);
    return { raw, meta: session.meta };
  }
  return googleError.invalidArgument(
    type
      ? `Invalid upload type: ${type}`
      : "Upload requests must include an uploadType URL parameter and a URL path beginning with /upload/",
  );
}

const UPLOAD_QUERY = { upload_id: {} };

function sendUpload(ctx: Ctx, req: ApiRequest): ApiResponse {
  const u = uploadBody(ctx, req, MESSAGE);
  if ("pending" in u) return u.pending;
  if ("status" in u) return err(u);
  const bad = checkRecipients(u.raw);
  if (bad) return err(bad);
  const threadId = u.meta.threadId as string | undefined;
  return ok(sentBody(ctx.mailbox.send(u.raw, { threadId })));
}

function draftUpload(ctx: Ctx, req: ApiRequest): ApiResponse {
  const u = uploadBody(ctx, req, DRAFT);
  if ("pending" in u) return u.pending;
  if ("status" in u) return err(u);
  const msgMeta = (u.meta.message ?? {}) as { threadId?: string };
  const d = ctx.mailbox.createDraft(u.raw, msgMeta.threadId);
  return ok({
    id: d.draftId,
    message: { id: d.message.id, threadId: d.message.threadId, labelIds: ["DRAFT"] },
  });
}

/** Routes under `/upload/gmail/v1/users/{userId}/` (PUT continues a resumable session). */
export const uploadRoutes: Route[] = [
  { method: "POST", path: /^messages\/send$/, query: UPLOAD_QUERY, handle: sendUpload },
  { method: "PUT", path: /^messages\/send$/, query: UPLOAD_QUERY, handle: sendUpload },
  { method: "POST", path: /^drafts$/, query: UPLOAD_QUERY, handle: draftUpload },
  { method: "PUT", path: /^drafts$/, query: UPLOAD_QUERY, handle: draftUpload },
];
