import { request } from 'node:http';
import { describe, expect } from 'vitest';
import { TOKENS, harnessTest } from '../server/helpers.ts';
import { waitForStatus } from '../helpers/app.ts';
import { rng } from '../helpers/rng.ts';

const STRINGS = [
  '',
  ' ',
  'x',
  '..',
  '../..',
  '%2e%2e%2f',
  '%00',
  '\u0000',
  '😀',
  'a'.repeat(5000),
  '${{ inputs }}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'c_rabc_1',
  'rnope',
  'greet',
  'pay',
  'test',
  'echo',
  'record',
  'write',
  'look',
  "' OR 1=1 --",
  'null',
  '-1',
  '1e309',
];

/** Nesting that a naive recursive reader or writer would overflow on. */
const deep = (n: number, open: string, close: string, inner = '1') => `${open.repeat(n)}${inner}${close.repeat(n)}`;

function value(r: () => number, depth = 0): unknown {
  const k = r();
  if (depth > 4 || k < 0.35) {
    const scalars: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53 + 1, 'x', '', ...STRINGS];
    return scalars[Math.floor(r() * scalars.length)];
  }
  if (k < 0.6) return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
  const o: Record<string, unknown> = {};
  const keys = [
    'inputs',
    'session',
    'argumentsHash',
    'remember',
    'enabled',
    'action',
    'output',
    'reason',
    'hash',
    'text',
    'name',
    'amount',
    '__proto__',
    'constructor',
    'extra',
  ];
  for (let i = 0; i < Math.floor(r() * 5); i++) o[keys[Math.floor(r() * keys.length)]] = value(r, depth + 1);
  return o;
}

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function makeRequest(r: () => number, runIds: string[], confIds: string[]): Req {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const seg = () => encodeURIComponent(pick([...STRINGS, ...runIds, ...confIds]));
  const paths = [
    () => `/api/v1/workflows/${pick(['greet', 'pay', seg()])}/runs`,
    () => '/api/v1/workflows',
    () => `/api/v1/runs?status=${seg()}&workflow=${seg()}&limit=${seg()}&cursor=${seg()}`,
    () => `/api/v1/runs/${pick([...runIds, seg()])}`,
    () => `/api/v1/runs/${pick([...runIds, seg()])}/cancel`,
    () => `/api/v1/runs/${pick([...runIds, seg()])}/steps/${pick(['write', 'look', seg()])}/resolve`,
    () => `/api/v1/confirmations?status=${seg()}`,
    () => `/api/v1/confirmations/${pick([...confIds, seg()])}/${pick(['approve', 'deny', seg()])}`,
    () => '/api/v1/connectors',
    () => `/api/v1/connectors/${pick(['test', seg()])}/tools`,
    () => `/api/v1/connectors/${pick(['test', seg()])}/refresh`,
    () => `/api/v1/connectors/${pick(['test', seg()])}/tools/${pick(['echo', 'record', seg()])}`,
    () => `/api/v1/connectors/${pick(['test', seg()])}/tools/${pick(['echo', seg()])}/${pick(['pin', 'approve'])}`,
    () => `/ui/runs/${pick([...runIds, seg()])}`,
    () => `/ui/confirmations/${pick([...confIds, seg()])}`,
    () => `/${seg()}/${seg()}`,
    () => '/mcp',
    () => '/healthz',
    () => '/metrics',
    () => `/api/v1/${seg()}`,
  ];
  const method = pick(['GET', 'POST', 'POST', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS', 'HEAD']);
  const headers: Record<string, string> = {};
  const auth = r();
  if (auth < 0.7) headers.authorization = `Bearer ${TOKENS.admin}`;
  else if (auth < 0.8) headers.authorization = `Bearer ${pick([TOKENS.reader, TOKENS.trigger, TOKENS.approver])}`;
  else if (auth < 0.9)
    headers.authorization = pick([
      'Bearer',
      'Basic abc',
      `Bearer ${'x'.repeat(3000)}`,
      'bearer  \t',
      `Bearer ${TOKENS.admin} extra`,
    ]);
  if (r() < 0.8)
    headers['content-type'] = pick([
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/merge-patch+json',
      '',
    ]);
  if (r() < 0.1) headers.origin = pick(['http://evil.example', 'null', 'http://127.0.0.1:1']);
  if (r() < 0.1) headers['idempotency-key'] = pick(STRINGS.filter((s) => !/[\u0000-\u001f\u007f-\uffff]/.test(s)));
  if (r() < 0.05) headers['last-event-id'] = pick(['0', '999999999999999-0', 'garbage']);
  let body: string | undefined;
  const b = r();
  if (method !== 'GET' && method !== 'HEAD') {
    if (b < 0.55) body = JSON.stringify(value(r));
    else if (b < 0.62) body = deep(5000 + Math.floor(r() * 50_000), '[', ']');
    else if (b < 0.69) body = `{"inputs":${deep(3000 + Math.floor(r() * 20_000), '{"a":', '}')}}`;
    else if (b < 0.74) body = `{"inputs": {"text": "${'y'.repeat(1_100_000)}"}}`;
    else if (b < 0.82)
      body = pick([
        '{',
        '{"a":}',
        'nul',
        '[1,2',
        '"\\ud800"',
        '{"inputs": {"text": "\\u0000"}}',
        '1e999999',
        '{"__proto__": {"polluted": true}}',
      ]);
    else if (b < 0.9)
      body = JSON.stringify({
        inputs: { text: pick(STRINGS), name: pick(STRINGS), amount: pick([1, -1, 0.5, '5', 1e308, null]) },
        session: value(r),
      });
    else if (b < 0.95)
      body = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: pick(['initialize', 'tools/list', 'tools/call', 'nope']),
        params: value(r),
      });
  }
  return { method, path: pick(paths)(), headers, ...(body !== undefined ? { body } : {}) };
}

