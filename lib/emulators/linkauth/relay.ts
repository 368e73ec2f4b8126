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
import { json, problem, safeEqual, validation } from "../../broker/problem.ts";
import * as v from "../../broker/validate.ts";

const PROXY_METHODS = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$/;

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
    const headers: Record<string, string> = {};
    req.headers.forEach((value, name) => (headers[name] ??= value));
    await sealResult(s, {
      headers,
      body: new TextDecoder().decode(raw),
      content_type: req.headers.get("content-type") ?? "application/octet-stream",
    });
    return json(200, { status: "accepted", session_id: id });
  };

  const PROXY_RULES = {
    method: v.pattern(PROXY_METHODS, { required: true }),
    url: v.str({ required: true }),
    headers: v.strDict(),
    body: v.str(),
    timeout: v.int({ default: 30, ge: 1, le: 120 }),
  };

  const proxy = async (req: Request): Promise<Response> => {
    const decoded = await readJson(req);
    if (decoded instanceof Response) return decoded;
    const key = checkApiKey(ctx, req);
    if (key instanceof Response) return key;
    const checked = v.check<{
      method: string;
      url: string;
      headers: Record<string, string> | null;
      body: string | null;
      timeout: number;
    }>(decoded.body, PROXY_RULES);
    if (checked.issues.length) return validation(checked.issues);
    const body = checked.value!;
    if (!ctx.config.proxyEnabled) {
      return problem(403, "Proxy Disabled", "The HTTP proxy endpoint is disabled on this broker.");
    }
    let target: URL | undefined;
    try {
      target = new URL(body.url);
    } catch {
      target = undefined;
    }
    if (!hostAllowed(ctx, target?.hostname ?? "")) {
      return problem(403, "Domain Not Allowed", "The target domain is not on the proxy allowlist.");
    }
    const t = Math.min(body.timeout, 60);
    if (!/^https?:$/.test(target!.protocol)) {
      return problem(
        502,
        "Bad Gateway",
        `Failed to reach upstream: Request URL has an unsupported protocol '${
          target!.protocol
        }//'.`,
      );
    }
    const headers = new Headers();
    for (const [k, val] of Object.entries(body.headers ?? {})) headers.set(k, val);
    proxyLog.push({ method: body.method, url: target!.href });
    let res: Response;
    try {
      res = await ctx.upstream(target!.href, {
        method: body.method,
        headers,
        // Web fetch cannot send a body with GET/HEAD (httpx can): the one gap left here.
        body: body.body !== null && body.method !== "GET" && body.method !== "HEAD"
          ? body.body
          : undefined,
        redirect: "manual",
        signal: AbortSignal.timeout(t * 1000),
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === "TimeoutError") {
        return problem(504, "Gateway Timeout", `The upstream server did not respond within ${t}s.`);
      }
      // httpx's ConnectError text; the exception message itself is not relayed.
      return problem(
        502,
        "Bad Gateway",
        "Failed to reach upstream: All connection attempts failed",
      );
    }
    const out: Record<string, string> = {};
    res.headers.forEach((val, k) => (out[k] = k in out ? `${out[k]}, ${val}` : val));
    const cookies = res.headers.getSetCookie();
    if (cookies.length) out["set-cookie"] = cookies.join(", ");
    return json(200, { status_code: res.status, headers: out, body: await res.text() });
  };
  return { webhook, proxy };
}
