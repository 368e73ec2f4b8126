/**
 * The agent's session API (reference sections 4.1 and 4.2): `POST /v1/sessions` with its checks
 * in the real order (API key after JSON decoding, then the schema, the public key, the
 * template, the callback URL, the OAuth provider) and the poll with slow_down and the one-time
 * `ready`.
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
import { decodeStrict as decodeBase64Strict } from "../../broker/envelope.ts";
import { checkApiKey, type Ctx, hostAllowed, LOCAL_HOSTS, notFound, readJson } from "./context.ts";
import { isoformat, json, problem, safeEqual, validation } from "../../broker/problem.ts";
import { type Session, token } from "./state.ts";
import { type FieldSpec, TEMPLATES } from "../../broker/templates.ts";
import * as v from "../../broker/validate.ts";

/** 400 `OAuth Provider Error` with the resolver's message for an unconfigured provider. */
export function providerError(provider: string): Response {
  const p = provider.toUpperCase();
  return problem(
    400,
    "OAuth Provider Error",
    `OAuth provider '${provider}' is not configured. Set OAUTH_${p}_CLIENT_ID and OAUTH_${p}_CLIENT_SECRET environment variables.`,
  );
}

/** Session creation and polling on `ctx`. */
export function sessionRoutes(ctx: Ctx): {
  create(req: Request): Promise<Response>;
  poll(req: Request, id: string): Response;
} {
  const { now } = ctx;
  const { pollInterval, defaultTtl, maxTtl, providers } = ctx.config;

  const FIELD_RULES = {
    name: v.str({ required: true }),
    label: v.str({ required: true }),
    type: v.str({ default: "text" }),
    required: v.bool(true),
    options: v.strList(),
  };
  const CREATE_RULES = {
    public_key: v.str({ required: true }),
    template: v.str(),
    display_name: v.str(),
    fields: v.modelList(FIELD_RULES),
    oauth_provider: v.str(),
    oauth_scopes: v.strList(),
    oauth_extra_params: v.strDict(),
    callback_url: v.str(),
    // deliberate: closes hole 10 — a negative TTL is refused (the real broker creates an
    // already-expired session).
    ttl: v.int({ ge: 0 }),
    custom_authorize_url: v.str(),
    custom_callback_params: v.strList(),
    custom_state: v.str(),
    enable_webhook: v.bool(false),
  };
  interface CreateBody {
    public_key: string;
    template: string | null;
    display_name: string | null;
    fields: FieldSpec[] | null;
    oauth_provider: string | null;
    oauth_scopes: string[] | null;
    oauth_extra_params: Record<string, string> | null;
    callback_url: string | null;
    ttl: number | null;
    custom_authorize_url: string | null;
    custom_callback_params: string[] | null;
    custom_state: string | null;
    enable_webhook: boolean;
  }

  /** The `Invalid Public Key` checks of step 1, in the real order. */
  const checkPublicKey = async (publicKey: string): Promise<Response | undefined> => {
    const invalidKey = (detail: string) => problem(400, "Invalid Public Key", detail);
    if (!publicKey.trim()) return invalidKey("public_key is required and must not be empty.");
    const der = decodeBase64Strict(publicKey);
    if (!der) {
      return invalidKey(
        "public_key is not valid base64. Expected base64-encoded DER (SubjectPublicKeyInfo).",
      );
    }
    try {
      const k = await crypto.subtle.importKey(
        "spki",
        der,
        { name: "RSA-OAEP", hash: "SHA-256" },
        true,
        [
          "encrypt",
        ],
      );
      const bits = (k.algorithm as RsaHashedKeyAlgorithm).modulusLength;
      return bits < 2048
        ? invalidKey(`RSA key too small (${bits} bits). Minimum is 2048 bits.`)
        : undefined;
    } catch {
      // Not RSA: name the key class the way Python `cryptography` does, if it parses at all.
      const others: [string, AlgorithmIdentifier | EcKeyImportParams][] = [
        ["ECPublicKey", { name: "ECDSA", namedCurve: "P-256" }],
        ["ECPublicKey", { name: "ECDSA", namedCurve: "P-384" }],
        ["ECPublicKey", { name: "ECDSA", namedCurve: "P-521" }],
        ["Ed25519PublicKey", { name: "Ed25519" }],
        ["X25519PublicKey", { name: "X25519" }],
      ];
      for (const [cls, alg] of others) {
        try {
          await crypto.subtle.importKey("spki", der, alg, true, []);
          return invalidKey(`public_key must be an RSA key, got ${cls}.`);
        } catch {
          // try the next kind
        }
      }
      return invalidKey(
        "public_key is not a valid public key. Expected RSA SubjectPublicKeyInfo in DER format.",
      );
    }
  };

  const createSession = async (req: Request): Promise<Response> => {
    const decoded = await readJson(req);
    if (decoded instanceof Response) return decoded;
    const key = checkApiKey(ctx, req);
    if (key instanceof Response) return key;
    const checked = v.check<CreateBody>(decoded.body, CREATE_RULES);
    if (checked.issues.length) return validation(checked.issues);
    const body = checked.value!;

    // 1. the public key
    const badKey = await checkPublicKey(body.public_key);
    if (badKey) return badKey;

    // 2. the template: oauth_provider wins, then a built-in id, then custom fields
    const template = body.template;
    const builtin = template !== null ? TEMPLATES[template] : undefined;
    let templateType: "form" | "oauth";
    let fields: FieldSpec[] = [];
    let displayName: string;
    let provider: string | undefined;
    let scopes = body.oauth_scopes ?? undefined;
    if (body.oauth_provider) {
      provider = body.oauth_provider;
      templateType = "oauth";
      displayName = body.display_name || `OAuth (${provider})`;
    } else if (builtin) {
      templateType = builtin.oauth ? "oauth" : "form";
      fields = builtin.fields;
      provider = builtin.oauth?.provider;
      scopes ??= builtin.oauth?.scopes;
      displayName = body.display_name || builtin.displayName;
    } else if (body.fields && body.fields.length > 0) {
      templateType = "form";
      fields = body.fields;
      displayName = body.display_name || "Custom Credentials";
    } else {
      return problem(
        400,
        "Invalid Template",
        `Unknown template '${template ?? "None"}' and no custom fields or OAuth provider provided`,
      );
    }

    // 3. the callback URL
    if (body.callback_url !== null) {
      let ok = false;
      try {
        const u = new URL(body.callback_url);
        ok = u.protocol === "https:" ||
          LOCAL_HOSTS.has(u.hostname.replace(/^\[(.*)\]$/, "$1"));
      } catch {
        ok = false;
      }
      if (!ok) {
        return problem(
          400,
          "Invalid Callback URL",
          "callback_url must use HTTPS in production. HTTP is only allowed for localhost.",
        );
      }
    }

    // 4. the OAuth provider must resolve
    if (provider !== undefined && !providers[provider]) return providerError(provider);

    if (body.custom_authorize_url !== null) {
      // deliberate: closes hole 8 — passthrough redirects only go to allowlisted hosts (the
      // real broker is an open redirect for any API-key holder).
      let target: URL | undefined;
      try {
        target = new URL(body.custom_authorize_url);
      } catch {
        target = undefined;
      }
      if (!target || !/^https?:$/.test(target.protocol) || !hostAllowed(ctx, target.hostname)) {
        return problem(
          400,
          "Invalid Authorize URL",
          "custom_authorize_url must target an allowed host.",
        );
      }
    }
    const ttl = Math.min(body.ttl || defaultTtl, maxTtl);

    const { code, sessionId } = await ctx.sessions.newCode();
    const t = now();
    const s: Session = {
      sessionId,
      code,
      publicKey: body.public_key,
      apiKey: typeof key === "string" ? key : undefined,
      displayName,
      templateType,
      fields,
      oauthProvider: provider,
      oauthScopes: scopes,
      oauthExtraParams: body.oauth_extra_params ?? undefined,
      customAuthorizeUrl: body.custom_authorize_url ?? undefined,
      customCallbackParams: body.custom_callback_params ?? undefined,
      customState: body.custom_state ?? undefined,
      callbackUrl: body.callback_url ?? undefined,
      callbackSecret: body.callback_url !== null ? token("cs_") : undefined,
      webhookToken: body.enable_webhook ? token("wt_") : undefined,
      status: "pending",
      pollToken: token("pt_"),
      oauthStarted: false,
      createdAt: t,
      expiresAt: t + ttl * 1000,
      pollCount: 0,
    };
    ctx.sessions.add(s);
    return json(201, {
      session_id: sessionId,
      code,
      url: `${ctx.base}/connect/${code}`,
      poll_token: s.pollToken,
      expires_at: isoformat(s.expiresAt),
      interval: pollInterval,
      callback_secret: s.callbackSecret ?? null,
      webhook_url: s.webhookToken
        ? `${ctx.base}/v1/sessions/${sessionId}/webhook?token=${s.webhookToken}`
        : null,
    });
  };

  /** Poll: API key, Bearer, 404, 403, slow_down, then the one-time `ready` (section 4.2). */
  const poll = (req: Request, id: string): Response => {
    const key = checkApiKey(ctx, req);
    if (key instanceof Response) return key;
    const auth = req.headers.get("authorization");
    if (!auth || !auth.startsWith("Bearer ")) {
      return problem(
        401,
        "Unauthorized",
        "Missing or invalid Authorization header. Use: Bearer <poll_token>",
        {},
        { "www-authenticate": "Bearer" },
      );
    }
    const s = ctx.sessions.get(id);
    if (!s) return notFound();
    // deliberate: closes hole 11 — constant-time comparison.
    if (!safeEqual(auth.slice(7).trim(), s.pollToken)) {
      return problem(403, "Forbidden", "Invalid poll_token.");
    }
    const t = now();
    // Strict `<` against the last ACCEPTED poll; a 429 does not move the timestamp.
    if (s.lastPoll !== undefined && t - s.lastPoll < pollInterval * 1000) {
      return problem(429, "Slow Down", "Polling too frequently. Increase your polling interval.", {
        type: "urn:ietf:params:oauth:error:slow_down",
        interval: pollInterval + 5,
      });
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
      return json(200, {
        status: "ready",
        expires_at: isoformat(s.expiresAt),
        interval: null,
        ciphertext: ciphertext ?? null,
        algorithm: algorithm ?? null,
      });
    }
    return json(200, {
      status: s.status,
      expires_at: isoformat(s.expiresAt),
      interval: pollInterval,
      ciphertext: null,
      algorithm: null,
    });
  };

  return { create: createSession, poll };
}
