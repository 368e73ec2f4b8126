/**
 * The My Account API (`/me/v1/connected-accounts/…`) of the Auth0 tenant emulator, plus the
 * `connect_uri` consent page it hands out. Bearer tokens are the emulator's RS256 JWTs with
 * audience `https://{domain}/me/`; errors are RFC 7807 problem+json (auth0.md section 2).
 *
 * @example
 * ```ts
 * // Served by startAuth0Emulator(); see ./server.ts.
 * ```
 * @module
 */
import { callbackAllowed, type Ctx, json, problem, s256 } from "./context.ts";
import { consentPage, errorPage } from "./pages.ts";
import { type ConnectSession, randomAlnum, randomId } from "./state.ts";
import { mintGoogle } from "./token.ts";

const CONNECT_KEYS = new Set([
  "connection",
  "redirect_uri",
  "state",
  "code_challenge",
  "code_challenge_method",
  "scopes",
  "authorization_params",
]);
const AUTH_PARAM_KEYS = new Set([
  "acr_values",
  "audience",
  "resource",
  "id_token_hint",
  "login_hint",
  "max_age",
  "ui_locales",
  "display",
  "prompt",
]);

const ENUMS: Record<string, readonly string[]> = {
  display: ["page", "popup", "touch", "wap"],
  prompt: ["none", "login", "consent", "select_account"],
};

interface Caller {
  userId: string;
  scopes: string[];
}

async function bearer(ctx: Ctx, req: Request): Promise<Caller | Response> {
  const h = req.headers.get("authorization") ?? "";
  // DPoP-bound tokens are accepted (scheme `Bearer-DPoP`); the emulator does not check proofs.
  const m = /^(?:Bearer|DPoP)\s+(\S+)$/i.exec(h);
  if (!m) return problem(401, "Unauthorized", "Missing or malformed Authorization header.");
  const claims = await ctx.signer.verify(m[1], ctx.meAudience);
  if (!claims || typeof claims.sub !== "string") {
    return problem(401, "Unauthorized", "Invalid token.");
  }
  const scopes = typeof claims.scope === "string" ? claims.scope.split(" ") : [];
  return { userId: claims.sub, scopes };
}

function insufficientScope(scope: string): Response {
  return problem(403, "Forbidden", `Insufficient scope, expected any of: ${scope}`);
}

function invalid(detail: string, field: string): Response {
  return problem(400, "Bad Request", detail, {
    validation_errors: [{ detail, field, pointer: `/${field}`, source: "body" }],
  });
}

/**
 * A `/connect` refused for a tenant setting. [guess] The docs say only "problem+json 400/403";
 * the shape is a switchable variant (GUESSES.md).
 */
function refused(ctx: Ctx, detail: string, field: string): Response {
  switch (ctx.state.guesses.connectRefusal) {
    case "detail_only":
      return problem(400, "Bad Request", detail);
    case "forbidden":
      return problem(403, "Forbidden", "The request is not allowed.");
    default:
      return invalid(detail, field);
  }
}

async function readJson(req: Request): Promise<Record<string, unknown> | Response> {
  const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    return problem(415, "Unsupported Media Type", "Content-Type must be application/json.");
  }
  try {
    const v = await req.json();
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch { /* fall through */ }
  return problem(400, "Bad Request", "The request body is not valid JSON.");
}

/** Route a `/me/v1/connected-accounts/…` request; undefined when the path is not ours. */
export async function handleMyAccount(
  ctx: Ctx,
  req: Request,
  path: string,
): Promise<Response | undefined> {
  const prefix = "/me/v1/connected-accounts";
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.slice(prefix.length);
  const caller = await bearer(ctx, req);
  if (caller instanceof Response) return caller;
  if (rest === "/connect" && req.method === "POST") return connect(ctx, req, caller);
  if (rest === "/complete" && req.method === "POST") return complete(ctx, req, caller);
  if (rest === "/accounts" && req.method === "GET") return listAccounts(ctx, req, caller);
  if (rest === "/connections" && req.method === "GET") return listConnections(ctx, req, caller);
  const del = /^\/accounts\/([^/]+)$/.exec(rest);
  if (del && req.method === "DELETE") return deleteAccount(ctx, caller, decodeURIComponent(del[1]));
  return problem(404, "Not Found", "The requested resource does not exist.");
}

