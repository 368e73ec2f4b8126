/**
 * The `auth0-linkauth` chain's test world: the Auth0 tenant emulator, the LinkAuth broker and the
 * Gmail emulator, all over HTTPS with one throwaway CA, sharing a Google token registry and one
 * shiftable clock; the agent runner (each step its own process, sharing only the cache
 * directory); and the person's browser steps done as plain HTTP requests that follow redirects
 * and submit the pages' forms the way a browser would.
 *
 * @example
 * ```ts
 * import { chainWorld } from "./_world.ts";
 * await using w = await chainWorld();
 * const first = await w.agent();          // { challenge: { step: "login", url, code } }
 * await w.personSignsIn(first.challenge!.code!);
 * // or, step by step with the default person (or `personInBrowser(...)`):
 * await w.agentAsks("connect");
 * await w.agentReads();
 * ```
 * @module
 */
import { startAuth0Emulator } from "../../lib/emulators/auth0/server.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { GoogleTokenRegistry } from "../../lib/emulators/google_tokens.ts";
import { startLinkAuthBroker } from "../../lib/emulators/linkauth/mod.ts";
import { createTestCA } from "../../lib/emulators/tls.ts";
import type { FetchLike } from "../../lib/net/types.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { browserPerson, type PersonInput } from "../support/browser.ts";
import { auth0Provider } from "../support/emulators.ts";
import { runDenoJson } from "../support/process.ts";
import { type BrokerProcess, spawnBroker } from "../broker/_process.ts";
import type { AgentInput, AgentOutput } from "./fixtures/agent.ts";

const AGENT = new URL("./fixtures/agent.ts", import.meta.url).pathname;
const API_KEY = "chain-agent-key";

/** The person's part of one step: act on the challenge's `url` and `code`. */
export type Person = (challenge: { url: string; code: string }) => Promise<void>;

/**
 * The person in headless Chromium ({@link browserPerson}): `entry` `link` opens the challenge's
 * link, `code` types its code at the broker's code-entry page; the page must show the code, the
 * Auth0 page's heading must be `auth0Heading`, and the broker's success page must be reached.
 * Screenshots go to `shots` when given.
 */
export function personInBrowser(
  entry: PersonInput["entry"],
  auth0Heading: string,
  shots?: PersonInput["shots"],
): Person {
  return async ({ url, code }) => {
    const seen = await browserPerson({ entry, url, code, shots });
    assert(seen.ok, seen.error);
    assertEquals(seen.shown, code);
    assertEquals(seen.auth0Heading, auth0Heading);
  };
}

/** Options of {@link chainWorld}. */
export interface ChainWorldOptions {
  /** Relay every Auth0 call of the agent through the broker (`MCS_AUTH0_VIA_BROKER`). */
  viaBroker?: boolean;
  /**
   * Point the agent and the person at a real `mcs broker serve` process (HTTPS with the world's
   * CA, state in the world's directory) instead of the in-process emulator; `w.brokerProcess`
   * then restarts or stops it. Extra environment for it in `brokerEnv`.
   */
  brokerProcess?: boolean;
  brokerEnv?: Record<string, string>;
  /**
   * With `brokerProcess`: start a second `mcs broker serve` with the same environment
   * (`brokerEnv` should then name a shared store, `MCS_STORE`), as `w.brokerReplica`.
   */
  brokerReplica?: boolean;
}

