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
import { type Ctx, LOCAL_HOSTS, lookupForClient, notFound, readJson, tooMany } from "./context.ts";
import { ALGORITHM as ENVELOPE_ALGORITHM } from "../../broker/envelope.ts";
import { json, problem, safeEqual, validation } from "../../broker/problem.ts";
import { token } from "./state.ts";
import * as v from "../../broker/validate.ts";

/** The connect routes on `ctx`. */
export function connectRoutes(ctx: Ctx): {
  info(req: Request, code: string, client: string): Promise<Response>;
  confirm(code: string, client: string): Promise<Response>;
  complete(req: Request, code: string, client: string): Promise<Response>;
} {
  /** The connect page's security banner (section 4.3). */
  const security = (req: Request) => {
    const url = new URL(req.url);
    if (
      req.headers.get("x-forwarded-proto") === "https" || url.protocol === "https:" ||
      ctx.base.startsWith("https://")
    ) {
      return { secure: true, mode: "production", message: null };
    }
    let host = "";
    try {
      host = new URL(`http://${req.headers.get("host") ?? url.host}`).hostname;
    } catch {
      host = "";
    }
    host = host.replace(/^\[(.*)\]$/, "$1");
    if (LOCAL_HOSTS.has(host) || host === "0.0.0.0") {
      return {
        secure: false,
        mode: "development",
        message: "Development mode -- connection is not encrypted. Do not enter real credentials.",
      };
    }
    return {
      secure: false,
      mode: "insecure",
      message: "WARNING: Connection is not encrypted (no TLS). Do not enter real credentials. " +
        "Configure HTTPS or a reverse proxy before using in production.",
    };
  };

  const connectInfo = async (req: Request, code: string, client: string): Promise<Response> => {
    if (ctx.limiter.perCodeLimited(client, code)) return tooMany();
    const found = await lookupForClient(ctx, code, client);
    if (found.error) return found.error;
    const s = found.session;
    if (s.status === "ready" || s.status === "consumed") {
      return problem(410, "Session Gone", "Session already completed.");
    }
    if (s.status === "confirmed") return notFound();
    return json(200, {
      status: "pending",
      display_name: s.displayName,
      template_type: s.templateType,
      code: s.code,
      fields: s.fields,
      public_key: s.publicKey,
      security: security(req),
      oauth_url: null,
    });
  };

  const confirm = async (code: string, client: string): Promise<Response> => {
    if (ctx.limiter.perCodeLimited(client, code)) return tooMany();
    const found = await lookupForClient(ctx, code, client);
    if (found.error) return found.error;
    const s = found.session;
    if (s.status !== "pending") {
      return problem(409, "Already Confirmed", "Session has already been confirmed.");
    }
    s.status = "confirmed";
    s.connectToken = token("ct_");
    return json(200, { connect_token: s.connectToken });
  };

  const COMPLETE_RULES = {
    ciphertext: v.str({ required: true }),
    algorithm: v.str({ default: ENVELOPE_ALGORITHM }),
    connect_token: v.str({ required: true }),
  };

  const complete = async (req: Request, code: string, client: string): Promise<Response> => {
    // The body is validated before the handler runs: 422 comes before 404.
    const decoded = await readJson(req);
    if (decoded instanceof Response) return decoded;
    const checked = v.check<{ ciphertext: string; algorithm: string; connect_token: string }>(
      decoded.body,
      COMPLETE_RULES,
    );
    if (checked.issues.length) return validation(checked.issues);
    const body = checked.value!;
    const found = await lookupForClient(ctx, code, client);
    if (found.error) return found.error;
    const s = found.session;
    // deliberate: closes hole 1 — once an OAuth or passthrough redirect started, `/complete`
    // is closed (the real broker accepts an empty connect_token there, and the never-consumed
    // passthrough token). Also hole 2: a ready session is never overwritten.
    if (s.status !== "confirmed" || s.oauthStarted) {
      return problem(409, "Session Not Completable", "Session is not in a completable state.");
    }
    // deliberate: closes hole 1 and hole 11 — an empty token never matches; constant time.
    if (!s.connectToken || !body.connect_token || !safeEqual(body.connect_token, s.connectToken)) {
      return problem(
        403,
        "Invalid Connect Token",
        "Invalid connect_token. Re-confirm the session code.",
      );
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
