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
import { classify, METADATA_SCOPE, type MethodInfo } from "./access.ts";
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
  /**
   * Per-user quota in units per rolling minute (default 15 000, Gmail's per-user limit;
   * reference §4.3), or `false` to turn metering off.
   */
  userUnitsPerMinute?: number | false;
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
  /** `prettyPrint=false` was asked for. */
  compact?: boolean;
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
  /** The emulator's origin, for resumable session URIs (set once listening). */
  let baseUrl = "";

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
  // Reference §4.1: "Attachment IDs are not stable across fetches" — so each fetch mints a new
  // id (a nonce in it), and every id minted stays valid, so clients that cache one still work
  // within a session but clients that compare ids across fetches fail like they would on Gmail.
  const attachmentId = (m: StoredMessage, partId: string) =>
    "ANGjdJ" + encodeBase64Url(
      new TextEncoder().encode(`${m.id}:${partId}:${crypto.randomUUID().slice(0, 8)}`),
    );

  function snippet(m: StoredMessage): string {
    return escapeSnippet(mailbox.view(m).text.replace(/\s+/g, " ").trim().slice(0, 200));
  }

  function messageResource(
    m: StoredMessage,
    format: string,
    metadataHeaders: string[],
  ): Record<string, unknown> {
    // Google's JSON omits empty repeated fields: a message with no labels has no `labelIds`.
    const base: Record<string, unknown> = {
      id: m.id,
      threadId: m.threadId,
      ...(m.labelIds.size ? { labelIds: [...m.labelIds] } : {}),
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
      // The reference lists no exact fields for the metadata payload; this is the top-level
      // part without body data or children, headers filtered by `metadataHeaders`.
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

  /**
   * What modify/trash/untrash answer with: the reference says only "a Message"; Gmail returns
   * just `id`, `threadId` and `labelIds` (observed), so that is what the emulator sends.
   */
  function labelsOnly(m: StoredMessage): Record<string, unknown> {
    return {
      id: m.id,
      threadId: m.threadId,
      ...(m.labelIds.size ? { labelIds: [...m.labelIds] } : {}),
    };
  }

  /** A thread's messages, oldest first. */
  function threadMessages(threadId: string): StoredMessage[] {
    return mailbox.list().filter((x) => x.threadId === threadId).reverse();
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
  ): { slice: T[]; next?: string; total: number } | ErrorResponse {
    // Reference: default 100, max 500. Gmail silently caps larger values at 500 and treats 0
    // as the default (observed behaviour; the reference does not say); junk is a 400.
    const rawMax = q.get("maxResults");
    let max = Number(rawMax ?? def);
    if (!Number.isInteger(max) || max < 0) {
      return googleError.invalidArgument(
        `Invalid value at 'max_results' (TYPE_UINT32), "${rawMax}"`,
      );
    }
    if (max === 0) max = def;
    max = Math.min(max, 500);
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
    return { slice, next, total: items.length };
  }

  function labelResource(id: string, withCounts: boolean): Record<string, unknown> {
    const l = mailbox.labels.get(id)!;
    const out: Record<string, unknown> = { id: l.id, name: l.name, type: l.type };
    if (l.type === "user") {
      out.messageListVisibility = l.messageListVisibility ?? "show";
      out.labelListVisibility = l.labelListVisibility ?? "labelShow";
      if (l.color) out.color = l.color;
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
  /** A modify body (`ids`, `addLabelIds`, `removeLabelIds`), every label checked to exist. */
  function parseModify(
    req: ApiRequest,
  ): { ids: string[]; add: string[]; remove: string[]; error?: undefined } | {
    error: ErrorResponse;
  } {
    const j = parseJson(req);
    if (j.error) return { error: j.error };
    const { ids = [], addLabelIds = [], removeLabelIds = [] } = j.value as Record<
      string,
      string[]
    >;
    for (const l of [...addLabelIds, ...removeLabelIds]) {
      if (!mailbox.labels.has(l)) {
        return { error: googleError.invalidArgument(`Invalid label: ${l}`) };
      }
    }
    return { ids, add: addLabelIds, remove: removeLabelIds };
  }

  /** Apply a modify to messages, each getting a new history id. */
  function applyModify(msgs: Iterable<StoredMessage>, add: string[], remove: string[]): void {
    for (const m of msgs) {
      add.forEach((l) => m.labelIds.add(l));
      remove.forEach((l) => m.labelIds.delete(l));
      m.historyId = mailbox.nextHistoryId();
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

  /** Largest message accepted through `/upload/` (reference §4.1: 35 MB, `message/*`). */
  const MAX_UPLOAD = 35 * 1024 * 1024;
  /** Open resumable sessions: upload_id → metadata and bytes received so far. */
  const sessions = new Map<
    string,
    { target: string; meta: Record<string, unknown>; chunks: Uint8Array[]; received: number }
  >();

  function isMessageType(ct: string | null): boolean {
    return /^message\//i.test((ct ?? "").trim());
  }

  function unsupportedMedia(ct: string | null): ErrorResponse {
    return googleError.invalidArgument(
      `Media type '${ct ?? ""}' is not supported. Valid media types: [message/*]`,
    );
  }

  function parseMeta(
    bytes: Uint8Array,
  ): { meta: Record<string, unknown> } | { error: ErrorResponse } {
    try {
      return { meta: JSON.parse(new TextDecoder().decode(bytes) || "{}") };
    } catch {
      return { error: googleError.invalidArgument("Invalid JSON payload received.") };
    }
  }

  /**
   * Upload bodies (reference §4.1: `uploadType=media|multipart|resumable`): media is the raw
   * message; multipart is `multipart/related` with JSON metadata then the `message/rfc822`
   * part; resumable follows Google's generic resumable protocol (the reference names it but
   * does not spell it out): POST metadata → 200 + `Location` session URI, then PUT the bytes
   * (optionally in `Content-Range` chunks, answered 308 + `Range` until complete). Returns
   * `undefined` body when the upload is not complete yet (`pending` response).
   */
  function uploadBody(
    req: ApiRequest,
    target: string,
  ):
    | { raw: Uint8Array; meta: Record<string, unknown> }
    | { pending: ApiResponse }
    | ErrorResponse {
    const type = req.query.get("uploadType");
    if (req.body.length > MAX_UPLOAD) return googleError.tooLarge(MAX_UPLOAD);
    if (type === "media") {
      const ct = req.headers.get("content-type");
      if (!isMessageType(ct)) return unsupportedMedia(ct);
      return { raw: req.body, meta: {} };
    }
    if (type === "multipart") {
      const ct = req.headers.get("content-type") ?? "";
      const { value, params } = parseHeaderParams(ct);
      if (value.toLowerCase() !== "multipart/related" || !params.boundary) {
        return googleError.invalidArgument("Invalid multipart request with 0 mime parts.");
      }
      const head = new TextEncoder().encode(
        `Content-Type: multipart/related; boundary="${params.boundary}"\r\n\r\n`,
      );
      const all = new Uint8Array(head.length + req.body.length);
      all.set(head);
      all.set(req.body, head.length);
      const parts = parseMime(all).parts;
      if (parts.length !== 2) {
        return googleError.invalidArgument(
          `Invalid multipart request with ${parts.length} mime parts.`,
        );
      }
      if (!isMessageType(parts[1].mimeType)) return unsupportedMedia(parts[1].mimeType);
      const j = parseMeta(parts[0].body);
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
        const j = parseMeta(req.body);
        if ("error" in j) return j.error;
        const id = "ADPycd" + crypto.randomUUID().replace(/-/g, "");
        sessions.set(id, {
          target,
          meta: j.meta,
          chunks: [],
          received: 0,
        });
        const loc = `${baseUrl}${target}?uploadType=resumable&upload_id=${id}`;
        return { pending: { status: 200, headers: { location: loc, "x-guploader-uploadid": id } } };
      }
      const session = sessions.get(uploadId);
      if (!session || session.target !== target) return googleError.notFound();
      if (req.method !== "PUT" && req.method !== "POST") return googleError.methodNotAllowed();
      const range = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(
        req.headers.get("content-range") ?? "",
      );
      if (range && range[1] !== undefined && Number(range[1]) !== session.received) {
        return googleError.invalidArgument("Invalid request. Content-Range offset mismatch.");
      }
      session.chunks.push(req.body);
      session.received += req.body.length;
      if (session.received > MAX_UPLOAD) {
        sessions.delete(uploadId);
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
      sessions.delete(uploadId);
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

  // ---- routing -----------------------------------------------------------------------------
  /** Quota use per user: [epoch ms, units] within the last minute. */
  const usage = new Map<string, [number, number][]>();
  const unitsPerMinute = options.userUnitsPerMinute ?? 15_000;

  function charge(user: string, units: number): ErrorResponse | undefined {
    if (unitsPerMinute === false) return undefined;
    const t = Date.now();
    const log = (usage.get(user) ?? []).filter(([at]) => at > t - 60_000);
    usage.set(user, log);
    const used = log.reduce((n, [, u]) => n + u, 0);
    if (used + units > unitsPerMinute) return googleError.userQuota(log[0][0] + 60_000);
    log.push([t, units]);
    return undefined;
  }

  function authorize(req: ApiRequest, info: MethodInfo, user: string): ErrorResponse | undefined {
    const email = req.grant.email.toLowerCase();
    const owner = mailbox.owner.toLowerCase();
    if (user !== "me" && user.toLowerCase() !== email) {
      // Someone else's mailbox named explicitly: Gmail refuses (no domain-wide delegation).
      return googleError.forbidden(`Delegation denied for ${req.grant.email}`);
    }
    if (email !== owner) {
      // A valid token of another Google account: this emulator hosts one mailbox, so for it
      // the account has no Gmail here — Gmail's answer for an account without Gmail
      // (reference §4.3: 400 failedPrecondition "Mail service not enabled").
      return googleError.failedPrecondition("Mail service not enabled");
    }
    if (disabledProject) return googleError.serviceDisabled(disabledProject);
    const scopes = req.grant.scopes;
    if (!info.scopes.some((s) => scopes.includes(s))) {
      return googleError.insufficientScope(info.rpc, info.scopes);
    }
    if (
      info.metadataForbidden && scopes.includes(METADATA_SCOPE) &&
      !info.scopes.some((s) => s !== METADATA_SCOPE && scopes.includes(s))
    ) {
      return googleError.forbidden(info.metadataForbidden);
    }
    return charge(email, info.units);
  }

  function route(req: ApiRequest): ApiResponse {
    const upload = /^\/upload\/gmail\/v1\/users\/([^/]+)\/(messages\/send|drafts)$/.exec(
      req.path,
    );
    const m = upload ?? /^\/gmail\/v1\/users\/([^/]+)\/(.+)$/.exec(req.path);
    if (!m) return err(googleError.notFound());
    const user = decodeURIComponent(m[1]);
    const rest = m[2];
    const info = classify(upload ? "POST" : req.method, rest, req.query);
    const denied = authorize(req, info, user);
    if (denied) return err(denied);
    const target = req.path + (req.query.size ? `?${req.query}` : "");
    const fi = faultQueue.findIndex((f) => !f.match || f.match.test(target));
    if (fi >= 0) return err(faultQueue.splice(fi, 1)[0].error);
    const seg = rest.split("/").map(decodeURIComponent);
    const q = req.query;
    const M = req.method;

    if (upload) {
      if (M !== "POST" && !(M === "PUT" && q.get("upload_id"))) {
        return err(googleError.methodNotAllowed());
      }
      const u = uploadBody(req, req.path);
      if ("pending" in u) return u.pending;
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
          // "Estimated total number of results" — of the whole query, not of this page.
          resultSizeEstimate: p.total,
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
        const mod = parseModify(req);
        if (mod.error) return err(mod.error);
        // Reference §4.1: ids ≤ 1000. The message text is the emulator's guess.
        if (mod.ids.length > 1000) {
          return err(googleError.invalidArgument("Too many ids: at most 1000 are allowed."));
        }
        const found = mod.ids.map(findMessage).filter((m): m is StoredMessage => m !== undefined);
        applyModify(found, mod.add, mod.remove);
        return { status: 204 };
      }
      if (seg[1] === "batchDelete" && M === "POST") {
        const j = parseJson(req);
        if (j.error) return err(j.error);
        const ids = (j.value!.ids ?? []) as string[];
        if (ids.length > 1000) {
          return err(googleError.invalidArgument("Too many ids: at most 1000 are allowed."));
        }
        for (const id of ids) mailbox.messages.delete(id);
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
        const mod = parseModify(req);
        if (mod.error) return err(mod.error);
        applyModify([msg], mod.add, mod.remove);
        return ok(labelsOnly(msg));
      }
      if ((seg[2] === "trash" || seg[2] === "untrash") && M === "POST") {
        if (seg[2] === "trash") msg.labelIds.add("TRASH");
        else msg.labelIds.delete("TRASH");
        msg.historyId = mailbox.nextHistoryId();
        return ok(labelsOnly(msg));
      }
      if (seg[2] === "attachments" && seg[3] && M === "GET") {
        let decoded = "";
        try {
          decoded = new TextDecoder().decode(decodeBase64Lenient(seg[3].replace(/^ANGjdJ/, "")));
        } catch { /* invalid id */ }
        const [mid, partId] = decoded.split(":"); // `${messageId}:${partId}:${nonce}`
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
                historyId: String(
                  Math.max(...threadMessages(x.threadId).map((y) => y.historyId)),
                ),
              })),
            }
            : {}),
          ...(p.next ? { nextPageToken: p.next } : {}),
          // "Estimated total number of results" — of the whole query, not of this page.
          resultSizeEstimate: p.total,
        });
      }
      const msgs = threadMessages(seg[1] ?? "");
      if (!msgs.length) return err(googleError.notFound());
      if (seg.length === 2 && M === "DELETE") {
        for (const x of msgs) mailbox.messages.delete(x.id);
        return { status: 204 };
      }
      const threadResult = () => ({
        id: seg[1],
        messages: msgs.map((x) => labelsOnly(x)),
      });
      if (seg[2] === "modify" && M === "POST") {
        const mod = parseModify(req);
        if (mod.error) return err(mod.error);
        applyModify(msgs, mod.add, mod.remove);
        return ok(threadResult());
      }
      if ((seg[2] === "trash" || seg[2] === "untrash") && M === "POST") {
        for (const x of msgs) {
          if (seg[2] === "trash") x.labelIds.add("TRASH");
          else x.labelIds.delete("TRASH");
          x.historyId = mailbox.nextHistoryId();
        }
        return ok(threadResult());
      }
      if (seg.length === 2 && M === "GET") {
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
        const id = mailbox.addLabel(name);
        const l = mailbox.labels.get(id)!;
        for (const k of ["messageListVisibility", "labelListVisibility", "color"] as const) {
          if (j.value![k] !== undefined) Object.assign(l, { [k]: j.value![k] });
        }
        return ok(labelResource(id, false));
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
          // "Estimated total number of results" — of the whole query, not of this page.
          resultSizeEstimate: p.total,
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

  function authenticate(
    headers: Headers,
    method: string,
    path: string,
  ): GoogleGrant | ErrorResponse {
    const auth = headers.get("authorization") ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) {
      const rest = /\/users\/[^/]+\/(.+)$/.exec(path)?.[1] ?? "";
      return googleError.unauthenticated(
        "missing",
        classify(method, rest, new URLSearchParams()).rpc,
      );
    }
    const check = options.googleTokens.validate(m[1]);
    return check.ok ? check.grant : googleError.unauthenticated("invalid");
  }

  function handleApi(
    method: string,
    target: string,
    headers: Headers,
    body: Uint8Array,
    batched: boolean,
  ): ApiResponse {
    const url = new URL(target, "http://emulator");
    const grant = authenticate(headers, method, url.pathname);
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
    // Standard parameter `prettyPrint` (default true): Google indents JSON unless it is false.
    if (url.searchParams.get("prettyPrint") === "false") res.compact = true;
    return res;
  }

  function jsonText(r: ApiResponse): string {
    return r.compact ? JSON.stringify(r.body) : JSON.stringify(r.body, null, 2);
  }

  function toResponse(r: ApiResponse): Response {
    const headers = new Headers({ ...(r.headers ?? {}) });
    if (r.body === undefined) return new Response(null, { status: r.status, headers });
    headers.set("content-type", "application/json; charset=UTF-8");
    return new Response(jsonText(r), { status: r.status, headers });
  }

  async function handler(request: Request): Promise<Response> {
    requestCount++;
    const body = new Uint8Array(await request.arrayBuffer());
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    const url = new URL(request.url);
    // Only the API-specific batch path: Google turned the global `/batch` endpoint down (2020).
    if (url.pathname === "/batch/gmail/v1") {
      if (request.method !== "POST") return toResponse(err(googleError.methodNotAllowed()));
      // No outer authentication: each part is authorised on its own (outer headers, except
      // Content-*, apply to every part and a part's own headers override them — reference
      // §4.2), so a bad token yields 200 with a 401 in every part.
      const items = parseBatchRequest(request.headers.get("content-type") ?? "", body);
      if (items.length > 100) {
        return toResponse(
          err(googleError.invalidArgument("Too many requests in batch (max 100).")),
        );
      }
      const out = items.map((it) => {
        const h = new Headers();
        for (const [k, v] of request.headers) if (!k.startsWith("content-")) h.set(k, v);
        for (const [k, v] of Object.entries(it.headers ?? {})) h.set(k, v);
        const r = handleApi(it.method, it.path, h, new TextEncoder().encode(it.body ?? ""), true);
        const rh: Record<string, string> = { ...(r.headers ?? {}) };
        if (r.body !== undefined) rh["Content-Type"] = "application/json; charset=UTF-8";
        return {
          id: it.id,
          status: r.status,
          headers: rh,
          body: r.body === undefined ? "" : jsonText(r),
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
  baseUrl = url;
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
