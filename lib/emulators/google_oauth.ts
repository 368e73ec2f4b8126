/**
 * A minimal Google OAuth 2.0 authorization server stand-in for the `linkauth` auth path in the
 * local stack: the LinkAuth broker sends the user here (provider `google`), the consent page's
 * approve button redirects back with a code, and the token endpoint mints a Google access token
 * in the shared {@link GoogleTokenRegistry} that the Gmail emulator accepts. No refresh tokens,
 * no ID tokens: just what the broker's code exchange needs.
 *
 * @example
 * ```ts
 * import { startGoogleOAuthEmulator } from "./google_oauth.ts";
 * import { GoogleTokenRegistry } from "./google_tokens.ts";
 * const g = await startGoogleOAuthEmulator({ googleTokens: new GoogleTokenRegistry() });
 * // broker provider: { authorizeUrl: `${g.url}/o/oauth2/auth`, tokenUrl: `${g.url}/token`, ... }
 * await g.close();
 * ```
 * @module
 */

import type { GoogleTokenRegistry } from "./google_tokens.ts";

/** Options. */
export interface GoogleOAuthEmulatorOptions {
  googleTokens: GoogleTokenRegistry;
  tls?: { cert: string; key: string };
  port?: number;
  clientId?: string;
  clientSecret?: string;
  /** The account (default ada@example.com, the Gmail emulator's mailbox owner). */
  email?: string;
  sub?: string;
  /** Access-token lifetime in seconds (default 3599). */
  ttlS?: number;
}

/** The running server. */
export interface GoogleOAuthEmulator {
  url: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/** Start it on 127.0.0.1. */
export function startGoogleOAuthEmulator(
  options: GoogleOAuthEmulatorOptions,
): Promise<GoogleOAuthEmulator> {
  const clientId = options.clientId ?? "mcs-google-client";
  const clientSecret = options.clientSecret ?? "mcs-google-secret";
  const codes = new Map<string, { redirectUri: string; scopes: string[]; exp: number }>();
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const q = url.searchParams;
    if (url.pathname === "/o/oauth2/auth" && req.method === "GET") {
      if (q.get("client_id") !== clientId || !q.get("redirect_uri")) {
        return new Response("invalid_client", { status: 400 });
      }
      const approve = `/o/oauth2/approve?${q}`;
      return new Response(
        `<!doctype html><title>Google</title><h1>Allow access to your Gmail?</h1><p>${
          esc(q.get("scope") ?? "")
        }</p><form method="post" action="${
          esc(approve)
        }"><button id="approve">Allow</button></form>`,
        { headers: { "content-type": "text/html; charset=utf-8" } },
      );
    }
    if (url.pathname === "/o/oauth2/approve" && req.method === "POST") {
      const code = crypto.randomUUID();
      const redirectUri = q.get("redirect_uri")!;
      codes.set(code, {
        redirectUri,
        scopes: (q.get("scope") ?? "").split(" ").filter(Boolean),
        exp: Date.now() + 120_000,
      });
      const back = new URL(redirectUri);
      back.searchParams.set("code", code);
      if (q.get("state")) back.searchParams.set("state", q.get("state")!);
      return new Response(null, { status: 302, headers: { location: back.href } });
    }
    if (url.pathname === "/token" && req.method === "POST") {
      const form = new URLSearchParams(await req.text());
      const basic = req.headers.get("authorization");
      const [id, secret] = basic?.startsWith("Basic ")
        ? atob(basic.slice(6)).split(":")
        : [form.get("client_id"), form.get("client_secret")];
      if (id !== clientId || secret !== clientSecret) {
        return json(401, { error: "invalid_client" });
      }
      const c = codes.get(form.get("code") ?? "");
      codes.delete(form.get("code") ?? "");
      if (!c || c.exp < Date.now() || c.redirectUri !== form.get("redirect_uri")) {
        return json(400, { error: "invalid_grant", error_description: "Bad Request" });
      }
      const ttlS = options.ttlS ?? 3599;
      const { token } = options.googleTokens.issue({
        sub: options.sub ?? "google-oauth2|100000000000000000001",
        email: options.email ?? "ada@example.com",
        scopes: c.scopes.length ? c.scopes : ["https://mail.google.com/"],
        ttlS,
      });
      return json(200, {
        access_token: token,
        expires_in: ttlS,
        token_type: "Bearer",
        scope: c.scopes.join(" "),
      });
    }
    return json(404, { error: "not_found" });
  };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
    ...(options.tls ?? {}),
  }, handler);
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${server.addr.port}`;
  return Promise.resolve({ url, clientId, clientSecret, close: () => server.shutdown() });
}