async function connect(ctx: Ctx, req: Request, caller: Caller): Promise<Response> {
  if (!caller.scopes.includes("create:me:connected_accounts")) {
    return insufficientScope("create:me:connected_accounts");
  }
  const body = await readJson(req);
  if (body instanceof Response) return body;
  for (const k of Object.keys(body)) {
    if (!CONNECT_KEYS.has(k)) return invalid(`Additional property '${k}' is not allowed.`, k);
  }
  const { connection, redirect_uri, state, code_challenge, code_challenge_method, scopes } = body;
  // Not in the reference: the order of these checks (scope before body) and the wording of
  // `detail`; statuses and the problem+json shape are documented.
  if (typeof connection !== "string" || connection.length < 1 || connection.length > 128) {
    return invalid("connection is required (1-128 characters).", "connection");
  }
  if (typeof redirect_uri !== "string" || redirect_uri.length > 2048) {
    return invalid("redirect_uri is required.", "redirect_uri");
  }
  if (state !== undefined && (typeof state !== "string" || !state.length || state.length > 4096)) {
    return invalid("state must be 1-4096 characters.", "state");
  }
  if (code_challenge_method !== undefined && code_challenge_method !== "S256") {
    return invalid("code_challenge_method must be S256.", "code_challenge_method");
  }
  if (code_challenge !== undefined) {
    if (
      typeof code_challenge !== "string" || code_challenge.length < 43 ||
      code_challenge.length > 128
    ) {
      return invalid("code_challenge must be 43-128 characters.", "code_challenge");
    }
    if (code_challenge_method !== "S256") {
      return invalid("code_challenge_method must be S256.", "code_challenge_method");
    }
  }
  if (
    scopes !== undefined &&
    (!Array.isArray(scopes) || !scopes.length || scopes.length > 100 ||
      !scopes.every((s) => typeof s === "string" && s.length && s.length <= 255) ||
      new Set(scopes).size !== scopes.length)
  ) {
    return invalid("scopes must be an array of 1-100 unique strings (1-255 characters).", "scopes");
  }
  const ap = body.authorization_params;
  if (ap !== undefined) {
    if (!ap || typeof ap !== "object" || Array.isArray(ap)) {
      return invalid("authorization_params must be an object.", "authorization_params");
    }
    for (const [k, v] of Object.entries(ap)) {
      if (!AUTH_PARAM_KEYS.has(k)) {
        return invalid(`Additional property '${k}' is not allowed.`, `authorization_params/${k}`);
      }
      const allowed = ENUMS[k];
      if (allowed && !allowed.includes(v as string)) {
        return invalid(`${k} must be one of ${allowed.join(", ")}.`, `authorization_params/${k}`);
      }
    }
  }
  if (!ctx.state.config.connectedAccountsConnections.includes(connection)) {
    return refused(
      ctx,
      `The connection '${connection}' is not enabled for Connected Accounts.`,
      "connection",
    );
  }
  if (!callbackAllowed(ctx.client, redirect_uri)) {
    return refused(
      ctx,
      "The redirect_uri is not in the application's Allowed Callback URLs.",
      "redirect_uri",
    );
  }
  const ttl = ctx.state.config.connectTicketTtlS;
  const session: ConnectSession = {
    authSession: randomId(32),
    ticket: randomId(24),
    userId: caller.userId,
    clientId: ctx.client.clientId,
    connection,
    redirectUri: redirect_uri,
    state: state as string | undefined,
    codeChallenge: code_challenge as string | undefined,
    // Not in the reference: without `scopes` the connection's configured scopes apply; the
    // emulated connection's are `openid profile`.
    scopes: (scopes as string[] | undefined) ?? ["openid", "profile"],
    expiresAt: ctx.state.now() + ttl * 1000,
    completed: false,
  };
  ctx.state.connectSessions.set(session.authSession, session);
  return json(201, {
    auth_session: session.authSession,
    connect_uri: `${ctx.base}/connect`,
    connect_params: { ticket: session.ticket },
    expires_in: ttl,
  });
}

