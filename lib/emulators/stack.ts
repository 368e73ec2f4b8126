/**
 * The local stack behind `mcs dev`, the demo, the end-to-end tests and the benchmarks: the Auth0
 * tenant, LinkAuth broker and Gmail emulators on loopback, over HTTPS with a throwaway CA
 * written to a file, wired together (one shared {@link GoogleTokenRegistry}; the broker's OAuth
 * provider `auth0` is the Auth0 emulator; the broker's `/v1/proxy` and passthrough allowlist is
 * the Auth0 emulator's host) with a seeded demo mailbox.
 *
 * `env` is what a user exports to point the real CLI at it (auth path `auth0-linkauth`).
 * {@link Stack.userCompletes} plays the user's browser with plain HTTP requests (confirm the code
 * at the broker, approve at Auth0), for the demo and the tests.
 *
 * @example
 * ```ts
 * import { startStack } from "./stack.ts";
 * const stack = await startStack();
 * console.log(stack.env.MCS_AUTH0_DOMAIN); // https://127.0.0.1:PORT
 * // spawn `mcs ...` with { env: stack.env }, or call stack.userCompletes(url, code)
 * await stack.close();
 * ```
 * @module
 */

import { type Auth0Emulator, startAuth0Emulator, type TenantConfig } from "./auth0/server.ts";
import { randomAlnum } from "./auth0/state.ts";
import { type GmailEmulator, startGmailEmulator } from "./gmail/mod.ts";
import { type GoogleOAuthEmulator, startGoogleOAuthEmulator } from "./google_oauth.ts";
import { GoogleTokenRegistry } from "./google_tokens.ts";
import { type LinkAuthBroker, startLinkAuthBroker } from "./linkauth/mod.ts";
import { createTestCA } from "./tls.ts";
import type { FetchLike } from "../net/types.ts";

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Serve HTTPS with a throwaway CA (default true). False: plain HTTP, no CA file. */
  tls?: boolean;
  /** Directory for `ca.pem` and the default cache (default: a new temp dir, removed on close). */
  stateDir?: string;
  /** `MCS_CACHE_DIR` for the printed environment (default `<stateDir>/cache`). */
  cacheDir?: string;
  /** Broker poll interval in seconds (default 1: snappy for demos and tests). */
  pollInterval?: number;
  /** Auth0 tenant switches (misconfiguration scenarios). */
  auth0Config?: Partial<TenantConfig>;
  /** Require this LinkAuth API key (default: a generated one). `null`: open broker. */
  brokerApiKey?: string | null;
  /** Ports (default 0: ephemeral). */
  ports?: { auth0?: number; broker?: number; gmail?: number };
}

/** Links a person opens. */
export interface StackUrls {
  auth0: string;
  broker: string;
  gmail: string;
  /** The broker's connect page (enter a code here). */
  connect: string;
}

/** One step of the simulated browser, for printing. */
export interface BrowserStep {
  action: string;
  url: string;
}

/** The running stack. */
export interface Stack {
  /** Environment for the CLI (MCS_AUTH, MCS_AUTH0_*, MCS_LINKAUTH_*, MCS_GMAIL_API_BASE, MCS_CA_FILE, MCS_CACHE_DIR). */
  env: Record<string, string>;
  /** Path of the CA certificate file ("" without TLS). */
  caFile: string;
  /** PEM of the CA ("" without TLS). */
  caPem: string;
  urls: StackUrls;
  auth0: Auth0Emulator;
  broker: LinkAuthBroker;
  gmail: GmailEmulator;
  /** Google's OAuth server stand-in (the broker's provider `google`, for the `linkauth` path). */
  google: GoogleOAuthEmulator;
  googleTokens: GoogleTokenRegistry;
  /** A fetch that trusts the stack's CA and never follows redirects. */
  fetch: FetchLike;
  /**
   * Act as the user in a browser for a challenge `url` (the broker connect page) and `code`:
   * confirm the code, follow the redirect to Auth0, approve there, follow back to the broker.
   * Returns the steps taken (for printing).
   */
  userCompletes(
    url: string,
    code?: string,
    onStep?: (step: BrowserStep) => void,
  ): Promise<BrowserStep[]>;
  close(): Promise<void>;
}

