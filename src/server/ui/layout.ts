import type { Principal } from '../auth.ts';
import { CLIENT_SCRIPT } from './script.ts';
import { Html, html } from './html.ts';

const CSS = `
:root { --fg:#1d2330; --muted:#5d6677; --line:#d9dee7; --bg:#f6f7f9; --card:#fff; --accent:#2755d6;
  --ok:#17803d; --bad:#b42318; --warn:#a15c00; --wait:#6941c6; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
body { margin:0; background:var(--bg); color:var(--fg); }
header.top { display:flex; gap:1.5rem; align-items:center; padding:.7rem 1.5rem; background:#111827; color:#fff; }
header.top a { color:#cfd8ff; text-decoration:none; } header.top a:hover { text-decoration:underline; }
header.top .brand { font-weight:700; color:#fff; letter-spacing:.02em; }
header.top .who { margin-left:auto; color:#aab3c5; font-size:.85rem; }
main { max-width:1100px; margin:0 auto; padding:1.2rem 1.5rem 3rem; }
h1 { font-size:1.35rem; margin:.4rem 0 1rem; } h2 { font-size:1.1rem; margin:1.6rem 0 .6rem; }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:.5rem .75rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.8rem; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); background:#fafbfc; }
tr:last-child td { border-bottom:none; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size:.85rem; }
pre { background:#0f172a; color:#e2e8f0; padding:.7rem .9rem; border-radius:6px; overflow:auto; margin:.3rem 0 .6rem; max-height:28rem; }
a { color:var(--accent); }
.badge { display:inline-block; padding:.08rem .5rem; border-radius:999px; font-size:.78rem; font-weight:600; background:#eef0f4; color:var(--muted); white-space:nowrap; }
.s-succeeded,.s-approved { background:#dcfae6; color:var(--ok); } .s-failed,.s-denied,.s-cancelled,.s-expired { background:#fee4e2; color:var(--bad); }
.s-awaiting_confirmation,.s-pending { background:#f4ebff; color:var(--wait); } .s-needs_attention,.s-in_doubt { background:#fef0c7; color:var(--warn); }
.s-running,.s-queued { background:#e0eaff; color:var(--accent); }
.card { background:var(--card); border:1px solid var(--line); border-left:4px solid var(--wait); border-radius:8px; padding:1rem 1.2rem; margin:0 0 1rem; }
.card h3 { margin:0 0 .3rem; font-size:1.05rem; } .card .meta { color:var(--muted); font-size:.85rem; margin-bottom:.6rem; }
.card dl { display:grid; grid-template-columns: 11rem 1fr; gap:.25rem .8rem; margin:.4rem 0; } .card dt { color:var(--muted); font-size:.85rem; } .card dd { margin:0; }
.annotations .badge { margin-right:.3rem; } .hint-write { background:#fee4e2; color:var(--bad); }
.actions { display:flex; gap:.8rem; align-items:center; margin-top:.6rem; flex-wrap:wrap; }
fieldset.remember { flex-basis:100%; border:1px solid #d0d5dd; border-radius:6px; padding:.4rem .8rem; display:flex; flex-direction:column; gap:.3rem; }
fieldset.remember ul.fields { list-style:none; margin:0 0 0 1.6rem; padding:0; }
pre.plan-words { white-space:pre-wrap; }
table.grants td { vertical-align:top; }
button { font:inherit; font-weight:600; padding:.45rem 1.1rem; border-radius:6px; border:1px solid transparent; cursor:pointer; }
button.approve { background:var(--ok); color:#fff; } button.deny { background:#fff; color:var(--bad); border-color:var(--bad); }
button:disabled { opacity:.5; cursor:default; }
.outcome { font-weight:600; } .error { color:var(--bad); font-weight:600; }
.notice { background:#fffaeb; border:1px solid #fedf89; padding:.6rem .9rem; border-radius:6px; margin:.6rem 0 1rem; }
.empty { color:var(--muted); font-style:italic; }
.step { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.8rem 1rem; margin:0 0 .8rem; }
.step h3 { margin:0 0 .3rem; font-size:1rem; display:flex; gap:.6rem; align-items:center; }
.muted { color:var(--muted); font-size:.85rem; }
.branches { display:flex; gap:.8rem; flex-wrap:wrap; margin:.4rem 0; } .branch { flex:1; min-width:14rem; border:1px dashed var(--line); border-radius:6px; padding:.4rem .6rem; }
table.items td { padding:.25rem .5rem; font-size:.85rem; }
`;

export interface PageOptions {
  title: string;
  body: Html;
  nonce: string;
  principal: Principal | undefined;
  /** data the client script reads: which live feed to follow */
  live: { kind: 'home' } | { kind: 'run'; runId: string } | { kind: 'none' };
}

export function page(o: PageOptions): Html {
  const who = o.principal ? html`${o.principal.name} · ${o.principal.scopes.join(', ')}` : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · Interlock</title><link rel="icon" href="data:,"><style nonce="${o.nonce}">${new Html(CSS)}</style></head>
<body data-live="${o.live.kind}" data-run="${o.live.kind === 'run' ? o.live.runId : ''}">
<header class="top"><a class="brand" href="/ui">Interlock</a><a href="/ui">Runs</a><a href="/ui/confirmations">Confirmations</a><a href="/ui/connectors">Connectors</a><a href="/ui/grants">Grants</a><a href="/ui/triggers">Triggers</a>
<a href="/admin/queues">Queues</a><a href="/api/v1/openapi.json">API</a><span class="who">${who}</span></header>
<main>${o.body}</main>
<script nonce="${o.nonce}">${new Html(CLIENT_SCRIPT)}</script>
</body></html>`;
}

/** A page for errors on browser routes, e.g. how to sign in after a 401. No script, no data. */
export function messagePage(title: string, message: string, hint?: Html): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} · Interlock</title><link rel="icon" href="data:,"></head>
<body style="font: 15px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; color: #1d2330">
<h1 style="font-size: 1.3rem">${title}</h1><p>${message}</p>${hint ?? ''}</body></html>`;
}
