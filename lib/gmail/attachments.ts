/**
 * Download attachments to a directory under a safe file name: no path traversal, no hidden or
 * reserved names, no control characters, and no overwrite unless asked (`name (1).ext`, ...).
 * Nothing is ever written through a symbolic link: new files are created exclusively, and an
 * overwrite writes a temporary file in the directory and renames it over the target, refusing
 * a link there (`target_is_symlink`). Files are created 0600: they hold private mail.
 * Attachment ids are not stable across fetches, so the attachment is re-resolved from the
 * message's part tree (by partId, filename or id) right before the download.
 *
 * @example
 * ```ts
 * import { downloadAttachment, safeFileName } from "./attachments.ts";
 * safeFileName("../../etc/passwd"); // "passwd"
 * declare const ctx: import("./context.ts").GmailContext;
 * await downloadAttachment(ctx, "18f0a1", { filename: "invoice.pdf" }, "/tmp/out");
 * ```
 * @module
 */

import { McsError, PermissionDeniedError, UsageError } from "../errors.ts";
import type { GmailContext } from "./context.ts";
import { decodeMessage } from "./decode.ts";
import { decodeBase64Lenient } from "../encoding/base64.ts";
import { checkId, getRawMessage } from "./read.ts";
import { OPS } from "./scopes.ts";
import type { AttachmentInfo, GmailBody, GmailPart } from "./types.ts";

const RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;

