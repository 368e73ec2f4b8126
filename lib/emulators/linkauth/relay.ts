/**
 * The broker's relays (reference sections 4.8 and 4.9): the ephemeral inbound webhook, sealed
 * to the agent key, and the outbound `/v1/proxy` with its allowlist and the 200 wrapper.
 *
 * @example
 * ```ts
 * import { relayRoutes } from "./relay.ts";
 * import type { Ctx } from "./context.ts";
 * declare const ctx: Ctx;
 * const routes = relayRoutes(ctx); // routes.webhook(req, url, id), routes.proxy(req)
 * ```
 * @module
 */
import { checkApiKey, type Ctx, hostAllowed, notFound, readJson } from "./context.ts";
import { sealResult } from "../../broker/delivery.ts";
import { json, problem, safeEqual } from "../../broker/problem.ts";
import {
  checkProxy,
  domainNotAllowed,
  proxyDisabled,
  relay,
  webhookPlaintext,
} from "../../broker/protocol.ts";

/** The relay routes on `ctx`. */
export function relayRoutes(ctx: Ctx): {
  webhook(req: Request, url: URL, id: string): Promise<Response>;
  proxy(req: Request): Promise<Response>;
} {
  const { maxWebhookPayload } = ctx.config;
  const { proxyLog } = ctx;

  /** `POST /v1/sessions/{id}/webhook?token=wt_…`: 404, 403, 403, 413 in that order (4.8). */
  const webhook = async (req: Request, url: URL, id: string): Promise<Response> => {
    const s = ctx.sessions.get(id);
    if (!s) return notFound();
    if (!s.webhookToken) {
      return problem(403, "Webhook Not Enabled", "This session does not have webhooks enabled.");
    }
    const presented = url.searchParams.get("token") ?? "";
    if (!safeEqual(presented, s.webhookToken)) {
      return problem(403, "Invalid Webhook Token", "The provided webhook token is not valid.");
    }
    const raw = new Uint8Array(await req.arrayBuffer());
    if (raw.length > maxWebhookPayload) {
      return problem(
        413,
        "Payload Too Large",
        `Webhook payload exceeds the maximum allowed size of ${maxWebhookPayload} bytes.`,
      );
    }
    // deliberate: closes hole 2 — a ready (unread) payload is never overwritten; the real
    // broker overwrites it (the consumed case is its own 500).
    if (s.status === "consumed" || s.status === "ready") {
      return problem(500, "Storage Error", "Failed to store encrypted webhook payload.");
    }
    await sealResult(s, webhookPlaintext(req, raw));
    return json(200, { status: "accepted", session_id: id });
  };

  const proxy = async (req: Request): Promise<Response> => {
    const decoded = await readJson(req);
    if (decoded instanceof Response) return decoded;
    const key = checkApiKey(ctx, req);
    if (key instanceof Response) return key;
    const body = checkProxy(decoded.body);
    if (body instanceof Response) return body;
    if (!ctx.config.proxyEnabled) return proxyDisabled();
    let target: URL | undefined;
    try {
      target = new URL(body.url);
    } catch {
      target = undefined;
    }
    if (!target || !hostAllowed(ctx, target.hostname)) return domainNotAllowed();
    if (/^https?:$/.test(target.protocol)) proxyLog.push({ method: body.method, url: target.href });
    return (await relay(ctx.upstream, target, body)).response;
  };
  return { webhook, proxy };
}
