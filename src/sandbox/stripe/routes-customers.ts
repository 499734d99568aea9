/** Customers: create, retrieve, update, list, search. */
import { invalidRequest } from './errors.ts';
import { pageParams, paginate, type Params } from './params.ts';
import type { Route } from './router.ts';
import { matchesQuery, parseSearchQuery } from './search.ts';
import type { Metadata, SandboxCustomer } from './types.ts';

function customerFields(params: Params) {
  return {
    email: params.str('email'),
    name: params.str('name'),
    description: params.str('description'),
    phone: params.str('phone'),
    metadata: params.metadata(),
  };
}

/** Stripe's metadata update: merge, an empty value deletes its key, an empty hash clears all. */
function mergeMetadata(current: Metadata, update: Metadata | null | undefined): Metadata {
  if (update === undefined) return current;
  if (update === null) return {};
  const out = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

function dropEmpty(m: Metadata | null | undefined): Metadata {
  return Object.fromEntries(Object.entries(m ?? {}).filter(([, v]) => v !== ''));
}

export const customerRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/v1/customers',
    handler: ({ store, params }) => {
      const f = customerFields(params);
      params.assertNoUnknown();
      return store.createCustomer({ ...f, metadata: dropEmpty(f.metadata) });
    },
  },
  {
    method: 'GET',
    pattern: '/v1/customers',
    handler: ({ store, params }) => {
      const email = params.str('email');
      const page = pageParams(params);
      params.assertNoUnknown();
      // Stripe documents the list's email filter as case-sensitive, unlike search.
      const items = Object.values(store.state.customers)
        .filter((c) => !email || c.email === email)
        .reverse();
      return paginate(items, page, '/v1/customers', 'customer');
    },
  },
  {
    method: 'GET',
    pattern: '/v1/customers/search',
    handler: ({ store, params }) => {
      const query = params.str('query', { required: true });
      const limit = params.int('limit', { min: 1, max: 100 }) ?? 10;
      const pageToken = params.str('page');
      params.assertNoUnknown();
      const parsed = parseSearchQuery(query);
      const offset = pageToken ? decodePage(pageToken) : 0;
      const all = Object.values(store.state.customers)
        .filter((c) => matchesQuery(c, parsed))
        .reverse();
      const data: SandboxCustomer[] = all.slice(offset, offset + limit);
      const hasMore = offset + limit < all.length;
      return {
        object: 'search_result',
        data,
        has_more: hasMore,
        next_page: hasMore ? encodePage(offset + limit) : null,
        url: '/v1/customers/search',
      };
    },
  },
  {
    method: 'GET',
    pattern: '/v1/customers/:id',
    handler: ({ store, params, path }) => {
      params.assertNoUnknown();
      return store.customer(path.id ?? '');
    },
  },
  {
    method: 'POST',
    pattern: '/v1/customers/:id',
    handler: ({ store, params, path }) => {
      const f = customerFields(params);
      params.assertNoUnknown();
      const c = store.customer(path.id ?? '');
      if (f.email !== undefined) c.email = f.email || null;
      if (f.name !== undefined) c.name = f.name || null;
      if (f.description !== undefined) c.description = f.description || null;
      if (f.phone !== undefined) c.phone = f.phone || null;
      c.metadata = mergeMetadata(c.metadata, f.metadata);
      return c;
    },
  },
];

/** An opaque cursor, like Stripe's `next_page`; it only has to round-trip through the client. */
function encodePage(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

function decodePage(token: string): number {
  try {
    const v: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (v && typeof v === 'object' && 'o' in v && typeof v.o === 'number' && Number.isInteger(v.o) && v.o >= 0) return v.o;
  } catch {
    // fall through to the error below
  }
  throw invalidRequest('Invalid page: the page token is not valid.', undefined, 'page');
}
