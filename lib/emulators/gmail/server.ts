/**
 * A loopback Gmail REST API emulator: messages, threads, labels, drafts, attachments, profile,
 * the upload endpoint and the batch endpoint, with Google's exact error shapes, bearer-token and
 * scope checks against a {@link GoogleTokenRegistry}, per-request latency and fault injection.
 * Where the reference is silent the emulator guesses; every guess is listed in
 * `lib/emulators/GUESSES.md` ("Gmail API emulator").
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
import { classify, METADATA_SCOPE, type MethodInfo } from "./access.ts";
import { type ApiRequest, type ApiResponse, type Ctx, err, type UploadSession } from "./api.ts";
import { encodeBatchAnswer, readBatch } from "./batch.ts";
import { type ErrorResponse, googleError } from "./google_errors.ts";
import { Mailbox } from "./mailbox.ts";
import { dispatch } from "./routes/table.ts";
import { uploadRoutes } from "./routes/upload.ts";
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

  const ctx: Ctx = {
    mailbox,
    maxJson,
    baseUrl: () => baseUrl,
    sessions: new Map<string, UploadSession>(),
  };

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

  /**
   * One API call: find the user and method, authorise and meter it, apply a pending fault,
   * then hand it to the route table.
   */
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
    if (upload) {
      if (req.method !== "POST" && !(req.method === "PUT" && req.query.get("upload_id"))) {
        return err(googleError.methodNotAllowed());
      }
      return dispatch(ctx, req, rest, uploadRoutes);
    }
    return dispatch(ctx, req, rest);
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
    // The API's batch path and the discovery document's `batchPath` ("batch").
    if (url.pathname === "/batch/gmail/v1" || url.pathname === "/batch") {
      if (request.method !== "POST") return toResponse(err(googleError.methodNotAllowed()));
      return batch(request.headers, body);
    }
    return toResponse(
      handleApi(request.method, url.pathname + url.search, request.headers, body, false),
    );
  }

  /**
   * A batch (reference §4.2). No outer authentication: each part is authorised on its own
   * (outer headers, except Content-*, apply to every part and a part's own headers override
   * them), so a bad token yields 200 with a 401 in every part.
   */
  function batch(outer: Headers, body: Uint8Array): Response {
    const read = readBatch(outer.get("content-type") ?? "", body);
    if ("error" in read) return toResponse(err(googleError.badBatch(read.error)));
    if (read.parts.length > 100) {
      return toResponse(err(googleError.invalidArgument("Too many requests in batch (max 100).")));
    }
    // The outer headers every part inherits, built once; a part with headers of its own gets
    // its own copy (the routes only read them).
    const inherited = new Headers();
    for (const [k, v] of outer) if (!k.startsWith("content-")) inherited.set(k, v);
    const answers = read.parts.map((it) => {
      const own = Object.entries(it.headers);
      const h = own.length ? new Headers(inherited) : inherited;
      for (const [k, v] of own) h.set(k, v);
      const r = handleApi(it.method, it.target, h, it.body, true);
      const rh: Record<string, string> = { ...(r.headers ?? {}) };
      if (r.body !== undefined) rh["Content-Type"] = "application/json; charset=UTF-8";
      return {
        id: it.id,
        status: r.status,
        headers: rh,
        body: r.body === undefined ? "" : jsonText(r),
      };
    });
    const enc = encodeBatchAnswer(answers);
    return new Response(enc.body, { status: 200, headers: { "content-type": enc.contentType } });
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
