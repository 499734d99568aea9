import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/server/auth.ts';
import type { RunningServer } from '../../src/server/serve.ts';
import { TEST_SERVER, callLogPath, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';
import { LOOK_WORKFLOW, configYaml } from '../helpers/workflows.ts';

// A reload reaches the server as well as the step path: the tokens the API, pages and /mcp admit,
// and the queues bull-board shows. A file that does not validate changes none of them.

const TOKEN = { reader: 'tok-reload-reader-1', admin: 'tok-reload-admin-2', newcomer: 'tok-reload-newcomer-3' };
const ENV = { IL_RELOAD_READER: TOKEN.reader, IL_RELOAD_ADMIN: TOKEN.admin, IL_RELOAD_NEWCOMER: TOKEN.newcomer };
const log = callLogPath();

const token = (name: string, env: string, scopes: string) =>
  `\n  - { name: ${name}, token: "\${env:${env}}", scopes: [${scopes}] }`;
const ADMIN = token('admin', 'IL_RELOAD_ADMIN', 'read, trigger, confirm, admin');
const READER = token('reader', 'IL_RELOAD_READER', 'read');
const NEWCOMER = token('newcomer', 'IL_RELOAD_NEWCOMER', 'read');

const EXTRA_CONNECTOR = `
  extra:
    transport: stdio
    command: ${process.execPath}
    args: [${TEST_SERVER}, --stdio]`;
const EXTRA_WORKFLOW = `
  shout:
    description: one read on the connector a reload added
    inputs: { type: object }
    steps:
      - { id: say, call: extra.echo, with: { text: loud } }`;

function yaml(opts: { tokens: string[]; extra?: boolean }): string {
  return configYaml({
    connectors: testConnectorYaml(log) + (opts.extra ? EXTRA_CONNECTOR : ''),
    workflows: [LOOK_WORKFLOW, ...(opts.extra ? [EXTRA_WORKFLOW] : [])],
    extra: `tokens:${opts.tokens.join('')}`,
  });
}

const INITIAL = yaml({ tokens: [ADMIN, READER] });

const test = appTest({ yaml: INITIAL, server: { env: ENV, workers: false } });

describe('a reload reaches the server', () => {
  const call = (server: RunningServer, path: string, init: RequestInit & { bearer?: string; cookie?: string } = {}) => {
    const { bearer, cookie, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (bearer) headers.set('authorization', `Bearer ${bearer}`);
    if (cookie) headers.set('cookie', cookie);
    return fetch(`${server.url}${path}`, { ...rest, headers, redirect: 'manual' });
  };
  const reload = (server: RunningServer) => call(server, '/api/v1/reload', { method: 'POST', bearer: TOKEN.admin });
  const mcpInitialize = (server: RunningServer, bearer: string) =>
    call(server, '/mcp', {
      method: 'POST',
      bearer,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'reload-test', version: '1' } },
      }),
    });

  test('lets in a token the reload added and shuts out, sessions and all, a token it removed', async ({ server, configFile }) => {
    expect((await call(server, '/api/v1/runs', { bearer: TOKEN.reader })).status).toBe(200);
    expect((await call(server, '/api/v1/runs', { bearer: TOKEN.newcomer })).status).toBe(401);
    // The reader signs in to the pages once; its cookie works until its token goes.
    const signIn = await call(server, `/ui?token=${TOKEN.reader}`);
    expect(signIn.status).toBe(303);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0];
    expect(cookie).toMatch(/^interlock_session=/);
    expect((await call(server, '/api/v1/runs', { cookie })).status).toBe(200);
    expect((await mcpInitialize(server, TOKEN.reader)).status).toBe(200);

    writeFileSync(configFile, yaml({ tokens: [ADMIN, NEWCOMER] }));
    const res = await reload(server);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ changes: { tokens: true } });

    expect((await call(server, '/api/v1/runs', { bearer: TOKEN.newcomer })).status).toBe(200);
    expect((await call(server, '/api/v1/runs', { bearer: TOKEN.reader })).status).toBe(401);
    expect((await call(server, '/api/v1/runs', { cookie })).status).toBe(401);
    expect((await call(server, `/ui?token=${TOKEN.reader}`)).status).toBe(401);
    expect((await mcpInitialize(server, TOKEN.reader)).status).toBe(401);
    expect((await mcpInitialize(server, TOKEN.newcomer)).status).toBe(200);
  });

  test('changes no token when the file does not validate, and names file:line:col', async ({ server, configFile, app }) => {
    const before = app.config;
    // The reader would come back, but the file also holds a scope that does not exist.
    const broken = yaml({ tokens: [ADMIN, NEWCOMER, token('reader', 'IL_RELOAD_READER', 'read, fly')] });
    writeFileSync(configFile, broken);
    const line = broken.split('\n').findIndex((l) => l.includes('fly')) + 1;
    const col = broken.split('\n')[line - 1].indexOf('fly') + 1;
    const res = await reload(server);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('CONFIG_INVALID');
    expect(body.error.message).toContain(`${configFile}:${line}:${col}:`);
    expect(app.config).toBe(before);
    expect((await call(server, '/api/v1/runs', { bearer: TOKEN.reader })).status).toBe(401);
    expect((await call(server, '/api/v1/runs', { bearer: TOKEN.newcomer })).status).toBe(200);
  });

  test("shows a new connector's queue in bull-board and /metrics, runs its steps, and drops the queue when the connector goes", async ({
    server,
    configFile,
    app,
  }) => {
    const queues = async () => {
      const res = await call(server, '/admin/queues/api/queues?page=1&jobsPerPage=10', { bearer: TOKEN.admin });
      expect(res.status).toBe(200);
      return ((await res.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    };
    expect(await queues()).toEqual(['awaiting-confirmation', 'test', 'triggers.schedules']);

    writeFileSync(configFile, yaml({ tokens: [ADMIN, NEWCOMER], extra: true }));
    expect((await reload(server)).status).toBe(200);
    expect(await queues()).toEqual(['awaiting-confirmation', 'extra', 'test', 'triggers.schedules']);
    const metrics = async () => (await call(server, '/metrics', { bearer: TOKEN.admin })).text();
    expect(await metrics()).toContain('interlock_queue_jobs{queue="extra",state="waiting"}');
    // This process's workers (started before the reload) took up the new queue.
    const { run } = await app.engine.trigger('shout', {});
    const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');

    writeFileSync(configFile, yaml({ tokens: [ADMIN, NEWCOMER] }));
    expect((await reload(server)).status).toBe(200);
    expect(await queues()).toEqual(['awaiting-confirmation', 'test', 'triggers.schedules']);
    expect(await metrics()).not.toContain('queue="extra"');
  });
});

describe('Authenticator.update', () => {
  it('admits nobody, rather than everybody, when a server bound beyond loopback reloads a config without tokens', () => {
    const auth = Authenticator.fromConfig([{ name: 'admin', env: 'IL_RELOAD_ADMIN', scopes: ['admin'] }], ENV);
    expect(auth.authenticate(`Bearer ${TOKEN.admin}`)?.name).toBe('admin');

    expect(auth.update([], { mayOpen: false })).toEqual({ closedInsteadOfOpen: true });
    expect(auth.open).toBe(false);
    expect(auth.authenticate(undefined)).toBeUndefined();
    expect(auth.authenticate(`Bearer ${TOKEN.admin}`)).toBeUndefined();

    expect(auth.update([], { mayOpen: true })).toEqual({ closedInsteadOfOpen: false });
    expect(auth.open).toBe(true);
    expect(auth.authenticate(undefined)?.name).toBe('local');
  });
});