function unescapeHtml(s: string): string {
  return s.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">");
}

/** The action URL of the form holding the page's approve button. */
function approveAction(page: string): string | undefined {
  for (const m of page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    if (!/id="approve"/.test(m[2])) continue;
    const action = /action="([^"]*)"/.exec(m[1])?.[1];
    if (action) return unescapeHtml(action);
  }
  return undefined;
}

/** Start the stack. Every server listens on 127.0.0.1. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const useTls = options.tls ?? true;
  const ownDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? await Deno.makeTempDir({ prefix: "mcs-dev-" });
  const cacheDir = options.cacheDir ?? `${stateDir}/cache`;
  const googleTokens = new GoogleTokenRegistry();
  const closers: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch { /* best effort */ }
    }
    if (ownDir) await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  };
  try {
    let caPem = "";
    let caFile = "";
    let tls: { cert: string; key: string } | undefined;
    let client: Deno.HttpClient | undefined;
    if (useTls) {
      const ca = await createTestCA();
      caPem = ca.caPem;
      tls = await ca.issue(["127.0.0.1", "localhost"]);
      caFile = `${stateDir}/ca.pem`;
      await Deno.writeTextFile(caFile, caPem);
      client = Deno.createHttpClient({ caCerts: [caPem] });
      const c = client;
      closers.push(() => c.close());
    }
    const fetchFn: FetchLike = (input, init) =>
      globalThis.fetch(input, { redirect: "manual", ...init, ...(client ? { client } : {}) });

    const clientId = `mcs-dev-${randomAlnum(8)}`;
    const clientSecret = randomAlnum(32);
    const apiKey = options.brokerApiKey === null
      ? undefined
      : options.brokerApiKey ?? randomAlnum(32);

    // The broker needs the Auth0 URL and Auth0 needs the broker's callback URL: start Auth0
    // first and add the callback to its Allowed Callback URLs once the broker listens.
    const auth0 = await startAuth0Emulator({
      port: options.ports?.auth0,
      tls,
      clientId,
      clientSecret,
      googleTokens,
      config: options.auth0Config,
      allowLoopbackCallbacks: true,
    });
    closers.push(() => auth0.close());
    const auth0Host = new URL(auth0.url).hostname;
    const google = await startGoogleOAuthEmulator({ googleTokens, tls });
    closers.push(() => google.close());
    const broker = await startLinkAuthBroker({
      port: options.ports?.broker,
      tls,
      apiKeys: apiKey ? [apiKey] : [],
      providers: {
        auth0: {
          authorizeUrl: `${auth0.url}/authorize`,
          tokenUrl: `${auth0.url}/oauth/token`,
          clientId,
          clientSecret,
          scope: "openid profile email offline_access",
        },
        google: {
          authorizeUrl: `${google.url}/o/oauth2/auth`,
          tokenUrl: `${google.url}/token`,
          clientId: google.clientId,
          clientSecret: google.clientSecret,
          scope: "https://mail.google.com/",
        },
      },
      allowedHosts: [auth0Host],
      pollInterval: options.pollInterval ?? 1,
      fetch: fetchFn,
    });
    closers.push(() => broker.close());
    auth0.addCallbackUrl(`${broker.url}/v1/oauth/callback`);
    const gmail = await startGmailEmulator({
      port: options.ports?.gmail,
      tls,
      googleTokens,
      seed: true,
    });
    closers.push(() => gmail.close());

    const env: Record<string, string> = {
      MCS_AUTH: "auth0-linkauth",
      MCS_AUTH0_DOMAIN: auth0.url,
      MCS_AUTH0_CLIENT_ID: clientId,
      MCS_AUTH0_CLIENT_SECRET: clientSecret,
      MCS_LINKAUTH_BROKER_URL: broker.url,
      ...(apiKey ? { MCS_LINKAUTH_API_KEY: apiKey } : {}),
      MCS_GMAIL_API_BASE: gmail.url,
      ...(caFile ? { MCS_CA_FILE: caFile } : {}),
      MCS_CACHE_DIR: cacheDir,
    };
    const urls: StackUrls = {
      auth0: auth0.url,
      broker: broker.url,
      gmail: gmail.url,
      connect: `${broker.url}/connect`,
    };

    const userCompletes: Stack["userCompletes"] = async (url, code, onStep) => {
      const steps: BrowserStep[] = [];
      const step = (action: string, u: string) => {
        const s = { action, url: u };
        steps.push(s);
        onStep?.(s);
      };
      const get = async (u: string) => {
        const res = await fetchFn(u);
        await res.body?.cancel();
        return res;
      };
      const expectOk = async (res: Response, what: string) => {
        if (!res.ok && (res.status < 300 || res.status >= 400)) {
          const text = await res.text().catch(() => "");
          throw new Error(`${what} failed: HTTP ${res.status} ${text.slice(0, 200)}`);
        }
        return res;
      };
      step("opening", url);
      await expectOk(await get(url), "opening the connect page");
      const userCode = code ?? decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "");
      const base = new URL(url).origin;
      step(`entering code ${userCode}`, `${base}/v1/connect/${userCode}`);
      const info = await fetchFn(`${base}/v1/connect/${encodeURIComponent(userCode)}`);
      await expectOk(info, "looking up the code");
      await info.body?.cancel();
      const conf = await fetchFn(`${base}/v1/connect/${encodeURIComponent(userCode)}/confirm`, {
        method: "POST",
      });
      await expectOk(conf, "confirming the code");
      const { connect_token } = await conf.json() as { connect_token: string };
      let next = `${base}/v1/oauth/authorize/${encodeURIComponent(userCode)}?connect_token=${
        encodeURIComponent(connect_token)
      }`;
      for (let hop = 0; hop < 8; hop++) {
        const u = new URL(next);
        const at = u.origin === new URL(auth0.url).origin
          ? "Auth0"
          : u.origin === new URL(google.url).origin
          ? "Google"
          : undefined;
        if (at && !u.pathname.endsWith("/approve")) {
          step(
            at === "Google"
              ? "granting Gmail access at Google"
              : u.pathname.startsWith("/connect")
              ? "granting Gmail access at Auth0 (Connected Accounts)"
              : "signing in at Auth0",
            next,
          );
          const page = await fetchFn(next);
          await expectOk(page, `the ${at} page`);
          const action = approveAction(await page.text());
          if (!action) throw new Error(`no approve form on ${u.pathname}`);
          const target = new URL(action, next).href;
          step("clicking the approve button", target);
          const res = await fetchFn(target, { method: "POST" });
          await expectOk(res, `approving at ${at}`);
          await res.body?.cancel();
          const loc = res.headers.get("location");
          if (!loc) throw new Error(`${at} approve answered ${res.status} without a redirect`);
          next = new URL(loc, target).href;
          step(
            "redirected back to the broker",
            next.replace(/([?&](?:code|connect_code)=)[^&]+/, "$1…"),
          );
          continue;
        }
        const res = await get(next);
        await expectOk(res, `GET ${u.pathname}`);
        const loc = res.headers.get("location");
        if (res.status >= 300 && res.status < 400 && loc) {
          next = new URL(loc, next).href;
          continue;
        }
        step("done: the broker has the result", next);
        return steps;
      }
      throw new Error("too many redirects in the simulated browser");
    };

    return {
      env,
      caFile,
      caPem,
      urls,
      auth0,
      broker,
      gmail,
      google,
      googleTokens,
      fetch: fetchFn,
      userCompletes,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
