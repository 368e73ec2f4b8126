/**
 * The agent's session API (reference sections 4.1 and 4.2): `POST /v1/sessions` with its checks
 * in the real order (API key after JSON decoding, then the schema, the public key, the
 * template, the callback URL, the OAuth provider; `checkCreate` in `lib/broker/protocol.ts`)
 * and the poll with slow_down and the one-time `ready`, on the emulator's in-memory state.
 *
 * @example
 * ```ts
 * import { sessionRoutes } from "./sessions.ts";
 * import type { Ctx } from "./context.ts";
 * declare const ctx: Ctx;
 * const routes = sessionRoutes(ctx); // routes.create(req), routes.poll(req, id)
 * ```
 * @module
 */
import { checkApiKey, type Ctx, notFound, readJson } from "./context.ts";
import { safeEqual } from "../../broker/problem.ts";
import {
  badPollToken,
  checkCreate,
  createdBody,
  newSession,
  pollBody,
  pollUnauthorized,
  providerError,
  slowDown,
} from "../../broker/protocol.ts";

export { providerError };

/** Session creation and polling on `ctx`. */
export function sessionRoutes(ctx: Ctx): {
  create(req: Request): Promise<Response>;
  poll(req: Request, id: string): Response;
} {
  const { now } = ctx;
  const { pollInterval, defaultTtl, maxTtl, providers } = ctx.config;

  const createSession = async (req: Request): Promise<Response> => {
    const decoded = await readJson(req);
    if (decoded instanceof Response) return decoded;
    const key = checkApiKey(ctx, req);
    if (key instanceof Response) return key;
    const checked = await checkCreate(decoded.body, {
      hasProvider: (id) => !!providers[id],
      allowedHosts: ctx.config.allowedHosts,
    });
    if (checked instanceof Response) return checked;
    const { body } = checked;
    const ttl = Math.min(body.ttl || defaultTtl, maxTtl);
    const { code, sessionId } = await ctx.sessions.newCode();
    const t = now();
    const s = newSession(checked, {
      sessionId,
      code,
      apiKey: typeof key === "string" ? key : undefined,
      createdAt: t,
      expiresAt: t + ttl * 1000,
    });
    ctx.sessions.add(s);
    return createdBody(s, ctx.base, pollInterval);
  };

  /** Poll: API key, Bearer, 404, 403, slow_down, then the one-time `ready` (section 4.2). */
  const poll = (req: Request, id: string): Response => {
    const key = checkApiKey(ctx, req);
    if (key instanceof Response) return key;
    const auth = req.headers.get("authorization");
    if (!auth || !auth.startsWith("Bearer ")) return pollUnauthorized();
    const s = ctx.sessions.get(id);
    if (!s) return notFound();
    // deliberate: closes hole 11 — constant-time comparison.
    if (!safeEqual(auth.slice(7).trim(), s.pollToken)) return badPollToken();
    const t = now();
    // Strict `<` against the last ACCEPTED poll; a 429 does not move the timestamp.
    if (s.lastPoll !== undefined && t - s.lastPoll < pollInterval * 1000) {
      return slowDown(pollInterval);
    }
    s.lastPoll = t;
    s.pollCount++;
    if (s.status === "ready") {
      // deliberate: closes hole 17 — atomic in this single-threaded emulator: the ciphertext is
      // handed out exactly once.
      const { ciphertext, algorithm } = s;
      s.status = "consumed";
      s.consumedAt = t;
      s.ciphertext = undefined;
      s.lastPoll = undefined; // the real broker drops the slow_down entry on consumption
      return pollBody(s, pollInterval, { ciphertext, algorithm });
    }
    return pollBody(s, pollInterval);
  };

  return { create: createSession, poll };
}
