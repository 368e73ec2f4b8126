/**
 * OAuth through the broker (reference sections 4.6, 4.7 and 7): the authorize redirect (PKCE
 * S256, or the passthrough `custom_authorize_url`), and the callback that either captures the
 * passthrough parameters or exchanges the code at the provider, then seals the result to the
 * agent key.
 *
 * @example
 * ```ts
 * import { oauthRoutes } from "./oauth.ts";
 * import type { Ctx } from "./context.ts";
 * declare const ctx: Ctx;
 * const routes = oauthRoutes(ctx); // routes.authorize(url, code, client), routes.callback(url)
 * ```
 * @module
 */
import { type Ctx, lookupForClient } from "./context.ts";
import { sealResult } from "../../broker/delivery.ts";
import { encodeUrl as encodeBase64Url } from "../../broker/envelope.ts";
import { problem, safeEqual } from "../../broker/problem.ts";
import { providerError } from "./sessions.ts";
import { token } from "./state.ts";

/** The OAuth routes on `ctx`. */
export function oauthRoutes(ctx: Ctx): {
  authorize(url: URL, code: string, client: string): Promise<Response>;
  callback(url: URL): Promise<Response>;
} {
  const { now } = ctx;
  const { providers } = ctx.config;

  const authorize = async (url: URL, code: string, client: string): Promise<Response> => {
    const found = await lookupForClient(ctx, code, client);
    if (found.error) return found.error;
    const s = found.session;
    if (s.status !== "confirmed") {
      return problem(
        409,
        "Code Not Confirmed",
        "Session code must be confirmed before starting OAuth flow.",
      );
    }
    const presented = url.searchParams.get("connect_token") ?? "";
    if (!s.connectToken || !presented || !safeEqual(presented, s.connectToken)) {
      return problem(
        403,
        "Invalid Connect Token",
        "Invalid or missing connect_token. Re-confirm the session code.",
      );
    }
    if (s.customAuthorizeUrl) {
      // deliberate: closes hole 8 — the passthrough redirect consumes the connect token too.
      s.connectToken = undefined;
      s.oauthStarted = true;
      s.codeVerifier = "";
      return new Response(null, { status: 302, headers: { location: s.customAuthorizeUrl } });
    }
    const p = s.oauthProvider ? providers[s.oauthProvider] : undefined;
    if (s.templateType !== "oauth") {
      return problem(400, "Not an OAuth Session", "This session does not use OAuth.");
    }
    if (!p) {
      const e = await providerError(s.oauthProvider ?? "").json();
      return problem(503, "OAuth Provider Error", e.detail);
    }
    s.connectToken = undefined; // consumed (the real broker sets it to "")
    s.oauthStarted = true;
    s.codeVerifier = encodeBase64Url(crypto.getRandomValues(new Uint8Array(64)));
    // deliberate: closes hole 7 — a random state, not the code-derived session id.
    s.oauthState = token("");
    const challenge = encodeBase64Url(
      new Uint8Array(
        await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s.codeVerifier)),
      ),
    );
    const target = new URL(p.authorizeUrl);
    const scope = s.oauthScopes?.length ? s.oauthScopes.join(" ") : p.scope;
    target.searchParams.set("response_type", "code");
    target.searchParams.set("client_id", p.clientId);
    target.searchParams.set("redirect_uri", `${ctx.base}/v1/oauth/callback`);
    if (scope) target.searchParams.set("scope", scope);
    target.searchParams.set("state", s.oauthState);
    target.searchParams.set("code_challenge", challenge);
    target.searchParams.set("code_challenge_method", "S256");
    for (const [k, val] of Object.entries({ ...p.extraParams, ...s.oauthExtraParams })) {
      target.searchParams.set(k, val);
    }
    return new Response(null, { status: 302, headers: { location: target.href } });
  };

  const callback = async (url: URL): Promise<Response> => {
    const q = url.searchParams;
    const state = q.get("state");
    const live = ctx.sessions.live();
    // deliberate: closes hole 7 — path A matches the random state only (never the
    // code-derivable session id, which the real broker also accepts for passthrough sessions).
    let s = state
      ? live.find((x) => x.oauthState !== undefined && safeEqual(x.oauthState, state))
      : undefined;
    if (!s && state) {
      // Path B: the newest passthrough session waiting with this custom_state.
      s = live
        .filter((x) =>
          x.customAuthorizeUrl && x.customState === state && x.codeVerifier !== undefined
        )
        .sort((a, b) => b.createdAt - a.createdAt)[0];
    }
    if (q.has("error")) {
      if (s) s.codeVerifier = undefined;
      return problem(400, "OAuth Authorization Failed", "Authorization was not completed.");
    }
    // deliberate: closes hole 2 — only a confirmed session waiting for this callback is written.
    if (!s || s.codeVerifier === undefined || s.status !== "confirmed") {
      if (!state && !q.has("code")) {
        return problem(400, "Invalid Callback", "Missing state or code parameter.");
      }
      return problem(
        400,
        "Invalid State",
        "OAuth state parameter not recognized. Session may have expired.",
      );
    }
    const verifier = s.codeVerifier;
    s.codeVerifier = undefined;
    s.oauthState = undefined;
    const success = new Response(null, {
      status: 302,
      headers: { location: `${ctx.base}/connect/${s.code}?status=success` },
    });
    if (s.customAuthorizeUrl) {
      const captured: Record<string, string> = {};
      for (const name of s.customCallbackParams ?? []) captured[name] = q.get(name) ?? "";
      if (Object.values(captured).every((x) => x === "")) captured.code = q.get("code") ?? "";
      await sealResult(s, captured);
      ctx.outbox.deliver(s);
      return success;
    }
    const code = q.get("code");
    if (!code) return problem(400, "Invalid Callback", "Missing code parameter.");
    const p = providers[s.oauthProvider ?? ""];
    if (!p) return problem(400, "Not an OAuth Session", "This session does not use OAuth.");
    const form = new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: `${ctx.base}/v1/oauth/callback`,
      code_verifier: verifier,
    });
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    // authlib's default client authentication is client_secret_basic.
    if ((p.tokenAuthMethod ?? "client_secret_basic") === "client_secret_basic") {
      const enc = (x: string) => encodeURIComponent(x);
      headers.authorization = `Basic ${btoa(`${enc(p.clientId)}:${enc(p.clientSecret)}`)}`;
    } else {
      form.set("client_id", p.clientId);
      form.set("client_secret", p.clientSecret);
    }
    let tokens: Record<string, unknown>;
    try {
      const res = await ctx.upstream(p.tokenUrl, {
        method: "POST",
        headers,
        body: form,
        redirect: "manual",
      });
      const body = await res.json().catch(() => undefined);
      if (!res.ok || !body || typeof body.access_token !== "string") {
        throw new Error(`token endpoint ${res.status}`);
      }
      tokens = body;
    } catch {
      return problem(
        400,
        "OAuth Authorization Failed",
        "The authorization code could not be exchanged.",
      );
    }
    if (typeof tokens.expires_in === "number") {
      tokens.expires_at = Math.floor(now() / 1000) + tokens.expires_in;
    }
    await sealResult(s, tokens);
    ctx.outbox.deliver(s);
    return success;
  };
  return { authorize, callback };
}
