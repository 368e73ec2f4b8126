/**
 * The small HTML pages of the Auth0 tenant emulator: the Universal Login stand-in behind
 * `/authorize` and the Connected Accounts consent page behind `connect_uri`. Each has one form
 * whose button approves the request, so a person can click through in a real browser.
 *
 * @example
 * ```ts
 * import { loginPage } from "./pages.ts";
 * const html = loginPage({ clientName: "mcs", email: "ada@example.com", approveUrl: "/authorize/approve?x=1", denyUrl: "/authorize/approve?x=1&deny=1" });
 * ```
 * @module
 */

/** Escape text for HTML element and attribute content. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}code{background:#eee;padding:0 .25rem}</style>
</head><body><p><small>Auth0 tenant emulator (mcs)</small></p>${body}</body></html>`;
}

/** Fields of the login page. */
export interface LoginPageInit {
  clientName: string;
  email: string;
  /** URL the approve form posts to (query carries the original authorize parameters). */
  approveUrl: string;
  denyUrl: string;
  connection?: string;
  scopes?: string[];
}

/** The `/authorize` page. */
export function loginPage(p: LoginPageInit): string {
  const scopes = (p.scopes ?? []).map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join("");
  return layout(
    "Log in",
    `<h1>Log in to ${escapeHtml(p.clientName)}</h1>
<p>Continue as <strong>${escapeHtml(p.email)}</strong>${
      p.connection ? ` with <code>${escapeHtml(p.connection)}</code>` : ""
    }.</p>
${scopes ? `<p>Requested scopes:</p><ul>${scopes}</ul>` : ""}
<form method="post" action="${
      escapeHtml(p.approveUrl)
    }"><button id="approve" type="submit">Continue</button></form>
<form method="post" action="${
      escapeHtml(p.denyUrl)
    }"><button id="deny" type="submit">Cancel</button></form>`,
  );
}

/** Fields of the consent page. */
export interface ConsentPageInit {
  connection: string;
  email: string;
  scopes: string[];
  approveUrl: string;
  denyUrl: string;
}

/** The Connected Accounts consent page (`connect_uri?ticket=…`). */
export function consentPage(p: ConsentPageInit): string {
  const scopes = p.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join("");
  return layout(
    "Connect your account",
    `<h1>Connect ${escapeHtml(p.connection)}</h1>
<p>Allow the application to access <strong>${
      escapeHtml(p.email)
    }</strong> with:</p><ul>${scopes}</ul>
<form method="post" action="${
      escapeHtml(p.approveUrl)
    }"><button id="approve" type="submit">Allow</button></form>
<form method="post" action="${
      escapeHtml(p.denyUrl)
    }"><button id="deny" type="submit">Deny</button></form>`,
  );
}

/** A plain error page (Auth0 shows one instead of redirecting on a bad client or callback). */
export function errorPage(title: string, detail: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p>`);
}