/** Reduce an untrusted attachment name to a safe single path component. */
export function safeFileName(name: string, fallback = "attachment"): string {
  let s = name.normalize("NFC").split(/[\\/]/).pop() ?? "";
  // deno-lint-ignore no-control-regex
  s = s.replace(/[\x00-\x1f\x7f<>:"|?*]/g, "_").trim();
  s = s.replace(/^[.\s]+/, "").replace(/[.\s]+$/, "");
  if (!s) s = fallback;
  if (RESERVED.test(s)) s = `_${s}`;
  const enc = new TextEncoder();
  if (enc.encode(s).length > 200) {
    const ext = /(\.[A-Za-z0-9]{1,10})$/.exec(s)?.[1] ?? "";
    let base = s.slice(0, s.length - ext.length);
    while (enc.encode(base + ext).length > 200) base = Array.from(base).slice(0, -1).join("");
    s = base + ext;
  }
  return s;
}

/** `name.ext` → `name (n).ext`. */
export function numbered(name: string, n: number): string {
  const m = /^(.+?)(\.[^.]{1,10})?$/.exec(name)!;
  return `${m[1]} (${n})${m[2] ?? ""}`;
}

/** Which attachment of a message. */
export interface AttachmentSelector {
  partId?: string;
  filename?: string;
  attachmentId?: string;
}

/** Result of a download. */
export interface DownloadedAttachment {
  path: string;
  filename: string;
  mimeType: string;
  size: number;
}

function findPart(p: GmailPart | undefined, partId: string): GmailPart | undefined {
  if (!p) return undefined;
  if ((p.partId ?? "") === partId) return p;
  for (const c of p.parts ?? []) {
    const hit = findPart(c, partId);
    if (hit) return hit;
  }
  return undefined;
}

function writeFailed(path: string, err: unknown): McsError {
  return new McsError(
    "download_write_failed",
    `Cannot write ${path}: ${err instanceof Error ? err.message : String(err)}`,
    "runtime",
    { cause: err },
  );
}

/**
 * Replace `dir/name` with `bytes` without ever writing through a link: the bytes go to a new
 * temporary file in `dir` (created exclusively, mode 0600), which is then renamed over the
 * target (rename replaces the directory entry, it never follows a link). A symbolic link at
 * the target, dangling or not, is refused rather than replaced.
 * @throws {UsageError} `target_is_symlink` / `target_not_a_file`.
 */
async function replaceFile(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = `${dir}/${name}`;
  let existing: Deno.FileInfo | undefined;
  try {
    existing = await Deno.lstat(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw writeFailed(path, err);
  }
  if (existing?.isSymlink) {
    throw new UsageError(
      "target_is_symlink",
      `Not overwriting ${path}: it is a symbolic link, and mcs never writes through a link. ` +
        "Remove the link, or download without overwrite to get a new name.",
      { details: { path } },
    );
  }
  if (existing && !existing.isFile) {
    throw new UsageError(
      "target_not_a_file",
      `Not overwriting ${path}: it is not a regular file.`,
      { details: { path } },
    );
  }
  const tmp = `${dir}/.${name.slice(0, 100)}.${crypto.randomUUID().slice(0, 8)}.mcs-part`;
  try {
    await Deno.writeFile(tmp, bytes, { createNew: true, mode: 0o600 });
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw writeFailed(path, err);
  }
  return path;
}

/**
 * Write bytes without overwriting: `name`, then `name (1)`, `name (2)`, ... (each created
 * exclusively, so an existing file or link, even a dangling one, is never written through).
 * With `overwrite`, replace `name` (see {@link replaceFile}).
 */
export async function writeUnique(
  dir: string,
  name: string,
  bytes: Uint8Array,
  overwrite = false,
): Promise<string> {
  dir = dir.endsWith("/") && dir.length > 1 ? dir.slice(0, -1) : dir;
  if (overwrite) return await replaceFile(dir, name, bytes);
  for (let n = 0; n < 1000; n++) {
    const path = `${dir}/${n === 0 ? name : numbered(name, n)}`;
    try {
      await Deno.writeFile(path, bytes, { createNew: true, mode: 0o600 });
      return path;
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) continue;
      throw writeFailed(path, err);
    }
  }
  throw new McsError("download_write_failed", `Too many files named like ${name} in ${dir}.`);
}

/** attachments.get; `undefined` when Gmail does not know the id (404 / invalid id). */
async function fetchAttachment(
  ctx: GmailContext,
  messageId: string,
  attachmentId: string,
): Promise<string | undefined> {
  try {
    return (await ctx.http.call<GmailBody>({
      path: `messages/${messageId}/attachments/${encodeURIComponent(attachmentId)}`,
      op: OPS.attachment,
    })).data ?? "";
  } catch (err) {
    if (err instanceof McsError && /^(not_found|gmail_bad_request)$/.test(err.code)) {
      return undefined;
    }
    throw err;
  }
}

/** Download one attachment of a message into `dir`. */
export async function downloadAttachment(
  ctx: GmailContext,
  messageId: string,
  selector: AttachmentSelector,
  dir: string,
  options: { overwrite?: boolean } = {},
): Promise<DownloadedAttachment> {
  checkId(messageId, "message");
  // Fail fast, before any request, when this build may not write there.
  const write = await Deno.permissions.query({ name: "write", path: dir });
  if (write.state !== "granted") {
    throw new PermissionDeniedError(
      `Writing to "${dir}" is not allowed by this build's permissions (--allow-write). ` +
        "Download into a directory the build grants (see lib/build/PACKAGING.md, --write-dir).",
      "--allow-write",
    );
  }
  try {
    if (!(await Deno.stat(dir)).isDirectory) throw new Error("not a directory");
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    throw new UsageError(
      "invalid_directory",
      `Download directory "${dir}" does not exist or is not a directory.`,
    );
  }
  const progress = ctx.http.onProgress;
  const m = await getRawMessage(ctx, messageId);
  progress?.({ done: 1, total: 3, message: "read the message" });
  const decoded = await decodeMessage(m, { labelNames: [], attachmentsOnly: true });
  const atts = decoded.attachments;
  let pick: AttachmentInfo | undefined = selector.partId !== undefined
    ? atts.find((a) => a.partId === selector.partId)
    : selector.filename !== undefined
    ? atts.find((a) => a.filename === selector.filename) ??
      atts.find((a) => a.filename.toLowerCase() === selector.filename!.toLowerCase())
    : selector.attachmentId !== undefined
    ? atts.find((a) => a.attachmentId === selector.attachmentId)
    : atts.length === 1
    ? atts[0]
    : undefined;
  let data: string | undefined;
  if (!pick && selector.attachmentId !== undefined) {
    // Gmail mints a new attachment id on every fetch, so an id from an earlier read never
    // matches the fresh tree; it still works with attachments.get. Fetch by it, then tell
    // which part it was by size (unique) to name the file.
    data = await fetchAttachment(ctx, messageId, selector.attachmentId);
    if (data !== undefined) {
      const size = decodeBase64Lenient(data).length;
      const bySize = atts.filter((a) => a.size === size);
      pick = bySize.length === 1 ? bySize[0] : {
        filename: "attachment",
        mimeType: "application/octet-stream",
        size,
        partId: "",
        inline: false,
      };
    }
  }
  if (!pick) {
    throw new UsageError(
      "attachment_not_found",
      `No such attachment on message ${messageId}. Attachments: ${
        atts.map((a) => `${a.filename} (partId ${a.partId})`).join(", ") || "(none)"
      }.`,
    );
  }
  if (data === undefined) {
    const part = findPart(m.payload, pick.partId);
    data = part?.body?.data;
    if (!data) {
      const attId = part?.body?.attachmentId ?? pick.attachmentId;
      if (!attId) throw new McsError("attachment_empty", "The attachment has no content.");
      data = await fetchAttachment(ctx, messageId, attId) ?? "";
    }
  }
  const bytes = decodeBase64Lenient(data);
  const filename = safeFileName(pick.filename);
  progress?.({ done: 2, total: 3, message: `downloaded ${filename} (${bytes.length} bytes)` });
  const path = await writeUnique(dir, filename, bytes, options.overwrite);
  progress?.({ done: 3, total: 3, message: `saved ${path.split("/").pop()}` });
  return { path, filename: path.split("/").pop()!, mimeType: pick.mimeType, size: bytes.length };
}
