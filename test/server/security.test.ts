import { networkInterfaces } from 'node:os';
import { describe, expect } from 'vitest';
import { InterlockError } from '../../src/errors.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { REDACTED, registerSecret } from '../../src/secrets.ts';
import { startServer } from '../../src/server/serve.ts';
import { type Harness, TOKENS, configYaml, cookieFrom, harnessTest, openHarness, raw } from './helpers.ts';
import { waitForStatus } from '../helpers/app.ts';
import { callLogPath, makeApp } from '../helpers/app.ts';
import { test } from '../helpers/fixtures.ts';

const it = harnessTest({ tokens: true });

/** A harness without tokens, and the notices its server gave when it started. */
const open = test.extend<{ notices: string[]; tokenless: Harness }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
  notices: [async ({}, use) => use([]), { scope: 'file' }],
  tokenless: [
    async ({ redis, notices }, use) => openHarness(redis, { tokens: false, onNotice: (m) => notices.push(m) }, use),
    { scope: 'file' },
  ],
});

describe('auth for people in browsers, DNS rebinding, and what pages show', () => {
  it('refuses a Host that is not a loopback name (DNS rebinding) and a foreign Origin', async ({ h }) => {
    const rebound = await raw(`${h.url}/api/v1/runs`, {
      headers: { host: `evil.example:${h.server.port}`, authorization: `Bearer ${TOKENS.reader}` },
    });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const mcp = await raw(`${h.url}/mcp`, { method: 'POST', headers: { host: 'evil.example' } });
    expect(mcp.status).toBe(403);
    const foreign = await h.call('/api/v1/workflows/greet/runs', {
      method: 'POST',
      token: 'trigger',
      json: { inputs: { text: 'x' } },
      headers: { origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403);
    const localhost = await raw(`${h.url}/healthz`, { headers: { host: `localhost:${h.server.port}` } });
    expect(localhost.status).toBe(200);
    const same = await h.call('/api/v1/runs', { token: 'reader', headers: { origin: h.url } });
    expect(same.status).toBe(200);
  });

  it('exchanges ?token= once for an HttpOnly SameSite=Strict cookie and drops the token from the URL', async ({ h }) => {
    const r = await raw(`${h.url}/ui/confirmations?token=${TOKENS.approver}&x=1`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/ui/confirmations?x=1');
    const set = String(r.headers['set-cookie']);
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Strict/i);
    expect(set).toMatch(/Path=\//);
    expect(set).not.toContain(TOKENS.approver);
    const cookie = cookieFrom(r);
    const page = await raw(`${h.url}/ui/confirmations`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'nonce-");
    expect(page.body).toContain('approver');
    expect(page.body).not.toContain(TOKENS.approver);
    expect(page.body).not.toContain(cookie.split('=')[1]);
    const bad = await raw(`${h.url}/ui?token=wrong`, { headers: { accept: 'text/html' } });
    expect(bad.status).toBe(401);
    const tampered = await raw(`${h.url}/api/v1/runs`, {
      headers: { cookie: cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) },
    });
    expect(tampered.status).toBe(401);
  });

  it('shows a sign-in page to a browser without a session', async ({ h }) => {
    const r = await raw(`${h.url}/ui`, { headers: { accept: 'text/html' } });
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toContain('text/html');
    expect(r.body).toContain('?token=');
  });

  it('lets a cookie session decide only from a same-origin page, and only with the confirm scope', async ({ h }) => {
    const res = await h.call('/api/v1/workflows/pay/runs', {
      method: 'POST',
      token: 'trigger',
      json: { inputs: { name: 'cookie', amount: 2 } },
    });
    const run = await waitForStatus(h.app, ((await res.json()) as RunRecord).id, ['awaiting_confirmation']);
    const conf = await h.app.store.requireConfirmation(run.steps.write.confirmationId as string);
    const approverCookie = cookieFrom(await raw(`${h.url}/ui?token=${TOKENS.approver}`));
    const readerCookie = cookieFrom(await raw(`${h.url}/ui?token=${TOKENS.reader}`));
    const body = JSON.stringify({ argumentsHash: conf.argumentsHash });
    const post = (cookie: string, headers: Record<string, string> = {}) =>
      raw(`${h.url}/api/v1/confirmations/${conf.id}/approve`, {
        method: 'POST',
        body,
        headers: { cookie, 'content-type': 'application/json', ...headers },
      });
    expect((await post(approverCookie)).status).toBe(403);
    expect((await post(approverCookie, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(readerCookie, { origin: h.url })).status).toBe(403);
    const ok = await post(approverCookie, { origin: h.url });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ status: 'approved', decidedBy: 'approver' });
  });

  it('escapes everything a tool or caller controls, and keeps the confirmation payload readable', async ({ h }) => {
    const evil = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'`';
    const res = await h.call('/api/v1/workflows/pay/runs', {
      method: 'POST',
      token: 'trigger',
      json: { inputs: { name: evil, amount: 3 }, session: '<b>s</b>' },
    });
    const run = await waitForStatus(h.app, ((await res.json()) as RunRecord).id, ['awaiting_confirmation']);
    for (const path of [
      `/ui/runs/${run.id}`,
      '/ui',
      '/ui/confirmations',
      `/ui/confirmations/${run.steps.write.confirmationId}`,
    ]) {
      const page = await raw(`${h.url}${path}`, { headers: { authorization: `Bearer ${TOKENS.reader}` } });
      expect(page.status, path).toBe(200);
      expect(page.body, path).not.toContain('<script>alert');
      expect(page.body, path).not.toContain('<img src=x');
      expect(page.body, path).not.toContain('<b>s</b>');
      expect(page.body, path).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
      for (const v of Object.values(TOKENS)) expect(page.body).not.toContain(v);
    }
    const fragment = await raw(`${h.url}/ui/runs/${run.id}/fragment`, { headers: { authorization: `Bearer ${TOKENS.reader}` } });
    expect(fragment.body).not.toContain('<script>alert');
  });

  it('replaces a secret that slipped into a JSON answer (stored before it was known as one)', async ({ h }) => {
    const slipped = `slipped-${Date.now()}-value`;
    const { run } = await h.app.engine.trigger('greet', { text: slipped });
    expect(await (await h.call(`/api/v1/runs/${run.id}`, { token: 'reader' })).text()).toContain(slipped);
    registerSecret(slipped);
    const body = await (await h.call(`/api/v1/runs/${run.id}`, { token: 'reader' })).text();
    expect(body).not.toContain(slipped);
    expect(body).toContain(REDACTED);
    expect(JSON.parse(body)).toMatchObject({ id: run.id, inputs: { text: REDACTED } });
  });

  it('guards the queue dashboard with the admin scope and shows paused steps as waiting jobs', async ({ h }) => {
    expect((await h.call('/admin/queues')).status).toBe(401);
    expect((await h.call('/admin/queues', { token: 'approver' })).status).toBe(403);
    expect((await h.call('/admin/queues/api/queues', { token: 'reader' })).status).toBe(403);
    const adminCookie = cookieFrom(await raw(`${h.url}/admin/queues?token=${TOKENS.admin}`));
    const board = await raw(`${h.url}/admin/queues`, { headers: { cookie: adminCookie } });
    expect(board.status).toBe(200);
    expect(board.body).toContain('<!DOCTYPE html>');

    const res = await h.call('/api/v1/workflows/pay/runs', {
      method: 'POST',
      token: 'trigger',
      json: { inputs: { name: 'board', amount: 12 } },
    });
    const run = await waitForStatus(h.app, ((await res.json()) as RunRecord).id, ['awaiting_confirmation']);
    const api = await raw(
      `${h.url}/admin/queues/api/queues?activeQueue=awaiting-confirmation&status=waiting&page=1&jobsPerPage=50`,
      { headers: { cookie: adminCookie } },
    );
    expect(api.status).toBe(200);
    const { queues } = JSON.parse(api.body) as {
      queues: {
        name: string;
        counts: Record<string, number>;
        readOnlyMode: boolean;
        jobs: { id: string; name: string; data: Record<string, unknown> }[];
      }[];
    };
    expect(queues.map((q) => q.name).sort()).toEqual(['awaiting-confirmation', 'test', 'triggers.schedules']);
    const awaiting = queues.find((q) => q.name === 'awaiting-confirmation');
    expect(awaiting?.readOnlyMode).toBe(true);
    expect(awaiting?.counts.waiting).toBeGreaterThan(0);
    const job = awaiting?.jobs.find((j) => j.id === run.steps.write.confirmationId);
    expect(job?.name).toContain('awaiting confirmation');
    expect(job?.data).toMatchObject({
      connector: 'test',
      tool: 'record',
      arguments: { name: 'board', value: { amount: 12, currency: 'usd' } },
    });
    const one = await raw(`${h.url}/admin/queues/api/queues/awaiting-confirmation/${job?.id}`, {
      headers: { cookie: adminCookie },
    });
    expect(one.status).toBe(200);
    const clean = await raw(`${h.url}/admin/queues/api/queues/test/clean/failed`, {
      method: 'PUT',
      headers: { cookie: adminCookie, origin: h.url },
    });
    expect(clean.status).toBe(405);
  });
});

describe('a server without tokens', () => {
  open('says it is open and listens on loopback only', async ({ tokenless: h, notices }) => {
    expect(notices.join('\n')).toMatch(/No tokens configured.*loopback only/);
    expect((await h.call('/api/v1/runs')).status).toBe(200);
    const rebound = await raw(`${h.url}/api/v1/runs`, { headers: { host: 'attacker.example' } });
    expect(rebound.status).toBe(403);
    const csrf = await h.call('/api/v1/workflows/greet/runs', {
      method: 'POST',
      json: { inputs: { text: 'x' } },
      headers: { origin: 'http://attacker.example' },
    });
    expect(csrf.status).toBe(403);
  });

  open(
    'lets no page on another local port change anything (cross-port CSRF), while curl-like clients work',
    async ({ tokenless: h }) => {
      const port = Number(new URL(h.url).port);
      const before = (await h.app.store.listRuns({ limit: 500 })).runs.length;
      for (const headers of [
        { origin: `http://localhost:${port + 1}`, 'content-type': 'text/plain' },
        { origin: `http://127.0.0.1:${port + 1}`, 'content-type': 'application/json' },
        { 'sec-fetch-site': 'same-site', 'content-type': 'application/json' },
      ] as Record<string, string>[]) {
        const res = await raw(`${h.url}/api/v1/workflows/greet/runs`, {
          method: 'POST',
          body: JSON.stringify({ inputs: { text: 'x' } }),
          headers,
        });
        expect(res.status, JSON.stringify(headers)).toBe(403);
      }
      expect((await h.app.store.listRuns({ limit: 500 })).runs.length).toBe(before);
      const ownPage = await raw(`${h.url}/api/v1/workflows/greet/runs`, {
        method: 'POST',
        body: JSON.stringify({ inputs: { text: 'x' } }),
        headers: { origin: h.url, 'content-type': 'application/json' },
      });
      expect(ownPage.status).toBe(202);
      expect((await h.call('/api/v1/workflows/greet/runs', { method: 'POST', json: { inputs: { text: 'y' } } })).status).toBe(
        202,
      );
    },
  );

  open('refuses to listen on a non-loopback address', async ({ redis }) => {
    const app = await makeApp(configYaml({ tokens: false, log: callLogPath() }), redis.url);
    try {
      const err = await startServer(app, { host: '0.0.0.0', port: 0, workers: false, onNotice: () => {} }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InterlockError);
      expect((err as InterlockError).code).toBe('CONFIG_INVALID');
      expect((err as InterlockError).message).toMatch(/Refusing to listen on 0\.0\.0\.0 without tokens/);
    } finally {
      await app.close();
    }
  });

  open('answers /readyz 503 while Redis is down, 200 when it is back', async ({ tokenless: h }) => {
    await h.redis.kill();
    const down = await h.call('/readyz');
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unavailable', redis: { ok: false } });
    expect((await h.call('/healthz')).status).toBe(200);
    await h.redis.start();
    for (let i = 0; i < 100; i++) {
      if ((await h.call('/readyz')).status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await h.call('/readyz')).status).toBe(200);
  });
});

describe('tokens configured but their variables unset', () => {
  it('fails closed: nobody gets in', async ({ redis }) => {
    await openHarness(redis, { tokens: true, env: {} }, async (h) => {
      expect((await h.call('/api/v1/runs')).status).toBe(401);
      expect((await h.call('/api/v1/runs', { token: 'admin' })).status).toBe(401);
    });
  });
});

const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

/** TOKENS' harness listening on every address (a file fixture's name is the file's: `h` is the loopback one) */
const listening = test.extend<{ exposed: Harness }>({
  exposed: [async ({ redis }, use) => openHarness(redis, { tokens: true, host: '0.0.0.0' }, use), { scope: 'file' }],
});

describe.skipIf(!external)('probes and metrics from another machine', () => {
  listening('need the read scope when the peer is not on loopback', async ({ exposed: h }) => {
    const base = `http://${external}:${h.server.port}`;
    for (const p of ['/metrics', '/readyz', '/healthz']) {
      expect((await fetch(`${base}${p}`)).status, p).toBe(401);
      expect((await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${TOKENS.reader}` } })).status, p).toBe(200);
      expect((await fetch(`${h.url}${p}`)).status, `${p} from loopback`).toBe(200);
    }
  });
});
