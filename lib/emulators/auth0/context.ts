/**
 * Shared plumbing of the Auth0 tenant emulator's handlers: the request context, OAuth-style and
 * problem+json error responses, client authentication (post, basic, JSON) and the RS256 signer
 * for Auth0 access and ID tokens.
 *
 * @example
 * ```ts
 * import { oauthError } from "./context.ts";
 * oauthError(403, "unauthorized_client", "Grant type 'x' not allowed for the client.");
 * ```
 * @module
 */
import { exportJWK, generateKeyPair, type JWK, jwtVerify, SignJWT } from "jose";
import { encodeBase64Url } from "../../encoding/base64.ts";
import type { GoogleTokenRegistry } from "../google_tokens.ts";
import type { TenantState } from "./state.ts";

/** The configured application (a confidential Regular Web App). */
export interface EmulatedClient {
  clientId: string;
  clientSecret: string;
  name: string;
  /** Exact Allowed Callback URLs. */
  allowedCallbackUrls: string[];
  /** Allow any `http://127.0.0.1|[::1]|localhost:<port>/<path>` (RFC 8252 section 7.3). */
  allowLoopbackCallbacks: boolean;
}

/** Everything a handler needs. */
export interface Ctx {
  state: TenantState;
  client: EmulatedClient;
  googleTokens: GoogleTokenRegistry;
  signer: Signer;
  /** Base URL, no trailing slash (e.g. `http://127.0.0.1:4711`). */
  base: string;
  /** `${base}/`. */
  issuer: string;
  /** `${base}/me/`. */
  meAudience: string;
}

/** JSON response. */
export function json(status: number, body: unknown, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

/** OAuth-style error `{error, error_description}`. */
export function oauthError(
  status: number,
  error: string,
  description: string,
  extra: Record<string, unknown> = {},
): Response {
  return json(status, { error, error_description: description, ...extra });
}

/**
 * RFC 7807 problem+json, as the My Account API answers: `type`, `status`, `title`, `detail` and
 * optional `validation_errors[] {detail, field, pointer, source}` (auth0.md 2).
 */
export function problem(
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({
      // Not in the reference: the exact `type` URIs; this one names the status.
      type: `https://auth0.com/api/myaccount/errors/${status}`,
      status,
      title,
      detail,
      ...extra,
    }),
    { status, headers: { "content-type": "application/problem+json", ...headers } },
  );
}

/** Parse a form or JSON body into a flat string map. */
export async function readParams(req: Request): Promise<Record<string, string> | undefined> {
  const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const text = await req.text();
  if (type === "application/json") {
    try {
      const v = JSON.parse(text);
      if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
      const out: Record<string, string> = {};
      for (const [k, x] of Object.entries(v)) {
        if (typeof x === "string") out[k] = x;
        else if (typeof x === "number" || typeof x === "boolean") out[k] = String(x);
      }
      return out;
    } catch {
      return undefined;
    }
  }
  if (type === "application/x-www-form-urlencoded" || type === "") {
    return Object.fromEntries(new URLSearchParams(text));
  }
  return undefined;
}

function formDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, " "));
}

/**
 * Authenticate the client: `client_secret_basic` (RFC 6749 form-encoded credentials) or
 * `client_secret_post` (form or JSON). Returns the client id on success.
 */
export function authenticateClient(
  ctx: Ctx,
  req: Request,
  params: Record<string, string>,
): { ok: true; clientId: string } | { ok: false; response: Response } {
  let id = params.client_id;
  let secret = params.client_secret;
  const auth = req.headers.get("authorization");
  if (auth?.toLowerCase().startsWith("basic ")) {
    try {
      const decoded = atob(auth.slice(6).trim());
      const i = decoded.indexOf(":");
      const bid = formDecode(decoded.slice(0, i));
      const bsecret = formDecode(decoded.slice(i + 1));
      if (id !== undefined && id !== bid) throw new Error("mismatch");
      id = bid;
      secret = bsecret;
    } catch {
      return {
        ok: false,
        response: oauthError(401, "invalid_client", "Client authentication failed"),
      };
    }
  }
  if (!id || id !== ctx.client.clientId || !secret || secret !== ctx.client.clientSecret) {
    return {
      ok: false,
      response: oauthError(401, "invalid_client", "Client authentication failed"),
    };
  }
  return { ok: true, clientId: id };
}

/** Whether `redirectUri` is an allowed callback of the client. */
export function callbackAllowed(client: EmulatedClient, redirectUri: string): boolean {
  if (client.allowedCallbackUrls.includes(redirectUri)) return true;
  let u: URL;
  try {
    u = new URL(redirectUri);
  } catch {
    return false;
  }
  if (u.hash) return false;
  const loopback = ["127.0.0.1", "[::1]", "localhost"].includes(u.hostname);
  if (client.allowLoopbackCallbacks && u.protocol === "http:" && loopback) return true;
  // RFC 8252 7.3: for a registered loopback URL, any port matches.
  return client.allowedCallbackUrls.some((allowed) => {
    try {
      const a = new URL(allowed);
      return a.protocol === "http:" && a.hostname === u.hostname && a.pathname === u.pathname &&
        ["127.0.0.1", "[::1]"].includes(a.hostname);
    } catch {
      return false;
    }
  });
}

/** RS256 signer/verifier for the emulator's JWTs. */
export interface Signer {
  sign(claims: Record<string, unknown>, ttlS: number): Promise<string>;
  verify(token: string, audience: string): Promise<Record<string, unknown> | undefined>;
  jwks(): { keys: JWK[] };
}

/** Create a signer with a fresh RS256 key pair. */
export async function createSigner(
  issuer: () => string,
  now: () => number,
): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "emu-1", alg: "RS256", use: "sig" };
  return {
    async sign(claims, ttlS) {
      const iat = Math.floor(now() / 1000);
      return await new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: "emu-1", typ: "JWT" })
        .setIssuer(issuer())
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlS)
        .sign(privateKey);
    },
    async verify(token, audience) {
      try {
        const { payload } = await jwtVerify(token, publicKey, {
          issuer: issuer(),
          audience,
          currentDate: new Date(now()),
        });
        return payload as Record<string, unknown>;
      } catch {
        return undefined;
      }
    },
    jwks: () => ({ keys: [jwk] }),
  };
}

/** Base64url SHA-256 of a PKCE verifier. */
export async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return encodeBase64Url(new Uint8Array(digest));
}
