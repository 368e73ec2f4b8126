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
import { safeEqual } from "../../broker/problem.ts";
import {
  authorizeBadToken,
  authorizeUrl,
  captureParams,
  codeNotConfirmed,
  exchangeCode,
  invalidState,
  pkce,
  providerError,
} from "../../broker/protocol.ts";
import { problem } from "../../broker/problem.ts";
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
    if (s.status !== "confirmed") return codeNotConfirmed();
    const presented = url.searchParams.get("connect_token") ?? "";
    if (!s.connectToken || !presented || !safeEqual(presented, s.connectToken)) {
      return authorizeBadToken();
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
    if (!p) return providerError(s.oauthProvider ?? "", 503);
    s.connectToken = undefined; // consumed (the real broker sets it to "")
    s.oauthStarted = true;
    const { verifier, challenge } = await pkce();
    s.codeVerifier = verifier;
    // deliberate: closes hole 7 — a random state, not the code-derived session id.
    s.oauthState = token("");
    const target = authorizeUrl(p, s, {
      redirectUri: `${ctx.base}/v1/oauth/callback`,
      state: s.oauthState,
      challenge,
    });
    return new Response(null, { status: 302, headers: { location: target } });
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
      return invalidState(q);
    }
    const verifier = s.codeVerifier;
    s.codeVerifier = undefined;
    s.oauthState = undefined;
    const success = new Response(null, {
      status: 302,
      headers: { location: `${ctx.base}/connect/${s.code}?status=success` },
    });
    if (s.customAuthorizeUrl) {
      await sealResult(s, captureParams(s, q));
      ctx.outbox.deliver(s);
      return success;
    }
    const code = q.get("code");
    if (!code) return problem(400, "Invalid Callback", "Missing code parameter.");
    const p = providers[s.oauthProvider ?? ""];
    if (!p) return problem(400, "Not an OAuth Session", "This session does not use OAuth.");
    const tokens = await exchangeCode(ctx.upstream, p, {
      code,
      verifier,
      redirectUri: `${ctx.base}/v1/oauth/callback`,
      now: now(),
    });
    if (tokens instanceof Response) return tokens;
    await sealResult(s, tokens);
    ctx.outbox.deliver(s);
    return success;
  };
  return { authorize, callback };
}
