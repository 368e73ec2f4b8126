/**
 * A loopback Gmail REST API emulator: messages, threads, labels, drafts, attachments, profile,
 * the upload endpoint and the batch endpoint, with Google's exact error shapes, bearer-token and
 * scope checks against a {@link GoogleTokenRegistry}, per-request latency and fault injection.
 *
 * @example
 * ```ts
 * import { GoogleTokenRegistry } from "../google_tokens.ts";
 * import { startGmailEmulator } from "./server.ts";
 * const googleTokens = new GoogleTokenRegistry();
 * const emu = await startGmailEmulator({ googleTokens, seed: true });
 * const { token } = googleTokens.issue({ sub: "google-oauth2|1", email: "ada@example.com", scopes: ["https://mail.google.com/"], ttlS: 3600 });
 * await fetch(`${emu.url}/gmail/v1/users/me/profile`, { headers: { authorization: `Bearer ${token}` } });
 * await emu.close();
 * ```
 * @module
 */

import type { GoogleGrant, GoogleTokenRegistry } from "../google_tokens.ts";
import { encodeBatchResponse, parseBatchRequest } from "../../gmail/batch_wire.ts";
import { mimeToGmailPart } from "../../gmail/decode.ts";
import { decodeBase64Lenient, encodeBase64Url } from "../../encoding/base64.ts";
import { parseHeaderParams, parseMime } from "../../gmail/mime_parse.ts";
import { type ErrorResponse, googleError } from "./google_errors.ts";
import { Mailbox, type StoredMessage } from "./mailbox.ts";
import { compileQuery } from "./query.ts";
import { seedMailbox } from "./seed.ts";

/** Options of {@link startGmailEmulator}. */
export interface GmailEmulatorOptions {
  googleTokens: GoogleTokenRegistry;
  /** PEM cert/key to serve HTTPS. */
  tls?: { cert: string; key: string };
  port?: number;
  /** Delay added to every HTTP request (ms). */
  latencyMs?: number;
  /** `true` for the demo mailbox, or a prepared {@link Mailbox}. */
  seed?: boolean | Mailbox;
  /** Mailbox owner (default `ada@example.com`, the Auth0 emulator's seeded user). */
  owner?: string;
  /** Largest JSON request body accepted (default 5 MiB, like Gmail's practical limit). */
  maxJsonBytes?: number;
  /** Clock for the mailbox and relative queries. */
  now?: () => number;
}

/** One logged API call. */
export interface LoggedCall {
  method: string;
  path: string;
  /** Whether it arrived inside a batch request. */
  batched: boolean;
  status: number;
}

/** Fault injection controls. */
export interface GmailFaults {
  /** The next `count` API calls fail with 429 (or 403 userRateLimitExceeded). */
  rateLimit(
    count: number,
    options?: { retryAfterS?: number; status?: 429 | 403; match?: RegExp },
  ): void;
  /** The next `count` API calls fail with a 5xx backendError. */
  serverError(count: number, status?: 500 | 503, match?: RegExp): void;
  /** While on, every call fails with 403 accessNotConfigured / SERVICE_DISABLED. */
  apiDisabled(on: boolean, project?: string): void;
  /** Remove pending faults. */
  clear(): void;
}

/** A running emulator. */
export interface GmailEmulator {
  url: string;
  close(): Promise<void>;
  /** HTTP requests received (a batch counts once). */
  readonly requestCount: number;
  /** API calls handled (each batch part counts). */
  readonly calls: readonly LoggedCall[];
  faults: GmailFaults;
  mailbox: Mailbox;
  /** Change the per-request latency. */
  setLatency(ms: number): void;
  /** Reset `requestCount` and `calls`. */
  resetCounters(): void;
}

type Access =
  | "read"
  | "metadata"
  | "send"
  | "compose"
  | "modify"
  | "labels"
  | "labelsWrite"
  | "full";

