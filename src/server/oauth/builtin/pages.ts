import { Html, html } from '../../ui/html.ts';

/**
 * The sign-in and consent pages of the built-in authorization server: plain forms, no script,
 * the colours of /ui. Each form posts to its own URL with a CSRF field bound to the interaction.
 */
const CSS = `
:root { --fg:#1d2330; --muted:#5d6677; --line:#d9dee7; --bg:#f6f7f9; --card:#fff; --accent:#2755d6; --ok:#17803d; --bad:#b42318;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
body { margin:0; background:var(--bg); color:var(--fg); }
header.top { padding:.7rem 1.5rem; background:#111827; color:#fff; font-weight:700; letter-spacing:.02em; }
main { max-width:28rem; margin:2.5rem auto; padding:0 1rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:1.2rem 1.4rem; }
h1 { font-size:1.3rem; margin:0 0 .8rem; }
label { display:block; font-weight:600; margin:.8rem 0 .25rem; }
input[type=text], input[type=password] { font:inherit; width:100%; box-sizing:border-box; padding:.45rem .6rem; border:1px solid var(--line); border-radius:6px; }
input:focus, button:focus { outline:3px solid #9db4f5; outline-offset:1px; }
.actions { display:flex; gap:.8rem; margin-top:1.2rem; flex-wrap:wrap; }
button { font:inherit; font-weight:600; padding:.5rem 1.2rem; border-radius:6px; border:1px solid transparent; cursor:pointer; }
button.approve { background:var(--ok); color:#fff; } button.deny { background:#fff; color:var(--bad); border-color:var(--bad); }
.muted { color:var(--muted); font-size:.88rem; } .error { color:var(--bad); font-weight:600; }
ul.scopes { padding-left:1.2rem; } ul.scopes li { margin:.2rem 0; } code { font-family: ui-monospace, Menlo, Consolas, monospace; }
`;

function shell(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · Interlock</title><link rel="icon" href="data:,"><style>${new Html(CSS)}</style></head>
<body><header class="top" role="banner">Interlock</header><main><div class="card">${body}</div></main></body></html>`.value;
}

export interface LoginView {
  action: string;
  csrf: string;
  clientName: string;
  error?: string;
  username?: string;
}

export function loginPage(v: LoginView): string {
  return shell(
    'Sign in',
    html`<h1>Sign in to Interlock</h1>
<p class="muted"><b>${v.clientName}</b> asks to use Interlock on your behalf.</p>
${v.error ? html`<p class="error" role="alert">${v.error}</p>` : ''}
<form method="post" action="${v.action}">
<input type="hidden" name="csrf" value="${v.csrf}">
<label for="username">User name</label>
<input id="username" type="text" name="username" autocomplete="username" autocapitalize="none" required value="${v.username ?? ''}" ${v.username ? '' : new Html('autofocus')}>
<label for="password">Password</label>
<input id="password" type="password" name="password" autocomplete="current-password" required ${v.username ? new Html('autofocus') : ''}>
<div class="actions"><button type="submit" class="approve" name="action" value="login">Sign in</button>
<button type="submit" class="deny" name="action" value="cancel" formnovalidate>Cancel</button></div>
</form>`,
  );
}

/** What each scope lets a client do, in the words a person deciding needs. */
export const SCOPE_TEXT: Record<string, string> = {
  read: 'list workflows and read runs',
  trigger: 'start workflow runs (every write still waits for a person to approve it)',
  confirm: 'approve or deny writes in your name',
  admin: 'change connectors and tools, and see the queues',
};

export interface ConsentView {
  action: string;
  csrf: string;
  clientName: string;
  redirectHost: string;
  user: string;
  /** Interlock scopes granted, with the token scope names */
  scopes: Array<{ scope: string; tokenScope: string }>;
  /** scopes asked for that this person does not have */
  refused: string[];
}

export function consentPage(v: ConsentView): string {
  return shell(
    'Allow access',
    html`<h1>Allow ${v.clientName} to use Interlock?</h1>
<p class="muted">Signed in as <b>${v.user}</b>. After you allow it, you return to <code>${v.redirectHost}</code>.</p>
${
  v.scopes.length > 0
    ? html`<p>It will be able to:</p><ul class="scopes">${v.scopes.map(
        (s) => html`<li><b>${s.scope}</b>: ${SCOPE_TEXT[s.scope] ?? s.tokenScope}</li>`,
      )}</ul>`
    : html`<p class="error">None of what it asks for is allowed to you, so it would be able to do nothing.</p>`
}
${v.refused.length > 0 ? html`<p class="muted">Not granted (not allowed to you): ${v.refused.join(', ')}</p>` : ''}
<form method="post" action="${v.action}">
<input type="hidden" name="csrf" value="${v.csrf}">
<div class="actions"><button type="submit" class="approve" name="action" value="allow" ${v.scopes.length === 0 ? new Html('disabled') : ''}>Allow</button>
<button type="submit" class="deny" name="action" value="deny">Deny</button></div>
</form>`,
  );
}

export function errorPage(title: string, message: string): string {
  return shell(title, html`<h1>${title}</h1><p>${message}</p>`);
}