/** Raw node:http so bodies go out exactly as written (fetch would refuse some of these). */
function send(base: URL, req: Req): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const h = request(
      { host: base.hostname, port: base.port, method: req.method, path: req.path, headers: req.headers },
      (res) => {
        const type = String(res.headers['content-type'] ?? '');
        if (type.includes('text/event-stream')) {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, type, body: '' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    h.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close a connection whose oversized body it refused to read; that is an answer too.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve({ status: 413, type: '', body: '' });
      else reject(err);
    });
    if (req.body !== undefined) h.write(req.body);
    h.end();
  });
}

const it = harnessTest({ tokens: true });

describe('HTTP under hostile input', () => {
  it('answers thousands of generated bad requests without a 5xx, and stays up', async ({ h }) => {
    const base = new URL(h.url);
    // Real ids to aim at, so handlers past the lookups get hostile bodies too.
    const runIds: string[] = [];
    const confIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await h.call('/api/v1/workflows/pay/runs', {
        method: 'POST',
        token: 'trigger',
        json: { inputs: { name: `fuzz${i}`, amount: 5 } },
      });
      const id = ((await res.json()) as { id: string }).id;
      runIds.push(id);
      const run = await waitForStatus(h.app, id, ['awaiting_confirmation']);
      confIds.push(run.steps.write.confirmationId ?? '');
    }
    const N = 2000;
    const byStatus: Record<number, number> = {};
    for (let seed = 1; seed <= N; seed++) {
      const req = makeRequest(rng(seed), runIds, confIds);
      const res = await send(base, req);
      byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
      const what = `seed ${seed}: ${req.method} ${req.path.slice(0, 200)} body ${req.body?.slice(0, 200)} → ${res.status} ${res.body.slice(0, 300)}`;
      expect(res.status, what).toBeLessThan(500);
      if (res.status >= 400 && req.path.startsWith('/api/') && req.method !== 'HEAD' && res.body !== '') {
        let err: { code: string; message: string } | undefined;
        try {
          err = (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
        } catch {
          throw new Error(`not a JSON error answer: ${what}`);
        }
        expect(err.code, what).toMatch(/^[A-Z_]+$/);
        expect(err.message.length, what).toBeGreaterThan(5);
      }
    }
    console.log(`http fuzz: ${N} requests, by status ${JSON.stringify(byStatus)}`);
    expect((await h.call('/healthz')).status).toBe(200);
    expect(Object.keys(byStatus).some((s) => Number(s) >= 500)).toBe(false);
  }, 300_000);
});
