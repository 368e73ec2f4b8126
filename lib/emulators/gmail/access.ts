/**
 * Which Gmail API method a request is, which OAuth scopes authorise it, and what it costs in
 * quota units — the emulator's authorisation and quota table.
 *
 * Scope lists follow each method's "Authorization scopes" section in the Gmail reference (the
 * `gmail.addons.*` scopes are left out); unit costs follow runtime-and-peers.md §4.1. The RPC
 * names (`caribou.api.proto.MailboxService.ListMessages`, ...) are what Gmail puts in
 * `details[].metadata.method`; the reference does not list them, so the less common ones are
 * the emulator's best guess.
 *
 * @example
 * ```ts
 * import { classify } from "./access.ts";
 * const m = classify("GET", "messages/abc", new URLSearchParams("format=metadata"));
 * m.rpc; // "GetMessage"
 * ```
 * @module
 */

const S = (s: string) => `https://www.googleapis.com/auth/${s}`;
/** `https://mail.google.com/`. */
export const FULL_SCOPE = "https://mail.google.com/";
/** The `gmail.metadata` scope (headers and labels only; no `q`, no `format=full|raw`). */
export const METADATA_SCOPE = S("gmail.metadata");

const READ = [FULL_SCOPE, S("gmail.modify"), S("gmail.readonly")];
const READ_OR_META = [...READ, METADATA_SCOPE];

/** Scope groups by access kind. */
export const SCOPES = {
  /** Bodies: messages.get full/raw, attachments. */
  read: READ,
  /** list/get(metadata|minimal)/history. */
  metadata: READ_OR_META,
  profile: [...READ_OR_META, S("gmail.compose")],
  send: [FULL_SCOPE, S("gmail.modify"), S("gmail.compose"), S("gmail.send")],
  draftsRead: [FULL_SCOPE, S("gmail.modify"), S("gmail.compose"), S("gmail.readonly")],
  draftsWrite: [FULL_SCOPE, S("gmail.modify"), S("gmail.compose")],
  modify: [FULL_SCOPE, S("gmail.modify")],
  labelsRead: [...READ_OR_META, S("gmail.labels")],
  labelsWrite: [FULL_SCOPE, S("gmail.modify"), S("gmail.labels")],
  /** Permanent deletion. */
  full: [FULL_SCOPE],
} as const;

/** A classified API call. */
export interface MethodInfo {
  /** RPC name without the `caribou.api.proto.MailboxService.` prefix. */
  rpc: string;
  /** Any one of these scopes authorises it. */
  scopes: readonly string[];
  /** Quota units. */
  units: number;
  /** Whether a `gmail.metadata`-only grant is refused for this call's parameters. */
  metadataForbidden?: string;
}

/** Prefix of RPC names in `details[].metadata.method`. */
export const RPC_PREFIX = "caribou.api.proto.MailboxService.";

function m(rpc: string, scopes: readonly string[], units: number): MethodInfo {
  return { rpc, scopes, units };
}

/**
 * Classify a request. `rest` is the path after `/gmail/v1/users/{userId}/` (or the upload
 * path's `messages/send` / `drafts`).
 */
export function classify(method: string, rest: string, query: URLSearchParams): MethodInfo {
  const seg = rest.split("/");
  const [r, id, sub] = seg;
  const G = method === "GET";
  const P = method === "POST";
  const D = method === "DELETE";
  if (r === "profile") return m("GetProfile", SCOPES.profile, 1);
  if (r === "history") return m("ListHistory", SCOPES.metadata, 2);
  if (r === "labels") {
    if (G) return m(id ? "GetLabel" : "ListLabels", SCOPES.labelsRead, 1);
    if (P && !id) return m("CreateLabel", SCOPES.labelsWrite, 5);
    if (D) return m("DeleteLabel", SCOPES.labelsWrite, 5);
    return m("UpdateLabel", SCOPES.labelsWrite, 5);
  }
  if (r === "drafts") {
    if (G) return m(id ? "GetDraft" : "ListDrafts", SCOPES.draftsRead, 5);
    if (id === "send") return m("SendDraft", SCOPES.draftsWrite, 100);
    if (D) return m("DeleteDraft", SCOPES.draftsWrite, 10);
    if (P) return m("CreateDraft", SCOPES.draftsWrite, 10);
    return m("UpdateDraft", SCOPES.draftsWrite, 15);
  }
  const thread = r === "threads";
  if (r === "messages" || thread) {
    const kind = thread ? "Thread" : "Message";
    // Reference: threads.* "10 each" (marked unverified); messages 5, delete 10.
    const u = (n: number) => thread ? 10 : n;
    if (!thread && id === "send") return m("SendMessage", SCOPES.send, 100);
    if (!thread && id === "batchModify") return m("BatchModifyMessages", SCOPES.modify, 50);
    if (!thread && id === "batchDelete") return m("BatchDeleteMessages", SCOPES.full, 50);
    if (!thread && sub === "attachments") return m("GetAttachment", SCOPES.read, 5);
    if (D) return m(`Delete${kind}`, SCOPES.full, u(10));
    if (P && sub === "modify") return m(`Modify${kind}`, SCOPES.modify, u(5));
    if (P && sub === "trash") return m(`Trash${kind}`, SCOPES.modify, u(5));
    if (P && sub === "untrash") return m(`Untrash${kind}`, SCOPES.modify, u(5));
    if (G && !id) {
      const info = m(`List${kind}s`, SCOPES.metadata, u(5));
      if (query.get("q")) info.metadataForbidden = "Metadata scope does not support 'q' parameter";
      return info;
    }
    if (G) {
      const info = m(`Get${kind}`, SCOPES.metadata, u(5));
      const format = (query.get("format") ?? "full").toLowerCase();
      if (format === "full" || format === "raw") {
        info.metadataForbidden = `Metadata scope doesn't allow format ${format.toUpperCase()}`;
      }
      return info;
    }
  }
  return m("Unknown", SCOPES.full, 1);
}