/** Build the world; dispose it with `await using`. */
export async function chainWorld(options: ChainWorldOptions = {}) {
  let offset = 0;
  const now = () => Date.now() + offset;
  const ca = await createTestCA();
  const tls = await ca.issue(["127.0.0.1"]);
  const client = Deno.createHttpClient({ caCerts: [ca.caPem] });
  const httpsFetch: FetchLike = (input, init) => fetch(input, { ...init, client });
  const googleTokens = new GoogleTokenRegistry(now);
  // The tenant accepts exactly the broker's callback (added once the broker listens): no
  // loopback wildcard, as a real tenant configured for the broker.
  const auth0 = await startAuth0Emulator({
    tls,
    now,
    googleTokens,
    allowLoopbackCallbacks: false,
  });
  const broker = await startLinkAuthBroker({
    tls,
    now,
    apiKeys: [API_KEY],
    providers: { auth0: auth0Provider(auth0) },
    allowedHosts: [new URL(auth0.url).hostname],
    fetch: httpsFetch,
  });
  auth0.addCallbackUrl(`${broker.url}/v1/oauth/callback`);
  const gmail = await startGmailEmulator({ googleTokens, tls, seed: true, now });
  const dir = await Deno.makeTempDir({ prefix: "mcs-chain-" });
  let brokerProcess: BrokerProcess | undefined;
  let brokerReplica: BrokerProcess | undefined;
  if (options.brokerProcess) {
    await Deno.writeTextFile(`${dir}/broker-cert.pem`, tls.cert);
    await Deno.writeTextFile(`${dir}/broker-key.pem`, tls.key, { mode: 0o600 });
    await Deno.writeTextFile(`${dir}/ca.pem`, ca.caPem);
    const brokerEnv = {
      LINKAUTH_API_KEYS: API_KEY,
      LINKAUTH_ALLOWED_DOMAINS: new URL(auth0.url).hostname,
      OAUTH_AUTH0_CLIENT_ID: auth0.clientId,
      OAUTH_AUTH0_CLIENT_SECRET: auth0.clientSecret,
      OAUTH_AUTH0_AUTH_URL: `${auth0.url}/authorize`,
      OAUTH_AUTH0_TOKEN_URL: `${auth0.url}/oauth/token`,
      MCS_BROKER_STATE_DIR: `${dir}/broker-state`,
      MCS_BROKER_TLS_CERT: `${dir}/broker-cert.pem`,
      MCS_BROKER_TLS_KEY: `${dir}/broker-key.pem`,
      MCS_CA_FILE: `${dir}/ca.pem`,
      ...options.brokerEnv,
    };
    brokerProcess = await spawnBroker(brokerEnv);
    auth0.addCallbackUrl(`${brokerProcess.url}/v1/oauth/callback`);
    if (options.brokerReplica) {
      brokerReplica = await spawnBroker(brokerEnv);
      auth0.addCallbackUrl(`${brokerReplica.url}/v1/oauth/callback`);
    }
  }
  /** Where the agent and the person go: the broker process when there is one. */
  const brokerUrl = () => brokerProcess?.url ?? broker.url;
  /** Where the person's browser goes (the agent's broker unless {@link personAt} changed it). */
  let personBroker: string | undefined;
  const personUrl = () => personBroker ?? brokerUrl();
  const cacheDir = `${dir}/cache`;
  const hostPort = (url: string) => new URL(url).host;

  /** One agent step in its own process; `net` lists the hosts it may reach. */
  const agent = async (
    extra: { viaBroker?: boolean; allowNet?: string[]; brokerUrl?: string } = {},
  ): Promise<AgentOutput> => {
    const viaBroker = extra.viaBroker ?? options.viaBroker ?? false;
    const broker = extra.brokerUrl ?? brokerUrl();
    // With the relay the agent may reach the broker and Gmail only: a direct Auth0 call would be
    // a permission error, so a passing relayed step proves every Auth0 call went via the broker.
    const allowNet = extra.allowNet ??
      [hostPort(broker), hostPort(gmail.url), ...(viaBroker ? [] : [hostPort(auth0.url)])];
    const input: AgentInput = {
      cacheDir,
      auth0Domain: auth0.url,
      clientId: auth0.clientId,
      clientSecret: auth0.clientSecret,
      brokerUrl: broker,
      apiKey: API_KEY,
      gmailUrl: gmail.url,
      caPem: ca.caPem,
      nowOffsetMs: offset,
      viaBroker,
    };
    return await runDenoJson<AgentOutput>(AGENT, {
      perms: [`--allow-net=${allowNet.join(",")}`, `--allow-read=${dir}`, `--allow-write=${dir}`],
      input,
    });
  };

  /**
   * The person's cookies, as a browser keeps them for the host (all the servers are on
   * 127.0.0.1, and cookies ignore the port): name, value and path; the broker's
   * browser-binding cookie is the one that matters.
   */
  const jar = new Map<string, { value: string; path: string }>();
  const keepCookie = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";").map((x) => x.trim());
      const i = pair.indexOf("=");
      const path = attrs.find((a) => /^path=/i.test(a))?.slice(5) ?? "/";
      const gone = attrs.some((a) => /^max-age=0$/i.test(a));
      if (gone) jar.delete(pair.slice(0, i));
      else jar.set(pair.slice(0, i), { value: pair.slice(i + 1), path });
    }
  };

  /** GET (with the person's cookies) without following redirects; status, location, body. */
  const get = async (url: string) => {
    const u = new URL(url);
    const cookie = [...jar].filter(([, c]) => u.pathname.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`).join("; ");
    const res = await httpsFetch(url, {
      redirect: "manual",
      headers: cookie ? { cookie } : {},
    });
    keepCookie(res);
    return { status: res.status, location: res.headers.get("location"), text: await res.text() };
  };

  /** Submit the page's `#approve` (or `#deny`) form (its `action`, HTML-unescaped, resolved against `pageUrl`). */
  const submitApprove = async (pageUrl: string, html: string, button = "approve") => {
    const m = new RegExp(`<form method="post" action="([^"]+)"><button id="${button}"`).exec(html);
    assert(m, `the page has an ${button} form`);
    const action = new URL(m[1].replaceAll("&amp;", "&"), pageUrl).href;
    const res = await httpsFetch(action, { method: "POST", redirect: "manual" });
    await res.body?.cancel();
    assertEquals(res.status, 302);
    return res.headers.get("location")!;
  };

  /**
   * The person at the broker: open the page, look the code up, confirm it, continue. Returns
   * where "Continue" leads (the Auth0 authorize or consent URL).
   */
  const personConfirms = async (code: string) => {
    const page = await get(`${personUrl()}/connect/${code}`);
    assertEquals(page.status, 200);
    const info = await (await httpsFetch(`${personUrl()}/v1/connect/${code}`)).json();
    assertEquals([info.code, info.template_type, info.security?.secure], [code, "oauth", true]);
    const confirmed = await httpsFetch(`${personUrl()}/v1/connect/${code}/confirm`, {
      method: "POST",
    });
    assertEquals(confirmed.status, 200);
    const { connect_token } = await confirmed.json();
    const go = await get(
      `${personUrl()}/v1/oauth/authorize/${code}?connect_token=${
        encodeURIComponent(connect_token)
      }`,
    );
    assertEquals(go.status, 302);
    return go.location!;
  };

  /** Back at the broker's callback: it must land on the success page. */
  const backAtBroker = async (code: string, callback: string) => {
    // With replicas the callback may reach another one (the redirect_uri its session named).
    const at = brokerReplica
      ? [brokerProcess!.url, brokerReplica.url].find((u) => callback.startsWith(`${u}/`))
      : personUrl();
    assert(at && callback.startsWith(`${at}/v1/oauth/callback?`), callback);
    const back = await get(callback);
    assertEquals([back.status, back.location], [302, `${at}/connect/${code}?status=success`]);
  };

  /** Login: confirm the code, sign in at the tenant's Universal Login, back to the broker. */
  const personSignsIn = async (code: string) => {
    const authorize = await personConfirms(code);
    assert(authorize.startsWith(`${auth0.url}/authorize?`), authorize);
    const login = await get(authorize);
    assertEquals(login.status, 200, login.text);
    await backAtBroker(code, await submitApprove(authorize, login.text));
  };

  /** Connect: confirm the code, allow at the tenant's consent page, back to the broker. */
  const personConnects = async (code: string) => {
    const consentUrl = await personConfirms(code);
    assert(consentUrl.startsWith(`${auth0.url}/connect?ticket=`), consentUrl);
    const consent = await get(consentUrl);
    assertEquals(consent.status, 200, consent.text);
    const callback = await submitApprove(consentUrl, consent.text);
    assert(new URL(callback).searchParams.get("connect_code"), "consent gives a connect_code");
    await backAtBroker(code, callback);
  };

  /** Connect, but the person cancels at the consent page: back at the broker's denied view. */
  const personDeniesConsent = async (code: string) => {
    const consentUrl = await personConfirms(code);
    const consent = await get(consentUrl);
    assertEquals(consent.status, 200, consent.text);
    const callback = await submitApprove(consentUrl, consent.text, "deny");
    assert(callback.startsWith(`${personUrl()}/v1/oauth/callback?`), callback);
    const back = await get(callback);
    return { status: back.status, location: back.location };
  };

  /**
   * One agent run that must stop at `step`'s challenge; `person` does the step (default: the
   * plain-HTTP {@link personSignsIn} or {@link personConnects}), then every clock moves past the
   * poll interval. Returns the agent's output.
   */
  const agentAsks = async (step: "login" | "connect", person?: Person) => {
    const out = await agent();
    assertEquals(out.challenge?.step, step, JSON.stringify(out));
    const challenge = { url: out.challenge!.url!, code: out.challenge!.code! };
    if (person) await person(challenge);
    else if (step === "login") await personSignsIn(challenge.code);
    else await personConnects(challenge.code);
    offset += 6_000;
    return out;
  };

  /** One agent run that must end with the Gmail search's messages. */
  const agentReads = async () => {
    const done = await agent();
    assert(done.ok && done.messages! > 0, JSON.stringify(done));
    return done;
  };

  return {
    personDeniesConsent,
    agentAsks,
    agentReads,
    auth0,
    broker,
    brokerProcess,
    brokerReplica,
    brokerUrl,
    /** Send the person's browser to another broker (a replica); `undefined`: the agent's. */
    personAt: (url: string | undefined) => (personBroker = url),
    /** HTTP client trusting the world's CA. */
    client,
    gmail,
    ca,
    dir,
    cacheDir,
    agent,
    personConfirms,
    personSignsIn,
    personConnects,
    /** Move every clock (emulators and the next agent processes) forward. */
    advance: (ms: number) => (offset += ms),
    async [Symbol.asyncDispose]() {
      await Promise.all([
        auth0.close(),
        broker.close(),
        gmail.close(),
        brokerProcess?.close(),
        brokerReplica?.close(),
      ]);
      client.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The world's type. */
export type ChainWorld = Awaited<ReturnType<typeof chainWorld>>;
