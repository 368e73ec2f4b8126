/**
 * The broker's connect page (served by `mcs broker serve` and the emulator) (`/connect/{code}` and the code-entry page `/connect`) and
 * its script (`/static/connect.js`). Same flow as the LinkAuth frontend: look the code up,
 * confirm it, then continue to the OAuth provider or encrypt form fields in the browser
 * (RSA-OAEP-256 + AES-256-GCM, the real `crypto.js` layout) and submit them. Unlike the
 * original it loads no third-party script and is served with a strict CSP.
 *
 * Every view a person sees is a section of this one page: the flow's steps, the outcome views
 * the OAuth callback's redirect selects (`?status=success|denied`), and the views the broker
 * answers with directly on another path ({@link pageView}, e.g. the OAuth callback opened in
 * another browser than the one that started it), shown by the server without the script.
 *
 * @example
 * ```ts
 * import { CONNECT_HTML, pageView } from "./page.ts";
 * new Response(CONNECT_HTML, { headers: { "content-type": "text/html; charset=utf-8" } });
 * pageView("mismatch", 400); // the "finish in the browser where you started" page
 * ```
 * @module
 */

/** Security headers for the page. */
export const PAGE_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; " +
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

/** The page (the script reads the code from the path). */
export const CONNECT_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connect an agent</title>
<link rel="icon" href="data:,">
<style>
body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}
.code{font:700 2rem monospace;letter-spacing:.2em;padding:.5rem .75rem;border:2px solid #333;display:inline-block;border-radius:.25rem}
.hint{color:#444}
.banner{background:#fff3cd;padding:.5rem .75rem;border-radius:.25rem}
.error{color:#a00;font-weight:600}
a.button{display:inline-block;color:#fff;background:#1a56b0;text-decoration:none;border-radius:.25rem}
button{cursor:pointer}
:focus-visible{outline:3px solid #1a56b0;outline-offset:2px}
[hidden]{display:none}
label{display:block;margin:.75rem 0 .25rem}
input,textarea,select{width:100%;padding:.4rem;box-sizing:border-box}
button,a.button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}
</style>
<script src="/static/connect.js" defer></script>
</head>
<body>
<main>
<h1>Connect an agent</h1>
<p id="banner" class="banner" role="note" hidden></p>
<section id="enter" hidden>
  <p>Enter the code your agent shows you.</p>
  <form id="enter-form"><label for="code-input">Code</label>
  <input id="code-input" name="code" autocomplete="off" placeholder="ABCD-1234" required>
  <button type="submit" id="enter-submit">Continue</button></form>
</section>
<section id="confirm" hidden>
  <p>An agent asks for access: <strong id="display-name"></strong></p>
  <p>Only continue if this code is exactly the code your agent shows you:</p>
  <p class="code" id="code"></p>
  <p class="hint">If the codes differ, or you did not ask an agent for access, close this page.</p>
  <button type="button" id="confirm-button">The codes match: continue</button>
</section>
<section id="oauth" hidden>
  <p>Code confirmed. Continue to sign in.</p>
  <a class="button" id="oauth-link" href="#">Continue with <span id="oauth-name"></span></a>
</section>
<section id="form" hidden>
  <p>Code confirmed. The values you enter are encrypted in this browser for the agent.</p>
  <form id="fields-form"><div id="fields"></div><button type="submit" id="form-submit">Send</button></form>
</section>
<section id="success" hidden><h2>Done</h2><p id="success-text">Your agent now has access. You can close this window.</p></section>
<section id="denied" hidden><h2>Not connected</h2><p>The sign-in or consent was declined, so this code is no longer valid. Ask your agent for a new code if you want to try again.</p></section>
<section id="mismatch" hidden><h2>Finish in the browser where you started</h2>
  <p>This sign-in was started in a different browser from this one (or this browser blocked the cookie that links the two), so it cannot be finished here. Nothing was sent to your agent, and nothing was used up.</p>
  <p>Go back to the browser where you pressed Continue and finish signing in there. If you cannot, ask your agent for a new code, and open its link in the browser you sign in with, from start to end.</p></section>
<p id="error" class="error" role="alert" hidden></p>
</main>
</body>
</html>
`;

/** A view the broker answers with directly, outside the connect page's own flow. */
export type PageView = "mismatch";

/**
 * The connect page showing one view, answered with `status` and the page's headers: the view's
 * section is shown by the server (no script needed) and marked on `<html data-view>`, so the
 * script leaves it as it is.
 */
export function pageView(view: PageView, status: number): Response {
  const html = CONNECT_HTML.replace('<html lang="en">', `<html lang="en" data-view="${view}">`)
    .replace(`<section id="${view}" hidden>`, `<section id="${view}">`);
  return new Response(html, {
    status,
    headers: { "content-type": "text/html; charset=utf-8", ...PAGE_HEADERS },
  });
}

/**
 * The page's own assets by path: `/connect`, `/connect/{code}` (the page) and
 * `/static/connect.js`; `undefined` for any other path.
 */
export function pageAsset(path: string): Response | undefined {
  const type = path === "/connect" || /^\/connect\/[^/]+$/.test(path)
    ? "text/html"
    : path === "/static/connect.js"
    ? "text/javascript"
    : undefined;
  if (!type) return undefined;
  return new Response(type === "text/html" ? CONNECT_HTML : CONNECT_JS, {
    headers: { "content-type": `${type}; charset=utf-8`, ...PAGE_HEADERS },
  });
}

/** The page script. */
export const CONNECT_JS = `"use strict";
const $ = (id) => document.getElementById(id);
const show = (id) => { for (const s of ["enter","confirm","oauth","form","success","denied","mismatch"]) $(s).hidden = s !== id; };
const fail = (text) => { $("error").textContent = text; $("error").hidden = false; };
const b64 = (buf) => { let s = ""; for (const b of new Uint8Array(buf)) s += String.fromCharCode(b); return btoa(s); };
const unb64 = (t) => Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
async function api(method, path) {
  const res = await fetch(path, { method, headers: { accept: "application/json" } });
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new Error((body && typeof body.detail === "string" && body.detail) || "Request failed (" + res.status + ").");
  return body;
}
async function encrypt(publicKey, values) {
  const rsa = await crypto.subtle.importKey("spki", unb64(publicKey), { name: "RSA-OAEP", hash: "SHA-256" }, false, ["wrapKey"]);
  const aes = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aes, new TextEncoder().encode(JSON.stringify(values)));
  const wrapped = await crypto.subtle.wrapKey("raw", aes, rsa, { name: "RSA-OAEP" });
  return btoa(JSON.stringify({ wrapped_key: b64(wrapped), iv: b64(iv), ciphertext: b64(ct) }));
}
async function start(code) {
  const info = await api("GET", "/v1/connect/" + encodeURIComponent(code));
  if (info.security && info.security.message) { $("banner").textContent = info.security.message; $("banner").hidden = false; }
  $("display-name").textContent = info.display_name;
  $("code").textContent = info.code;
  show("confirm");
  $("confirm-button").focus();
  $("confirm-button").addEventListener("click", async () => {
    $("confirm-button").disabled = true;
    try {
      const { connect_token } = await api("POST", "/v1/connect/" + encodeURIComponent(info.code) + "/confirm");
      if (info.template_type === "oauth") {
        $("oauth-name").textContent = info.display_name;
        $("oauth-link").href = "/v1/oauth/authorize/" + encodeURIComponent(info.code) + "?connect_token=" + encodeURIComponent(connect_token);
        show("oauth");
        return;
      }
      const box = $("fields");
      for (const f of info.fields) {
        const label = document.createElement("label"); label.textContent = f.label; label.htmlFor = "f-" + f.name;
        let input;
        if (f.type === "textarea") input = document.createElement("textarea");
        else if (f.type === "select") { input = document.createElement("select"); for (const o of f.options || []) { const opt = document.createElement("option"); opt.value = o; opt.textContent = o; input.append(opt); } }
        else { input = document.createElement("input"); input.type = f.type === "password" ? "password" : "text"; }
        input.id = "f-" + f.name; input.name = f.name; input.required = !!f.required;
        box.append(label, input);
      }
      show("form");
      $("fields-form").addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const values = {};
        for (const f of info.fields) values[f.name] = $("f-" + f.name).value;
        try {
          const ciphertext = await encrypt(info.public_key, values);
          const res = await fetch("/v1/connect/" + encodeURIComponent(info.code) + "/complete", {
            method: "POST", headers: { "content-type": "application/json" },
            body: JSON.stringify({ ciphertext, algorithm: "RSA-OAEP-256+AES-256-GCM", connect_token }),
          });
          if (res.status !== 204) throw new Error("The broker refused the submission (" + res.status + ").");
          show("success");
        } catch (e) { fail(e.message); }
      });
    } catch (e) { fail(e.message); }
  });
}
addEventListener("DOMContentLoaded", () => {
  if (document.documentElement.dataset.view) return; // a view the broker chose (pageView)
  const params = new URLSearchParams(location.search);
  if (params.get("status") === "success") { show("success"); return; }
  if (params.get("status") === "denied") { show("denied"); return; }
  const m = location.pathname.match(/\\/connect\\/([A-Za-z0-9-]+)$/);
  if (m) { start(m[1]).catch((e) => fail(e.message)); return; }
  show("enter");
  $("enter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = $("code-input").value.trim().toUpperCase();
    history.replaceState(null, "", "/connect/" + encodeURIComponent(code));
    start(code).catch((e) => fail(e.message));
  });
});
`;