async function complete(ctx: Ctx, req: Request, caller: Caller): Promise<Response> {
  if (!caller.scopes.includes("create:me:connected_accounts")) {
    return insufficientScope("create:me:connected_accounts");
  }
  const body = await readJson(req);
  if (body instanceof Response) return body;
  const { auth_session, connect_code, redirect_uri, code_verifier } = body;
  if (typeof auth_session !== "string" || !auth_session) {
    return invalid("auth_session is required.", "auth_session");
  }
  if (typeof connect_code !== "string" || !connect_code || connect_code.length > 46) {
    return invalid("connect_code is required (1-46 characters).", "connect_code");
  }
  if (typeof redirect_uri !== "string") return invalid("redirect_uri is required.", "redirect_uri");
  if (
    code_verifier !== undefined &&
    (typeof code_verifier !== "string" || code_verifier.length < 43 || code_verifier.length > 128)
  ) {
    return invalid("code_verifier must be 43-128 characters.", "code_verifier");
  }
  // Not in the reference: which status each dead-flow case gets; 409 (documented "conflict with
  // current state") for a completed session, 400 for the rest.
  const now = ctx.state.now();
  const s = ctx.state.connectSessions.get(auth_session);
  if (!s || s.userId !== caller.userId || s.expiresAt <= now) {
    return problem(400, "Bad Request", "The auth_session is invalid or expired.");
  }
  if (s.completed) return problem(409, "Conflict", "The connect request was already completed.");
  if (!s.connectCode || s.connectCode !== connect_code || (s.connectCodeExpiresAt ?? 0) <= now) {
    return problem(400, "Bad Request", "The connect_code is invalid or expired.");
  }
  if (redirect_uri !== s.redirectUri) {
    return problem(400, "Bad Request", "The redirect_uri does not match the one used in /connect.");
  }
  if (s.codeChallenge) {
    if (typeof code_verifier !== "string" || (await s256(code_verifier)) !== s.codeChallenge) {
      return problem(400, "Bad Request", "Failed to verify the code_verifier.");
    }
  }
  s.completed = true;
  // Whether a provider refresh token was stored (connection Offline Access, checklist #11). The
  // response does not tell: `access_type` is always "offline" (auth0.md 2.4).
  const offline = ctx.state.config.connectionOfflineAccess;
  ctx.state.accounts = ctx.state.accounts.filter((a) =>
    !(a.userId === s.userId && a.connection === s.connection)
  );
  const account = {
    id: "cac_" + randomAlnum(20),
    userId: s.userId,
    connection: s.connection,
    scopes: s.scopes,
    createdAt: now,
    offline,
  };
  mintGoogle(ctx, account);
  ctx.state.accounts.push(account);
  return json(201, {
    id: account.id,
    connection: account.connection,
    access_type: "offline",
    scopes: account.scopes,
    created_at: new Date(now).toISOString(),
  });
}

/**
 * `from` (an opaque cursor: here an offset) and `take` (1-20, default 10). Not in the
 * reference: the answer to an out-of-range `take` or a bad cursor (a 400 validation error).
 */
function paging<T>(
  q: URLSearchParams,
  all: T[],
): { items: T[]; next?: string } | Response {
  const rawTake = q.get("take");
  const take = rawTake === null ? 10 : Number(rawTake);
  if (!Number.isInteger(take) || take < 1 || take > 20) {
    return problem(400, "Bad Request", "take must be an integer from 1 to 20.", {
      validation_errors: [{ detail: "take must be 1-20.", field: "take", source: "query" }],
    });
  }
  const rawFrom = q.get("from");
  const from = rawFrom === null ? 0 : Number(rawFrom);
  if (!Number.isInteger(from) || from < 0) {
    return problem(400, "Bad Request", "from is not a valid cursor.", {
      validation_errors: [{ detail: "Invalid cursor.", field: "from", source: "query" }],
    });
  }
  const items = all.slice(from, from + take);
  return from + take < all.length ? { items, next: String(from + take) } : { items };
}

