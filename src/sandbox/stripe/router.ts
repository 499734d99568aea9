/**
 * The route table's shape and Stripe's `expand[]`: ids in answers become the objects they name,
 * on a copy, so expanding never writes into the state.
 */
import { invalidRequest, unrecognizedUrl } from './errors.ts';
import type { Params } from './params.ts';
import type { StripeStore } from './store.ts';

export interface RouteContext {
  params: Params;
  path: Record<string, string>;
  store: StripeStore;
}

export interface Route {
  method: 'GET' | 'POST';
  /** `/v1/charges/:id`; literal segments win over `:params` by table order */
  pattern: string;
  handler: (ctx: RouteContext) => unknown;
}

export function matchRoute(
  routes: readonly Route[],
  method: string,
  pathname: string,
): { route: Route; path: Record<string, string> } {
  const segs = pathname.split('/').filter(Boolean);
  for (const route of routes) {
    if (route.method !== method) continue;
    const pat = route.pattern.split('/').filter(Boolean);
    if (pat.length !== segs.length) continue;
    const path: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pat.length && ok; i++) {
      const p = pat[i] ?? '';
      const s = decodeURIComponent(segs[i] ?? '');
      if (p.startsWith(':')) path[p.slice(1)] = s;
      else ok = p === s;
    }
    if (ok) return { route, path };
  }
  throw unrecognizedUrl(method, pathname);
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Which fields of which object kinds can be expanded, and where their ids point. */
const EXPANDABLE: Record<string, readonly string[]> = {
  charge: ['customer', 'balance_transaction', 'refunds'],
  refund: ['charge', 'balance_transaction'],
  invoice: ['customer'],
  invoiceitem: ['customer', 'invoice'],
  balance_transaction: ['source'],
  list: ['data'],
  search_result: ['data'],
};

function lookup(store: StripeStore, id: string): Json | undefined {
  const s = store.state;
  const hit =
    s.customers[id] ?? s.charges[id] ?? s.refunds[id] ?? s.balanceTransactions[id] ?? s.invoices[id] ?? s.invoiceItems[id];
  return hit === undefined ? undefined : (structuredClone(hit) as unknown as Json);
}

function expandOne(value: Json, path: string[], store: StripeStore, full: string): Json {
  const [field, ...rest] = path;
  if (field === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const kind = typeof value.object === 'string' ? value.object : '';
  if (!field || !(EXPANDABLE[kind] ?? []).includes(field)) {
    throw invalidRequest(`This property cannot be expanded (${full}).`, undefined, 'expand');
  }
  const current = value[field];
  if (kind === 'list' || kind === 'search_result') {
    if (Array.isArray(current)) value[field] = current.map((item) => expandOne(item, rest, store, full));
    return value;
  }
  let next: Json | undefined = current;
  if (kind === 'charge' && field === 'refunds') {
    const data = Object.values(store.state.refunds)
      .filter((r) => r.charge === value.id)
      .reverse();
    next = structuredClone({
      object: 'list',
      data,
      has_more: false,
      total_count: data.length,
      url: `/v1/charges/${String(value.id)}/refunds`,
    }) as unknown as Json;
  } else if (typeof current === 'string') {
    next = lookup(store, current) ?? current;
  }
  value[field] = rest.length && next !== undefined ? expandOne(next, rest, store, full) : (next ?? null);
  return value;
}

export function applyExpand(result: unknown, expand: readonly string[], store: StripeStore): unknown {
  let out = structuredClone(result) as Json;
  for (const e of expand) out = expandOne(out, e.split('.'), store, e);
  return out;
}
