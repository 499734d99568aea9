import type { AccountSummary } from '../../connectors/oauth/credentials.ts';
import type { ConnectorConfig } from '../../workflows/types.ts';
import { type Html, html, isoTime } from './html.ts';

/** One connector as the connectors page shows it: where it points, how it authenticates, whether it is logged in. */
export interface ConnectorView {
  config: ConnectorConfig;
  state: string;
  account?: AccountSummary | undefined;
}

function authCell(v: ConnectorView, canConnect: boolean): Html {
  const a = v.config.auth;
  if (a.type !== 'oauth') return html`<span class="muted">${a.type}</span>`;
  const acct = v.account;
  const status = acct?.status ?? 'login_required';
  const who = acct?.subject ? html` as <b>${acct.subject}</b>` : '';
  const detail =
    status === 'connected'
      ? html`<span class="badge s-succeeded" data-oauth-status="${v.config.id}">connected</span>${who}
${acct?.scopes?.length ? html`<div class="muted">scopes: <code>${acct.scopes.join(' ')}</code></div>` : ''}
${acct?.expiresAt ? html`<div class="muted">token expires <time datetime="${isoTime(acct.expiresAt)}">${isoTime(acct.expiresAt)}</time> (refreshed by itself)</div>` : ''}`
      : html`<span class="badge s-needs_attention" data-oauth-status="${v.config.id}">login required</span>
${acct?.reason ? html`<div class="muted">${acct.reason}</div>` : ''}`;
  const button =
    canConnect && a.grant === 'authorization_code'
      ? html`<div class="actions"><button class="approve" data-connect="${v.config.id}">${status === 'connected' ? 'Reconnect' : 'Connect'}</button><span class="outcome"></span></div>`
      : '';
  return html`<div>oauth (${a.grant.replace('_', ' ')})</div>${detail}${button}`;
}

/** The connectors table; the Connect button (admin only) starts a login and follows its URL. */
export function connectorsTable(views: ConnectorView[], canConnect: boolean): Html {
  if (views.length === 0) return html`<p class="empty">No connectors are configured.</p>`;
  return html`<table class="connectors"><thead><tr><th>Connector</th><th>Transport</th><th>State</th><th>Auth</th></tr></thead>
<tbody>${views.map(
    (v) => html`<tr data-connector="${v.config.id}"><td><code>${v.config.id}</code></td><td>${v.config.transport.type}</td>
<td>${v.state}</td><td>${authCell(v, canConnect)}</td></tr>`,
  )}</tbody></table>`;
}