function listAccounts(ctx: Ctx, req: Request, caller: Caller): Response {
  if (!caller.scopes.includes("read:me:connected_accounts")) {
    return insufficientScope("read:me:connected_accounts");
  }
  const q = new URL(req.url).searchParams;
  const connections = q.getAll("connection");
  const all = ctx.state.accounts.filter((a) =>
    a.userId === caller.userId && (!connections.length || connections.includes(a.connection))
  );
  const page = paging(q, all);
  if (page instanceof Response) return page;
  return json(200, {
    accounts: page.items.map((a) => ({
      id: a.id,
      connection: a.connection,
      access_type: "offline",
      scopes: a.scopes,
      created_at: new Date(a.createdAt).toISOString(),
    })),
    ...(page.next ? { next: page.next } : {}),
  });
}

function listConnections(ctx: Ctx, req: Request, caller: Caller): Response {
  if (!caller.scopes.includes("read:me:connected_accounts")) {
    return insufficientScope("read:me:connected_accounts");
  }
  const page = paging(new URL(req.url).searchParams, ctx.state.config.connectedAccountsConnections);
  if (page instanceof Response) return page;
  return json(200, {
    // Not in the reference: `strategy` of a custom connection name; the emulator echoes the name.
    connections: page.items.map((name) => ({ name, strategy: name })),
    ...(page.next ? { next: page.next } : {}),
  });
}

function deleteAccount(ctx: Ctx, caller: Caller, id: string): Response {
  if (!caller.scopes.includes("delete:me:connected_accounts")) {
    return insufficientScope("delete:me:connected_accounts");
  }
  if (!/^cac_[A-Za-z0-9]+$/.test(id)) return invalid("id must match ^cac_[A-Za-z0-9]+$.", "id");
  const account = ctx.state.accounts.find((a) => a.id === id && a.userId === caller.userId);
  // Not in the reference: the status for an unknown id.
  if (!account) return problem(404, "Not Found", "The connected account does not exist.");
  ctx.state.accounts = ctx.state.accounts.filter((a) => a !== account);
  // Deleting removes the tokens from the Vault; it does not revoke them at the provider.
  return new Response(null, { status: 204 });
}

/** `GET {connect_uri}?ticket=…`: the consent page. */
export function connectPage(ctx: Ctx, url: URL): Response {
  const ticket = url.searchParams.get("ticket") ?? "";
  const s = ctx.state.sessionByTicket(ticket);
  if (!s || s.expiresAt <= ctx.state.now() || s.completed) {
    return html(400, errorPage("Invalid ticket", "This connect link is invalid or has expired."));
  }
  const user = ctx.state.user(s.userId)!;
  const q = `ticket=${encodeURIComponent(ticket)}`;
  return html(
    200,
    consentPage({
      connection: s.connection,
      email: user.email,
      scopes: s.scopes,
      approveUrl: `/connect/approve?${q}`,
      denyUrl: `/connect/approve?${q}&deny=1`,
    }),
  );
}

/** `GET|POST /connect/approve?ticket=…[&deny=1]`: the user's decision; redirects back. */
export function connectApprove(ctx: Ctx, url: URL): Response {
  const ticket = url.searchParams.get("ticket") ?? "";
  const s = ctx.state.sessionByTicket(ticket);
  const now = ctx.state.now();
  if (!s || s.expiresAt <= now || s.completed) {
    return html(400, errorPage("Invalid ticket", "This connect link is invalid or has expired."));
  }
  const back = new URL(s.redirectUri);
  if (url.searchParams.get("deny")) {
    // Not in the reference: what a denied consent sends back; OAuth's `error=access_denied`.
    back.searchParams.set("error", "access_denied");
    back.searchParams.set("error_description", "The user denied the connection.");
  } else {
    s.connectCode = randomAlnum(32);
    s.connectCodeExpiresAt = now + ctx.state.config.codeTtlS * 1000;
    back.searchParams.set("connect_code", s.connectCode);
  }
  if (s.state) back.searchParams.set("state", s.state);
  return new Response(null, { status: 302, headers: { location: back.href } });
}

/** An HTML response. */
export function html(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
  });
}
