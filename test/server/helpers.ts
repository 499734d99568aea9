import { request } from 'node:http';
import type { App } from '../../src/app.ts';
import type { RunningServer } from '../../src/server/serve.ts';
import { callLogPath, testConnectorYaml } from '../helpers/app.ts';
import { openApp, openServer, test } from '../helpers/fixtures.ts';
import { payWorkflow } from '../helpers/workflows.ts';
import type { TestRedis } from '../helpers/redis.ts';

/** Token values for the test config; each name says what it may do. */
export const TOKENS = {
  reader: 'tok-reader-1c0ffee',
  trigger: 'tok-trigger-2c0ffee',
  approver: 'tok-approver-3c0ffee',
  admin: 'tok-admin-4c0ffee',
} as const;

/** The environment that gives TOKENS_YAML's variables the TOKENS values (a server's `env`). */
export const TOKENS_ENV = {
  IL_TEST_READER: TOKENS.reader,
  IL_TEST_TRIGGER: TOKENS.trigger,
  IL_TEST_APPROVER: TOKENS.approver,
  IL_TEST_ADMIN: TOKENS.admin,
};

/** The `tokens:` section for TOKENS, each read from its IL_TEST_* variable. */
export const TOKENS_YAML = `
tokens:
  - { name: reader, token: "\${env:IL_TEST_READER}", scopes: [read] }
  - { name: chat-client, token: "\${env:IL_TEST_TRIGGER}", scopes: [read, trigger] }
  - { name: approver, token: "\${env:IL_TEST_APPROVER}", scopes: [read, confirm] }
  - { name: admin, token: "\${env:IL_TEST_ADMIN}", scopes: [read, trigger, confirm, admin] }
`;

export function configYaml(opts: { tokens: boolean; log: string }): string {
  const tokens = opts.tokens ? TOKENS_YAML : '';
  return `
connectors:${testConnectorYaml(opts.log)}
policy:
  confirmation_ttl: 1h
workflows:
  greet:
    description: one read
    inputs: { type: object, required: [text], properties: { text: { type: string } }, additionalProperties: false }
    steps:
      - id: say
        call: test.echo
        with: { text: "\${{ inputs.text }}" }${payWorkflow({ amount: { currency: 'usd' } })}
${tokens}`;
}

export interface Harness {
  redis: TestRedis;
  app: App;
  server: RunningServer;
  url: string;
  log: string;
  /** fetch against the server with an optional token name */
  call(path: string, init?: RequestInit & { token?: keyof typeof TOKENS; json?: unknown }): Promise<Response>;
}

export interface HarnessOptions {
  tokens: boolean;
  host?: string;
  /** replaces the token environment (e.g. to leave a variable unset) */
  env?: Record<string, string>;
  onNotice?: (msg: string) => void;
}

/** The fetch of `call`: against `url`, a token by name as the bearer, `json` as the body. */
function caller(url: string): Harness['call'] {
  return (path, init = {}) => {
    const { token, json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token) headers.set('authorization', `Bearer ${TOKENS[token]}`);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return fetch(`${url}${path}`, { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
  };
}

/** The harness of `opts` on `redis` (the server starts the workers), handed to `use` and closed after. */
export async function openHarness(redis: TestRedis, opts: HarnessOptions, use: (h: Harness) => Promise<void>): Promise<void> {
  const log = callLogPath();
  await openApp(redis, { yaml: configYaml({ tokens: opts.tokens, log }), workers: false }, (app) =>
    openServer(
      app,
      { ...(opts.host ? { host: opts.host } : {}), env: opts.env ?? TOKENS_ENV, onNotice: opts.onNotice ?? (() => {}) },
      (server) => use({ redis, app, server, url: server.url, log, call: caller(server.url) }),
    ),
  );
}

/**
 * A `test` whose `h` is the harness of `opts` for the file (greet and pay on the test connector,
 * `interlock serve` with TOKENS when `tokens`), started when a test first names it.
 */
export function harnessTest(opts: HarnessOptions) {
  return test.extend<{ h: Harness }>({
    h: [async ({ redis }, use) => openHarness(redis, opts, use), { scope: 'file' }],
  });
}

/**
 * A strict reading of the Prometheus text format: every line is `# HELP`/`# TYPE` or
 * `name{labels} value`, and every sample belongs to a family declared by `# TYPE`.
 * Returns samples keyed by `name{labels}` as printed (histogram buckets left out).
 */
export function parseProm(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const families = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE' && !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]))
        throw new Error(`bad TYPE: ${line}`);
      if (meta[1] === 'TYPE') families.add(meta[2]);
      continue;
    }
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.]+(?:e[+-]?\d+)?|NaN|[+-]Inf)( -?\d+)?$/.exec(
        line,
      );
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const family = m[1].replace(/_(bucket|sum|count|total|created)$/, '');
    if (!families.has(m[1]) && !families.has(family)) throw new Error(`sample of an undeclared family: ${line}`);
    if (m[1].endsWith('_bucket')) continue;
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

export interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** node:http, because fetch will not let a test forge Host, Origin, Cookie or Sec-Fetch-* as a browser sends them. */
export function raw(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The `interlock_session` cookie a `?token=` exchange set, ready for a Cookie header. */
export function cookieFrom(r: Raw): string {
  const set = r.headers['set-cookie'];
  const line = (Array.isArray(set) ? set : [set ?? '']).find((l) => l.startsWith('interlock_session=')) ?? '';
  return line.split(';')[0];
}
