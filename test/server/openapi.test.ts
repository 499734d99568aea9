import { describe, expect } from 'vitest';
import { harnessTest } from './helpers.ts';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { responses?: object; 'x-scope'?: string }>>;
  components: { schemas: Record<string, unknown> };
};

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const DOCUMENTED_PREFIXES = ['/api/v1/', '/healthz', '/readyz', '/metrics'];

/** the server's OpenAPI document, as an anonymous caller gets it */
const it = harnessTest({ tokens: true }).extend<{ doc: Doc }>({
  doc: [
    async ({ h }, use) => {
      const res = await h.call('/api/v1/openapi.json');
      expect(res.status).toBe(200);
      await use((await res.json()) as Doc);
    },
    { scope: 'file' },
  ],
});

describe('OpenAPI document', () => {
  const documented = (doc: Doc): string[] =>
    Object.entries(doc.paths)
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => METHODS.includes(m))
          .map((m) => `${m.toUpperCase()} ${path}`),
      )
      .sort();

  it('is OpenAPI 3.1 whose $refs all resolve', ({ doc }) => {
    expect(doc.openapi).toBe('3.1.0');
    const refs = [...JSON.stringify(doc).matchAll(/"#\/components\/schemas\/([A-Za-z]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(10);
    for (const r of refs) expect(doc.components.schemas).toHaveProperty(r);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) expect(op.responses, `${m} ${path}`).toBeTruthy();
    }
  });

  it('lists exactly the API routes the server registers, and no others', ({ h, doc }) => {
    const registered = [
      ...new Set(
        h.server.http.hono.routes
          .filter((r) => r.method !== 'ALL' && DOCUMENTED_PREFIXES.some((p) => r.path === p || r.path.startsWith(p)))
          .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`),
      ),
    ].sort();
    expect(registered).toEqual(documented(doc));
  });

  it('has every documented operation answered by its own handler over HTTP, with the scope it states', async ({ h, doc }) => {
    const fill = (path: string) =>
      path
        .replace('{name}', 'greet')
        .replace('{id}', path.includes('connectors') ? 'test' : 'rnope')
        .replace('{tool}', 'echo')
        .replace('{stepId}', 'write');
    for (const key of documented(doc)) {
      const [method, path] = key.split(' ');
      const url = fill(path).replace('/confirmations/rnope', '/confirmations/c_rnope_1');
      const isEvents = path.endsWith('/events');
      const res = await h.call(url, {
        method,
        token: 'admin',
        ...(method === 'PATCH'
          ? { json: { enabled: true } }
          : method === 'POST' && url.includes('/approve')
            ? { json: { argumentsHash: 'x' } }
            : {}),
        ...(method === 'POST' && url.endsWith('/runs') ? { json: { inputs: { text: 'openapi' } } } : {}),
      });
      const text = isEvents ? '' : await res.text();
      if (isEvents) await res.body?.cancel();
      expect(text, key).not.toContain('No route for');
      expect(res.status, key).toBeLessThan(500);
      const scope = doc.paths[path][method.toLowerCase()]['x-scope'];
      if (scope) {
        const anonymous = await h.call(url, { method });
        expect(anonymous.status, `${key} without a token`).toBe(401);
        await anonymous.body?.cancel();
      }
    }
  });
});
