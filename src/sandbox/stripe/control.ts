/**
 * The `/_sandbox/*` side door (no auth): inspect and reset the state, queue injected failures,
 * and the hosted invoice pages that finalized invoices link to.
 */
import { formatMoney } from './errors.ts';
import type { StripeStore } from './store.ts';
import type { FailureRule } from './types.ts';

export interface ControlAnswer {
  status: number;
  contentType: string;
  body: string;
}

const json = (status: number, value: unknown): ControlAnswer => ({
  status,
  contentType: 'application/json',
  body: JSON.stringify(value, null, 2),
});

export function parseFailureRule(body: string): FailureRule | string {
  let raw: unknown;
  try {
    raw = body.trim() ? JSON.parse(body) : {};
  } catch {
    return 'body must be JSON, e.g. {"status": 500} or {"drop": "after_commit", "path": "/v1/refunds"}';
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return 'body must be a JSON object';
  const r = raw as Record<string, unknown>;
  const rule: FailureRule = {};
  if (r.status !== undefined) {
    if (typeof r.status !== 'number' || !Number.isInteger(r.status) || r.status < 400 || r.status > 599) {
      return 'status must be an integer HTTP error status (400-599)';
    }
    rule.status = r.status;
  }
  if (r.drop !== undefined) {
    if (r.drop !== 'before_commit' && r.drop !== 'after_commit') return 'drop must be "before_commit" or "after_commit"';
    rule.drop = r.drop;
  }
  if (rule.status === undefined && rule.drop === undefined) return 'give either status or drop';
  if (rule.status !== undefined && rule.drop !== undefined) return 'give status or drop, not both';
  for (const k of ['code', 'message', 'path', 'method'] as const) {
    const v = r[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') return `${k} must be a string`;
    rule[k] = k === 'method' ? v.toUpperCase() : v;
  }
  if (r.count !== undefined) {
    if (typeof r.count !== 'number' || !Number.isInteger(r.count) || r.count < 1) return 'count must be a positive integer';
    rule.count = r.count;
  }
  return rule;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function invoicePage(store: StripeStore, id: string): ControlAnswer {
  const inv = store.state.invoices[id];
  if (!inv || inv.status === 'draft') return { status: 404, contentType: 'text/plain', body: 'No such invoice' };
  const money = (n: number) => formatMoney(n, inv.currency);
  const rows = inv.lines.data
    .map((l) => `<tr><td>${escapeHtml(l.description ?? '')}</td><td>${money(l.amount)}</td></tr>`)
    .join('');
  const body = `<!doctype html><meta charset="utf-8"><title>Invoice ${escapeHtml(inv.number ?? inv.id)}</title>
<h1>Invoice ${escapeHtml(inv.number ?? inv.id)}</h1>
<p>${escapeHtml(inv.customer_name ?? '')} &lt;${escapeHtml(inv.customer_email ?? '')}&gt; — status: ${inv.status}</p>
<table><tr><th>Item</th><th>Amount</th></tr>${rows}</table>
<p><strong>Amount due: ${money(inv.amount_due)}</strong></p>
<p><small>Stripe sandbox (Interlock) — not a real invoice.</small></p>`;
  return { status: 200, contentType: 'text/html; charset=utf-8', body };
}

export function handleControl(
  method: string,
  pathname: string,
  body: string,
  ctx: { store: StripeStore; reset(): void; queueFailure(rule: FailureRule): number },
): ControlAnswer {
  if (method === 'GET' && pathname === '/_sandbox/state') return json(200, ctx.store.state);
  if (method === 'POST' && pathname === '/_sandbox/reset') {
    ctx.reset();
    return json(200, { ok: true });
  }
  if (method === 'POST' && pathname === '/_sandbox/fail-next') {
    const rule = parseFailureRule(body);
    if (typeof rule === 'string') return json(400, { error: { type: 'invalid_request_error', message: rule } });
    return json(200, { ok: true, queued: ctx.queueFailure(rule) });
  }
  // A dispute is opened by the customer's bank, never through the API: the side door stands in for it.
  const dispute = /^\/_sandbox\/charges\/([A-Za-z0-9_]+)\/dispute$/.exec(pathname);
  if (method === 'POST' && dispute) {
    const charge = ctx.store.state.charges[dispute[1] ?? ''];
    if (!charge) return json(404, { error: { type: 'invalid_request_error', message: `No such charge: '${dispute[1]}'` } });
    charge.disputed = true;
    return json(200, charge);
  }
  const inv = /^\/_sandbox\/invoices\/([A-Za-z0-9_]+)$/.exec(pathname);
  if (method === 'GET' && inv) return invoicePage(ctx.store, inv[1] ?? '');
  return json(404, { error: { type: 'invalid_request_error', message: `Unknown sandbox route ${method} ${pathname}` } });
}