const S = (s: string) => `https://www.googleapis.com/auth/${s}`;
const FULL = "https://mail.google.com/";
const ALLOWED: Record<Access, string[]> = {
  read: [S("gmail.readonly"), S("gmail.modify"), FULL],
  metadata: [S("gmail.readonly"), S("gmail.modify"), S("gmail.metadata"), FULL],
  send: [S("gmail.send"), S("gmail.compose"), S("gmail.modify"), FULL],
  compose: [S("gmail.compose"), S("gmail.modify"), FULL],
  modify: [S("gmail.modify"), FULL],
  labels: [S("gmail.readonly"), S("gmail.modify"), S("gmail.labels"), S("gmail.metadata"), FULL],
  labelsWrite: [S("gmail.labels"), S("gmail.modify"), FULL],
  full: [FULL],
};

interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: Uint8Array;
  grant: GoogleGrant;
}

interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

const ok = (body: unknown, status = 200): ApiResponse => ({ status, body });
const err = (e: ErrorResponse): ApiResponse => ({
  status: e.status,
  body: e.body,
  headers: e.headers,
});

function escapeSnippet(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  )
    .replace(/'/g, "&#39;");
}

/** Start the emulator on 127.0.0.1 (ephemeral port by default). */
export function startGmailEmulator(options: GmailEmulatorOptions): Promise<GmailEmulator> {
  const owner = options.owner ?? "ada@example.com";
  const now = options.now ?? Date.now;
  const mailbox = options.seed instanceof Mailbox
    ? options.seed
    : options.seed
    ? seedMailbox(new Mailbox({ owner, now }))
    : new Mailbox({ owner, now });
  let latency = options.latencyMs ?? 0;
  const maxJson = options.maxJsonBytes ?? 5 * 1024 * 1024;
  let requestCount = 0;
  let calls: LoggedCall[] = [];
  /** Pending faults; `match` limits one to API paths (path + query) it matches. */
  let faultQueue: { error: ErrorResponse; match?: RegExp }[] = [];
  let disabledProject: string | undefined;

  const faults: GmailFaults = {
    rateLimit(count, o = {}) {
      for (let i = 0; i < count; i++) {
        faultQueue.push({
          error: googleError.rateLimited(o.status ?? 429, o.retryAfterS),
          match: o.match,
        });
      }
    },
    serverError(count, status = 503, match) {
      for (let i = 0; i < count; i++) {
        faultQueue.push({ error: googleError.backend(status), match });
      }
    },
    apiDisabled(on, project = "123456789012") {
      disabledProject = on ? project : undefined;
    },
    clear() {
      faultQueue = [];
      disabledProject = undefined;
    },
  };

  // ---- resource shapes -------------------------------------------------------------------
  const attachmentId = (m: StoredMessage, partId: string) =>
    "ANGjdJ" + encodeBase64Url(new TextEncoder().encode(`${m.id}:${partId}`));

  function snippet(m: StoredMessage): string {
    return escapeSnippet(mailbox.view(m).text.replace(/\s+/g, " ").trim().slice(0, 200));
  }

  function messageResource(
    m: StoredMessage,
    format: string,
    metadataHeaders: string[],
  ): Record<string, unknown> {
    const base: Record<string, unknown> = {
      id: m.id,
      threadId: m.threadId,
      labelIds: [...m.labelIds],
      snippet: snippet(m),
      sizeEstimate: m.raw.length,
      historyId: String(m.historyId),
      internalDate: String(m.internalDate),
    };
    if (format === "minimal") return base;
    if (format === "raw") return { ...base, raw: encodeBase64Url(m.raw) };
    const root = mailbox.parsed(m);
    const payload = mimeToGmailPart(
      root,
      (partId, part) => part.filename ? attachmentId(m, partId) : undefined,
    );
    if (format === "metadata") {
      const want = metadataHeaders.map((h) => h.toLowerCase());
      return {
        ...base,
        payload: {
          partId: "",
          mimeType: payload.mimeType,
          filename: "",
          headers: want.length
            ? payload.headers!.filter((h) => want.includes(h.name.toLowerCase()))
            : payload.headers,
          body: { size: 0 },
        },
      };
    }
    return { ...base, payload };
  }

  function findMessage(id: string): StoredMessage | undefined {
    return mailbox.get(id);
  }

  function listMatching(q: URLSearchParams): StoredMessage[] {
    const query = compileQuery(q.get("q") ?? "");
    const labelIds = q.getAll("labelIds");
    const includeSpamTrash = q.get("includeSpamTrash") === "true" || query.mentionsTrashOrSpam ||
      labelIds.includes("TRASH") || labelIds.includes("SPAM");
    return mailbox.list().filter((m) =>
      (includeSpamTrash || (!m.labelIds.has("TRASH") && !m.labelIds.has("SPAM"))) &&
      labelIds.every((l) => m.labelIds.has(l)) && query.matches(mailbox, m)
    );
  }

  function page<T>(
    items: T[],
    q: URLSearchParams,
    def = 100,
  ): { slice: T[]; next?: string } | ErrorResponse {
    const max = Number(q.get("maxResults") ?? def);
    if (!Number.isInteger(max) || max < 1 || max > 500) {
      return googleError.invalidArgument("Invalid maxResults value");
    }
    let offset = 0;
    const tok = q.get("pageToken");
    if (tok) {
      offset = Number(new TextDecoder().decode(decodeBase64Lenient(tok)).replace(/^o:/, ""));
      if (!Number.isInteger(offset) || offset < 0) {
        return googleError.invalidArgument("Invalid pageToken");
      }
    }
    const slice = items.slice(offset, offset + max);
    const next = offset + max < items.length
      ? encodeBase64Url(new TextEncoder().encode(`o:${offset + max}`))
      : undefined;
    return { slice, next };
  }

  function labelResource(id: string, withCounts: boolean): Record<string, unknown> {
    const l = mailbox.labels.get(id)!;
    const out: Record<string, unknown> = { id: l.id, name: l.name, type: l.type };
    if (l.type === "user") {
      out.messageListVisibility = "show";
      out.labelListVisibility = "labelShow";
    }
    if (withCounts) {
      const msgs = mailbox.list().filter((m) => m.labelIds.has(id));
      const threads = new Set(msgs.map((m) => m.threadId));
      const unread = msgs.filter((m) => m.labelIds.has("UNREAD"));
      Object.assign(out, {
        messagesTotal: msgs.length,
        messagesUnread: unread.length,
        threadsTotal: threads.size,
        threadsUnread: new Set(unread.map((m) => m.threadId)).size,
      });
    }
    return out;
  }

  function parseJson(req: ApiRequest): { value?: Record<string, unknown>; error?: ErrorResponse } {
    if (req.body.length > maxJson) return { error: googleError.tooLarge(maxJson) };
    try {
      return { value: JSON.parse(new TextDecoder().decode(req.body) || "{}") };
    } catch {
      return { error: googleError.invalidArgument("Invalid JSON payload received.") };
    }
  }

  function rawFromJson(message: unknown): Uint8Array | ErrorResponse {
    const raw = (message as { raw?: unknown } | undefined)?.raw;
    if (typeof raw !== "string" || !raw) {
      return googleError.invalidArgument(
        "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
      );
    }
    try {
      return decodeBase64Lenient(raw);
    } catch {
      return googleError.invalidArgument("Invalid value for ByteString");
    }
  }

  function checkRecipients(raw: Uint8Array): ErrorResponse | undefined {
    const root = parseMime(raw);
    const any = ["to", "cc", "bcc"].some((h) =>
      root.headers.some((x) => x.name.toLowerCase() === h && x.value.trim())
    );
    return any ? undefined : googleError.invalidArgument("Recipient address required");
  }

  /** Upload bodies: media (raw) or multipart/related (JSON metadata + message/rfc822). */
  function uploadBody(
    req: ApiRequest,
  ): { raw: Uint8Array; meta: Record<string, unknown> } | ErrorResponse {
    const type = req.query.get("uploadType");
    if (type === "media") return { raw: req.body, meta: {} };
    if (type === "multipart") {
      const ct = req.headers.get("content-type") ?? "";
      const { params } = parseHeaderParams(ct);
      const head = new TextEncoder().encode(
        `Content-Type: multipart/related; boundary="${params.boundary}"\r\n\r\n`,
      );
      const all = new Uint8Array(head.length + req.body.length);
      all.set(head);
      all.set(req.body, head.length);
      const parts = parseMime(all).parts;
      if (parts.length !== 2) return googleError.invalidArgument("Invalid multipart upload");
      let meta: Record<string, unknown> = {};
      try {
        meta = JSON.parse(new TextDecoder().decode(parts[0].body) || "{}");
      } catch {
        return googleError.invalidArgument("Invalid JSON metadata");
      }
      return { raw: parts[1].body, meta };
    }
    return googleError.invalidArgument(
      `Unsupported uploadType ${type ?? "(none)"}; use media or multipart`,
    );
  }

  // ---- routing -----------------------------------------------------------------------------
  function access(method: string, rest: string, query: URLSearchParams): Access {
    if (rest === "profile") return "metadata";
    if (rest.startsWith("labels")) return method === "GET" ? "labels" : "labelsWrite";
    if (rest.startsWith("drafts")) return "compose";
    if (rest === "messages/send") return "send";
    if (method === "DELETE") return "full";
    if (method === "POST") return "modify";
    if (rest.startsWith("messages") || rest.startsWith("threads")) {
      const fmt = query.get("format");
      const isList = rest === "messages" || rest === "threads";
      if (isList && !query.get("q")) return "metadata";
      if (!isList && (fmt === "metadata" || fmt === "minimal")) return "metadata";
    }
    return "read";
  }

  function route(req: ApiRequest): ApiResponse {
    const upload = /^\/upload\/gmail\/v1\/users\/([^/]+)\/(messages\/send|drafts)$/.exec(req.path);
    const m = upload ?? /^\/gmail\/v1\/users\/([^/]+)\/(.+)$/.exec(req.path);
    if (!m) return err(googleError.notFound());
    const user = decodeURIComponent(m[1]);
    if (user !== "me" && user.toLowerCase() !== mailbox.owner.toLowerCase()) {
      return err({
        ...googleError.invalidArgument("Delegation denied for " + mailbox.owner),
        status: 403,
      });
    }
    const rest = m[2];
    if (disabledProject) return err(googleError.serviceDisabled(disabledProject));
    const need = access(req.method, rest, req.query);
    if (!ALLOWED[need].some((s) => req.grant.scopes.includes(s))) {
      return err(
        googleError.insufficientScope(
          `caribou.api.proto.MailboxService.${req.method}:${rest.split("/")[0]}`,
        ),
      );
    }
    const target = req.path + (req.query.size ? `?${req.query}` : "");
    const fi = faultQueue.findIndex((f) => !f.match || f.match.test(target));
    if (fi >= 0) return err(faultQueue.splice(fi, 1)[0].error);
    const seg = rest.split("/").map(decodeURIComponent);
    const q = req.query;
    const M = req.method;

    if (upload) {
      const u = uploadBody(req);
      if ("status" in u) return err(u);
      const bad = checkRecipients(u.raw);
      if (rest === "messages/send") {
        if (bad) return err(bad);
        const sent = mailbox.send(u.raw, { threadId: u.meta.threadId as string | undefined });
        return ok({ id: sent.id, threadId: sent.threadId, labelIds: [...sent.labelIds] });
      }
      const msgMeta = (u.meta.message ?? {}) as { threadId?: string };
      const d = mailbox.createDraft(u.raw, msgMeta.threadId);
      return ok({
        id: d.draftId,
        message: { id: d.message.id, threadId: d.message.threadId, labelIds: ["DRAFT"] },
      });
    }

    // profile
    if (rest === "profile" && M === "GET") {
      const msgs = mailbox.list();
      return ok({
        emailAddress: mailbox.owner,
        messagesTotal: msgs.length,
        threadsTotal: new Set(msgs.map((x) => x.threadId)).size,
        historyId: String(mailbox.historyId),
      });
    }

    // messages
    if (seg[0] === "messages") {
      if (seg.length === 1 && M === "GET") {
        const p = page(listMatching(q), q);
        if ("status" in p) return err(p);
        return ok({
          ...(p.slice.length
            ? { messages: p.slice.map((x) => ({ id: x.id, threadId: x.threadId })) }
            : {}),
          ...(p.next ? { nextPageToken: p.next } : {}),
          resultSizeEstimate: p.slice.length,
        });
      }
      if (seg[1] === "send" && seg.length === 2 && M === "POST") {
        const j = parseJson(req);
        if (j.error) return err(j.error);
        const raw = rawFromJson(j.value);
        if (!(raw instanceof Uint8Array)) return err(raw);
        const bad = checkRecipients(raw);
        if (bad) return err(bad);
        const sent = mailbox.send(raw, { threadId: j.value!.threadId as string | undefined });
        return ok({ id: sent.id, threadId: sent.threadId, labelIds: [...sent.labelIds] });
      }
      if (seg[1] === "batchModify" && M === "POST") {
        const j = parseJson(req);
        if (j.error) return err(j.error);
        const { ids = [], addLabelIds = [], removeLabelIds = [] } = j.value as Record<
          string,
          string[]
        >;
        for (const l of [...addLabelIds, ...removeLabelIds]) {
          if (!mailbox.labels.has(l)) {
            return err(googleError.invalidArgument(`Invalid label: ${l}`));
          }
        }
        for (const id of ids) {
          const msg = findMessage(id);
          if (!msg) continue;
          addLabelIds.forEach((l) => msg.labelIds.add(l));
          removeLabelIds.forEach((l) => msg.labelIds.delete(l));
          msg.historyId = mailbox.nextHistoryId();
        }
        return { status: 204 };
      }
      const msg = seg[1] ? findMessage(seg[1]) : undefined;
      if (!msg) {
        return err(
          seg[1] && /^[0-9a-f]+$/i.test(seg[1])
            ? googleError.notFound()
            : googleError.invalidArgument("Invalid id value"),
        );
      }
      if (seg.length === 2 && M === "GET") {
        const format = q.get("format") ?? "full";
        if (!["full", "metadata", "minimal", "raw"].includes(format)) {
          return err(googleError.invalidArgument(`Invalid value at 'format' (${format})`));
        }
        return ok(messageResource(msg, format, q.getAll("metadataHeaders")));
      }
      if (seg.length === 2 && M === "DELETE") {
        mailbox.messages.delete(msg.id);
        return { status: 204 };
      }
      if (seg[2] === "modify" && M === "POST") {
        const j = parseJson(req);
        if (j.error) return err(j.error);
        const { addLabelIds = [], removeLabelIds = [] } = j.value as Record<string, string[]>;
        for (const l of [...addLabelIds, ...removeLabelIds]) {
          if (!mailbox.labels.has(l)) {
            return err(googleError.invalidArgument(`Invalid label: ${l}`));
          }
        }
        addLabelIds.forEach((l) => msg.labelIds.add(l));
        removeLabelIds.forEach((l) => msg.labelIds.delete(l));
        msg.historyId = mailbox.nextHistoryId();
        return ok(messageResource(msg, "minimal", []));
      }
      if ((seg[2] === "trash" || seg[2] === "untrash") && M === "POST") {
        if (seg[2] === "trash") msg.labelIds.add("TRASH");
        else msg.labelIds.delete("TRASH");
        msg.historyId = mailbox.nextHistoryId();
        return ok(messageResource(msg, "minimal", []));
      }
      if (seg[2] === "attachments" && seg[3] && M === "GET") {
        let decoded = "";
        try {
          decoded = new TextDecoder().decode(decodeBase64Lenient(seg[3].replace(/^ANGjdJ/, "")));
        } catch { /* invalid id */ }
        const [mid, partId] = decoded.split(":");
        if (mid !== msg.id || partId === undefined) {
          return err(googleError.invalidArgument("Invalid attachment token"));
        }
        let part = mailbox.parsed(msg);
        for (const i of partId === "" ? [] : partId.split(".")) part = part.parts[Number(i)];
        if (!part) return err(googleError.notFound());
        return ok({
          attachmentId: seg[3],
          size: part.body.length,
          data: encodeBase64Url(part.body),
        });
      }
      return err(googleError.notFound());
    }

    // threads
    if (seg[0] === "threads") {
      if (seg.length === 1 && M === "GET") {
        const seen = new Map<string, StoredMessage>();
        for (const x of listMatching(q)) if (!seen.has(x.threadId)) seen.set(x.threadId, x);
        const p = page([...seen.values()], q);
        if ("status" in p) return err(p);
        return ok({
          ...(p.slice.length
            ? {
              threads: p.slice.map((x) => ({
                id: x.threadId,
                snippet: snippet(x),
                historyId: String(x.historyId),
              })),
            }
            : {}),
          ...(p.next ? { nextPageToken: p.next } : {}),
          resultSizeEstimate: p.slice.length,
        });
      }
      if (seg.length === 2 && M === "GET") {
        const msgs = mailbox.list().filter((x) => x.threadId === seg[1]).reverse();
        if (!msgs.length) return err(googleError.notFound());
        const format = q.get("format") ?? "full";
        if (format === "raw") {
          return err(googleError.invalidArgument("Invalid value at 'format' (raw)"));
        }
        return ok({
          id: seg[1],
          historyId: String(Math.max(...msgs.map((x) => x.historyId))),
          messages: msgs.map((x) => messageResource(x, format, q.getAll("metadataHeaders"))),
        });
      }
      return err(googleError.notFound());
    }

    // labels
    if (seg[0] === "labels") {
      if (seg.length === 1 && M === "GET") {
        return ok({ labels: [...mailbox.labels.keys()].map((id) => labelResource(id, false)) });
      }
      if (seg.length === 1 && M === "POST") {
        const j = parseJson(req);
        if (j.error) return err(j.error);
        const name = String(j.value!.name ?? "").trim();
        if (!name) return err(googleError.invalidArgument("Invalid label name"));
        if (mailbox.findLabel(name)) {
          return err(googleError.conflict("Label name exists or conflicts"));
        }
        return ok(labelResource(mailbox.addLabel(name), false));
      }
      if (seg.length === 2 && M === "GET") {
        if (!mailbox.labels.has(seg[1])) return err(googleError.notFound());
        return ok(labelResource(seg[1], true));
      }
      return err(googleError.notFound());
    }

    // drafts
    if (seg[0] === "drafts") {
      if (seg.length === 1 && M === "GET") {
        const all = [...mailbox.drafts.entries()].reverse();
        const p = page(all, q);
        if ("status" in p) return err(p);
        return ok({
          ...(p.slice.length
            ? {
              drafts: p.slice.map(([id, mid]) => ({
                id,
                message: { id: mid, threadId: mailbox.get(mid)?.threadId },
              })),
            }
            : {}),
          ...(p.next ? { nextPageToken: p.next } : {}),
          resultSizeEstimate: p.slice.length,
        });
      }
      if (seg.length === 1 && M === "POST") {
        const j = parseJson(req);
        if (j.error) return err(j.error);
        const message = j.value!.message as { raw?: string; threadId?: string } | undefined;
        const raw = rawFromJson(message);
        if (!(raw instanceof Uint8Array)) return err(raw);
        const d = mailbox.createDraft(raw, message?.threadId);
        return ok({
          id: d.draftId,
          message: { id: d.message.id, threadId: d.message.threadId, labelIds: ["DRAFT"] },
        });
      }
      if (seg[1] === "send" && M === "POST") {
        const j = parseJson(req);
        if (j.error) return err(j.error);
        const id = String(j.value!.id ?? "");
        const mid = mailbox.drafts.get(id);
        const msg = mid ? mailbox.get(mid) : undefined;
        if (!msg) return err(googleError.notFound());
        const bad = checkRecipients(msg.raw);
        if (bad) return err(bad);
        mailbox.drafts.delete(id);
        msg.labelIds.delete("DRAFT");
        msg.labelIds.add("SENT");
        msg.historyId = mailbox.nextHistoryId();
        const bcc = parseMime(msg.raw).headers.find((h) => h.name.toLowerCase() === "bcc")?.value ??
          "";
        mailbox.recordDelivery(msg, bcc);
        return ok({ id: msg.id, threadId: msg.threadId, labelIds: [...msg.labelIds] });
      }
      if (seg.length === 2 && M === "GET") {
        const mid = mailbox.drafts.get(seg[1]);
        const msg = mid ? mailbox.get(mid) : undefined;
        if (!msg) return err(googleError.notFound());
        return ok({
          id: seg[1],
          message: messageResource(msg, q.get("format") ?? "full", q.getAll("metadataHeaders")),
        });
      }
      if (seg.length === 2 && M === "DELETE") {
        const mid = mailbox.drafts.get(seg[1]);
        if (!mid) return err(googleError.notFound());
        mailbox.drafts.delete(seg[1]);
        mailbox.messages.delete(mid);
        return { status: 204 };
      }
      return err(googleError.notFound());
    }
    return err(googleError.notFound());
  }

  function authenticate(headers: Headers): GoogleGrant | ErrorResponse {
    const auth = headers.get("authorization") ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) return googleError.unauthenticated();
    const check = options.googleTokens.validate(m[1]);
    return check.ok ? check.grant : googleError.unauthenticated();
  }

  function handleApi(
    method: string,
    target: string,
    headers: Headers,
    body: Uint8Array,
    batched: boolean,
  ): ApiResponse {
    const url = new URL(target, "http://emulator");
    const grant = authenticate(headers);
    let res: ApiResponse;
    if ("status" in grant) res = err(grant);
    else {
      try {
        res = route({ method, path: url.pathname, query: url.searchParams, headers, body, grant });
      } catch (e) {
        console.error("gmail emulator error", e);
        res = err(googleError.backend(500));
      }
    }
    calls.push({ method, path: url.pathname + url.search, batched, status: res.status });
    return res;
  }

  function toResponse(r: ApiResponse): Response {
    const headers = new Headers({ ...(r.headers ?? {}) });
    if (r.body === undefined) return new Response(null, { status: r.status, headers });
    headers.set("content-type", "application/json; charset=UTF-8");
    return new Response(JSON.stringify(r.body), { status: r.status, headers });
  }

  async function handler(request: Request): Promise<Response> {
    requestCount++;
    const body = new Uint8Array(await request.arrayBuffer());
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    const url = new URL(request.url);
    if (url.pathname === "/batch/gmail/v1" || url.pathname === "/batch") {
      if (request.method !== "POST") return toResponse(err(googleError.methodNotAllowed()));
      const outerAuth = authenticate(request.headers);
      if ("status" in outerAuth) return toResponse(err(outerAuth));
      const items = parseBatchRequest(request.headers.get("content-type") ?? "", body);
      if (items.length > 100) {
        return toResponse(
          err(googleError.invalidArgument("Too many requests in batch (max 100).")),
        );
      }
      const out = items.map((it) => {
        const h = new Headers(request.headers);
        h.delete("content-type");
        h.delete("content-length");
        for (const [k, v] of Object.entries(it.headers ?? {})) h.set(k, v);
        const r = handleApi(it.method, it.path, h, new TextEncoder().encode(it.body ?? ""), true);
        const rh: Record<string, string> = { ...(r.headers ?? {}) };
        if (r.body !== undefined) rh["Content-Type"] = "application/json; charset=UTF-8";
        return {
          id: it.id,
          status: r.status,
          headers: rh,
          body: r.body === undefined ? "" : JSON.stringify(r.body),
        };
      });
      const enc = encodeBatchResponse(out);
      return new Response(enc.body as Uint8Array<ArrayBuffer>, {
        status: 200,
        headers: { "content-type": enc.contentType },
      });
    }
    return toResponse(
      handleApi(request.method, url.pathname + url.search, request.headers, body, false),
    );
  }

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    onListen() {},
    ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
  }, handler);
  const addr = server.addr as Deno.NetAddr;
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${addr.port}`;
  return Promise.resolve({
    url,
    async close() {
      await server.shutdown();
    },
    get requestCount() {
      return requestCount;
    },
    get calls() {
      return calls;
    },
    faults,
    mailbox,
    setLatency(ms: number) {
      latency = ms;
    },
    resetCounters() {
      requestCount = 0;
      calls = [];
    },
  });
}
