/**
 * The browser side of a session (reference sections 4.3–4.5): the connect page's session info
 * with its security banner, confirm (which issues the connect token) and the form flow's
 * `/complete`, which stores the page's ciphertext verbatim.
 *
 * @example
 * ```ts
 * import { connectRoutes } from "./connect.ts";
 * import type { Ctx } from "./context.ts";
 * declare const ctx: Ctx;
 * const routes = connectRoutes(ctx); // routes.info, routes.confirm, routes.complete
 * ```
 * @module
 */
import { type Ctx, lookupForClient, tooMany } from "./context.ts";
import { json, safeEqual } from "../../broker/problem.ts";
import {
  alreadyConfirmed,
  badConnectToken,
  connectInfoBody,
  notCompletable,
  readComplete,
  securityBanner,
} from "../../broker/protocol.ts";
import { token } from "./state.ts";

/** The connect routes on `ctx`. */
export function connectRoutes(ctx: Ctx): {
  info(req: Request, code: string, client: string): Promise<Response>;
  confirm(code: string, client: string): Promise<Response>;
  complete(req: Request, code: string, client: string): Promise<Response>;
} {
  const connectInfo = async (req: Request, code: string, client: string): Promise<Response> => {
    if (ctx.limiter.perCodeLimited(client, code)) return tooMany();
    const found = await lookupForClient(ctx, code, client);
    if (found.error) return found.error;
    const security = securityBanner(req, ctx.base, req.headers.get("x-forwarded-proto"));
    return connectInfoBody(found.session, security);
  };

  const confirm = async (code: string, client: string): Promise<Response> => {
    if (ctx.limiter.perCodeLimited(client, code)) return tooMany();
    const found = await lookupForClient(ctx, code, client);
    if (found.error) return found.error;
    const s = found.session;
    if (s.status !== "pending") return alreadyConfirmed();
    s.status = "confirmed";
    s.connectToken = token("ct_");
    return json(200, { connect_token: s.connectToken });
  };

  const complete = async (req: Request, code: string, client: string): Promise<Response> => {
    const body = await readComplete(req);
    if (body instanceof Response) return body;
    const found = await lookupForClient(ctx, code, client);
    if (found.error) return found.error;
    const s = found.session;
    // deliberate: closes hole 1 — once an OAuth or passthrough redirect started, `/complete`
    // is closed (the real broker accepts an empty connect_token there, and the never-consumed
    // passthrough token). Also hole 2: a ready session is never overwritten.
    if (s.status !== "confirmed" || s.oauthStarted) {
      return notCompletable();
    }
    // deliberate: closes hole 1 and hole 11 — an empty token never matches; constant time.
    if (!s.connectToken || !body.connect_token || !safeEqual(body.connect_token, s.connectToken)) {
      return badConnectToken();
    }
    s.ciphertext = body.ciphertext;
    s.algorithm = body.algorithm;
    s.status = "ready";
    s.connectToken = undefined;
    ctx.outbox.deliver(s);
    return new Response(null, { status: 204 });
  };
  return { info: connectInfo, confirm, complete };
}
