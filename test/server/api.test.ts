import { describe, expect } from 'vitest';
import type { ConfirmationRecord, RunRecord } from '../../src/runs/records.ts';
import { readCalls } from '../helpers/app.ts';
import { TOKENS, harnessTest, parseProm } from './helpers.ts';
import { waitForStatus } from '../helpers/app.ts';

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

type Trigger = (inputs: unknown, extra?: RequestInit) => Promise<Response>;
type PausedRun = (name?: string, amount?: number) => Promise<{ run: RunRecord; conf: ConfirmationRecord }>;

/**
 * `h` with TOKENS; `trigger` starts a `pay` run as the trigger token, `pausedRun` starts one and
 * waits until its write is paused, returning the run and its confirmation.
 */
const it = harnessTest({ tokens: true }).extend<{ trigger: Trigger; pausedRun: PausedRun }>({
  trigger: async ({ h }, use) =>
    use((inputs, extra = {}) =>
      h.call('/api/v1/workflows/pay/runs', { method: 'POST', token: 'trigger', json: { inputs }, ...extra }),
    ),
  pausedRun: async ({ h, trigger }, use) =>
    use(async (name = 'ann', amount = 5) => {
      const res = await trigger({ name, amount });
      expect(res.status).toBe(202);
      const run = (await res.json()) as RunRecord;
      const paused = await waitForStatus(h.app, run.id, ['awaiting_confirmation']);
      const cid = paused.steps.write.confirmationId as string;
      const conf = (await (await h.call(`/api/v1/confirmations/${cid}`, { token: 'reader' })).json()) as ConfirmationRecord;
      return { run: paused, conf };
    }),
});

describe('HTTP API over a real server, Redis and MCP connector', () => {
  describe('workflows', () => {
    it('lists workflows with their input schema and steps, paginated', async ({ h }) => {
      const res = await h.call('/api/v1/workflows?limit=1', { token: 'reader' });
      expect(res.status).toBe(200);
      const page1 = (await res.json()) as { workflows: { name: string; steps: unknown[] }[]; nextCursor?: string };
      expect(page1.workflows).toHaveLength(1);
      expect(page1.nextCursor).toBeTruthy();
      const page2 = (await (
        await h.call(`/api/v1/workflows?limit=1&cursor=${page1.nextCursor}`, { token: 'reader' })
      ).json()) as typeof page1;
      expect(page2.workflows).toHaveLength(1);
      expect(page2.nextCursor).toBeUndefined();
      const pay = [...page1.workflows, ...page2.workflows].find((w) => w.name === 'pay');
      expect(pay?.steps).toEqual([
        { id: 'look', call: 'test.echo', confirm: 'auto' },
        { id: 'write', call: 'test.record', confirm: 'auto' },
      ]);
    });

    it('starts a run: 202, the run, and a Location header', async ({ h }) => {
      const res = await h.call('/api/v1/workflows/greet/runs', {
        method: 'POST',
        token: 'trigger',
        json: { inputs: { text: 'hi' }, session: 's-1' },
      });
      expect(res.status).toBe(202);
      const run = (await res.json()) as RunRecord;
      expect(res.headers.get('location')).toBe(`/api/v1/runs/${run.id}`);
      // 's-1' is not a session Interlock gave this token: it only labels the run, which gets its own session.
      expect(run).toMatchObject({
        workflow: 'greet',
        label: 's-1',
        session: `run-${run.id}`,
        owner: 'chat-client',
        inputs: { text: 'hi' },
      });
      const done = await waitForStatus(h.app, run.id, ['succeeded', 'failed']);
      expect(done.steps.say.output).toEqual({ text: 'hi' });
    });

    it('returns the same run for the same Idempotency-Key', async ({ trigger }) => {
      const headers = { 'idempotency-key': 'order-42' };
      const a = await trigger({ name: 'idem', amount: 1 }, { headers });
      const b = await trigger({ name: 'idem', amount: 1 }, { headers });
      expect(a.status).toBe(202);
      expect(b.status).toBe(200);
      expect(b.headers.get('idempotent-replayed')).toBe('true');
      const [ra, rb] = (await Promise.all([a.json(), b.json()])) as RunRecord[];
      expect(rb.id).toBe(ra.id);
      const c = await trigger({ name: 'idem', amount: 1 }, { headers: { 'idempotency-key': 'order-43' } });
      expect(((await c.json()) as RunRecord).id).not.toBe(ra.id);
    });

    it('names each bad input field in a 400', async ({ trigger }) => {
      const res = await trigger({ name: '', amount: 'five', extra: true });
      expect(res.status).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe('INPUT_INVALID');
      const fields = ((body.error.details?.issues ?? []) as { field: string }[]).map((i) => i.field).join(' ');
      expect(fields).toContain('name');
      expect(fields).toContain('amount');
      expect(fields).toContain('extra');
    });

    it('answers 404 for an unknown workflow', async ({ h }) => {
      const res = await h.call('/api/v1/workflows/nope/runs', { method: 'POST', token: 'trigger', json: { inputs: {} } });
      expect(res.status).toBe(404);
      expect(((await res.json()) as ErrorBody).error.code).toBe('WORKFLOW_NOT_FOUND');
    });

    it('refuses malformed JSON, non-objects, unknown fields, wrong content types and bad headers with 400', async ({ h }) => {
      const post = (body: string, type = 'application/json', headers: Record<string, string> = {}) =>
        h.call('/api/v1/workflows/greet/runs', {
          method: 'POST',
          token: 'trigger',
          body,
          headers: { 'content-type': type, ...headers },
        });
      for (const [res, code] of [
        [await post('{"inputs": {"text": "x"'), 'BAD_REQUEST'],
        [await post('[1, 2]'), 'BAD_REQUEST'],
        [await post('{"inputs": {"text": "x"}, "sesion": "typo"}'), 'BAD_REQUEST'],
        [await post('inputs=x', 'application/x-www-form-urlencoded'), 'BAD_REQUEST'],
        [await post('{"inputs": []}'), 'INPUT_INVALID'],
        [await post('{"inputs": {"text": "x"}}', 'application/json', { 'idempotency-key': 'has space' }), 'BAD_REQUEST'],
      ] as const) {
        expect(res.status).toBe(400);
        expect(((await res.json()) as ErrorBody).error.code).toBe(code);
      }
      const typo = await post('{"inputs": {"text": "x"}, "sesion": "typo"}');
      expect(((await typo.json()) as ErrorBody).error.details).toMatchObject({ unknown: ['sesion'] });
    });

    it('refuses bodies over 1 MB with 413', async ({ h }) => {
      const big = JSON.stringify({ inputs: { text: 'x'.repeat(1024 * 1024 + 10) } });
      const res = await h.call('/api/v1/workflows/greet/runs', {
        method: 'POST',
        token: 'trigger',
        body: big,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as ErrorBody).error.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('refuses a chunked body over 1 MB with 413 too: without a Content-Length it is counted', async ({ h }) => {
      const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
      let chunks = 0;
      const body = new ReadableStream<Uint8Array>({
        pull: (c) => (chunks++ < 20 ? c.enqueue(chunk) : c.close()),
      });
      const res = await h.call('/api/v1/workflows/greet/runs', {
        method: 'POST',
        token: 'trigger',
        body,
        duplex: 'half',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as ErrorBody).error.code).toBe('PAYLOAD_TOO_LARGE');
    });
  });

  describe('runs', () => {
    it('gets a run, 404 for an unknown one', async ({ h, pausedRun }) => {
      const { run } = await pausedRun();
      const res = await h.call(`/api/v1/runs/${run.id}`, { token: 'reader' });
      expect(res.status).toBe(200);
      expect(((await res.json()) as RunRecord).status).toBe('awaiting_confirmation');
      const missing = await h.call('/api/v1/runs/rnope', { token: 'reader' });
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as ErrorBody).error.code).toBe('RUN_NOT_FOUND');
    });

    it('lists runs newest first, filtered by status and workflow, page by page', async ({ h, pausedRun }) => {
      const { run } = await pausedRun('list', 2);
      const all = (await (await h.call('/api/v1/runs?limit=2', { token: 'reader' })).json()) as {
        runs: RunRecord[];
        nextCursor?: string;
      };
      expect(all.runs).toHaveLength(2);
      expect(all.runs[0].id).toBe(run.id);
      expect(all.nextCursor).toBeTruthy();
      const next = (await (
        await h.call(`/api/v1/runs?limit=2&cursor=${all.nextCursor}`, { token: 'reader' })
      ).json()) as typeof all;
      expect(next.runs.map((r) => r.id)).not.toContain(run.id);
      const greet = (await (await h.call('/api/v1/runs?workflow=greet', { token: 'reader' })).json()) as typeof all;
      expect(greet.runs.length).toBeGreaterThan(0);
      expect(greet.runs.every((r) => r.workflow === 'greet')).toBe(true);
      const waiting = (await (
        await h.call('/api/v1/runs?status=awaiting_confirmation', { token: 'reader' })
      ).json()) as typeof all;
      expect(waiting.runs.every((r) => r.status === 'awaiting_confirmation')).toBe(true);
      for (const q of ['status=bogus', 'limit=0', 'limit=501', 'cursor=garbage']) {
        const bad = await h.call(`/api/v1/runs?${q}`, { token: 'reader' });
        expect(bad.status, q).toBe(400);
      }
    });

    it('cancels a paused run; cancelling again is a 409', async ({ h, pausedRun }) => {
      const { run, conf } = await pausedRun('cancel-me', 3);
      const res = await h.call(`/api/v1/runs/${run.id}/cancel`, { method: 'POST', token: 'trigger' });
      expect(res.status).toBe(200);
      expect(((await res.json()) as RunRecord).status).toBe('cancelled');
      const again = await h.call(`/api/v1/runs/${run.id}/cancel`, { method: 'POST', token: 'trigger' });
      expect(again.status).toBe(409);
      expect(((await again.json()) as ErrorBody).error.code).toBe('RUN_FINISHED');
      const missing = await h.call('/api/v1/runs/rnope/cancel', { method: 'POST', token: 'trigger' });
      expect(missing.status).toBe(404);
      const pending = (await (await h.call('/api/v1/confirmations?status=pending&limit=500', { token: 'reader' })).json()) as {
        confirmations: ConfirmationRecord[];
      };
      expect(pending.confirmations.map((c) => c.id)).not.toContain(conf.id);
    });
  });

  describe('confirmations', () => {
    it('shows the whole payload of a pending write', async ({ h, pausedRun }) => {
      const { conf } = await pausedRun('payload', 7);
      expect(conf).toMatchObject({
        connector: 'test',
        tool: 'record',
        status: 'pending',
        stepId: 'write',
        workflow: 'pay',
        arguments: { name: 'payload', value: { amount: 7, currency: 'usd' } },
        annotations: { destructiveHint: false, idempotentHint: true },
      });
      expect(conf.argumentsHash).toMatch(/^[0-9a-f]{16,}$/);
      expect(conf.description).toContain('Appends a value');
      const list = (await (await h.call('/api/v1/confirmations?status=pending', { token: 'reader' })).json()) as {
        confirmations: ConfirmationRecord[];
      };
      expect(list.confirmations.map((c) => c.id)).toContain(conf.id);
      expect((await h.call('/api/v1/confirmations/c_rnope_1', { token: 'reader' })).status).toBe(404);
      expect((await h.call('/api/v1/confirmations?status=maybe', { token: 'reader' })).status).toBe(400);
    });

    it('approves with the shown hash, the write happens once, and the run succeeds', async ({ h, pausedRun }) => {
      const { run, conf } = await pausedRun('approve', 9);
      const res = await h.call(`/api/v1/confirmations/${conf.id}/approve`, {
        method: 'POST',
        token: 'approver',
        json: { argumentsHash: conf.argumentsHash },
      });
      expect(res.status).toBe(200);
      expect((await res.json()) as ConfirmationRecord).toMatchObject({ status: 'approved', decidedBy: 'approver' });
      const done = await waitForStatus(h.app, run.id, ['succeeded', 'failed']);
      expect(done.status).toBe('succeeded');
      const writes = readCalls(h.log).filter((c) => c.tool === 'record' && c.args.name === 'approve');
      expect(writes).toHaveLength(1);
      expect(writes[0].args).toEqual({ name: 'approve', value: { amount: 9, currency: 'usd' } });
    });

    it('refuses a stale argumentsHash with 409 HASH_MISMATCH and keeps the confirmation pending', async ({ h, pausedRun }) => {
      const { conf } = await pausedRun('stale', 4);
      const res = await h.call(`/api/v1/confirmations/${conf.id}/approve`, {
        method: 'POST',
        token: 'approver',
        json: { argumentsHash: 'f'.repeat(64) },
      });
      expect(res.status).toBe(409);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe('HASH_MISMATCH');
      expect(body.error.details).toMatchObject({ argumentsHash: conf.argumentsHash });
      const still = (await (await h.call(`/api/v1/confirmations/${conf.id}`, { token: 'reader' })).json()) as ConfirmationRecord;
      expect(still.status).toBe('pending');
    });

    it('answers 409 ALREADY_DECIDED to a second decision, and the first one stands', async ({ h, pausedRun }) => {
      const { run, conf } = await pausedRun('deny-first', 6);
      const deny = await h.call(`/api/v1/confirmations/${conf.id}/deny`, { method: 'POST', token: 'approver', json: {} });
      expect(deny.status).toBe(200);
      expect((await deny.json()) as ConfirmationRecord).toMatchObject({
        status: 'denied',
        decidedBy: 'approver',
        channel: 'api',
      });
      const approve = await h.call(`/api/v1/confirmations/${conf.id}/approve`, {
        method: 'POST',
        token: 'approver',
        json: { argumentsHash: conf.argumentsHash },
      });
      expect(approve.status).toBe(409);
      expect(((await approve.json()) as ErrorBody).error).toMatchObject({
        code: 'ALREADY_DECIDED',
        details: { status: 'denied' },
      });
      const again = await h.call(`/api/v1/confirmations/${conf.id}/deny`, { method: 'POST', token: 'approver' });
      expect(again.status).toBe(409);
      expect((await waitForStatus(h.app, run.id, ['denied'])).status).toBe('denied');
      expect(readCalls(h.log).filter((c) => c.tool === 'record' && c.args.name === 'deny-first')).toHaveLength(0);
    });

    it('validates decision bodies: argumentsHash required, remember only "session", no unknown fields', async ({
      h,
      pausedRun,
    }) => {
      const { conf } = await pausedRun('bodies', 8);
      const approve = (json: unknown) =>
        h.call(`/api/v1/confirmations/${conf.id}/approve`, { method: 'POST', token: 'approver', json });
      for (const body of [
        {},
        { argumentsHash: conf.argumentsHash, remember: 'forever' },
        { argumentsHash: conf.argumentsHash, remeber: 'session' },
        { argumentsHash: 42 },
      ]) {
        const res = await approve(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
      }
      const missing = await h.call('/api/v1/confirmations/c_rnope_1/approve', {
        method: 'POST',
        token: 'approver',
        json: { argumentsHash: 'x' },
      });
      expect(missing.status).toBe(404);
    });
  });

  describe('scopes', () => {
    it('answers 401 without a token or with an unknown one', async ({ h }) => {
      for (const headers of [
        {},
        { authorization: 'Bearer not-a-token' },
        { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      ]) {
        const res = await h.call('/api/v1/runs', { headers });
        expect(res.status).toBe(401);
        expect(((await res.json()) as ErrorBody).error.code).toBe('UNAUTHORIZED');
      }
    });

    it('lets a trigger token start runs but not approve them (403), and a confirm token approve but not start', async ({
      h,
      pausedRun,
    }) => {
      const { run, conf } = await pausedRun('scopes', 11);
      const asChat = await h.call(`/api/v1/confirmations/${conf.id}/approve`, {
        method: 'POST',
        token: 'trigger',
        json: { argumentsHash: conf.argumentsHash },
      });
      expect(asChat.status).toBe(403);
      const body = (await asChat.json()) as ErrorBody;
      expect(body.error.code).toBe('FORBIDDEN');
      expect(body.error.message).toContain("'confirm'");
      expect((await h.call(`/api/v1/confirmations/${conf.id}/deny`, { method: 'POST', token: 'trigger' })).status).toBe(403);
      expect(
        ((await (await h.call(`/api/v1/confirmations/${conf.id}`, { token: 'reader' })).json()) as ConfirmationRecord).status,
      ).toBe('pending');
      expect(
        (
          await h.call('/api/v1/workflows/pay/runs', {
            method: 'POST',
            token: 'approver',
            json: { inputs: { name: 'x', amount: 1 } },
          })
        ).status,
      ).toBe(403);
      expect((await h.call(`/api/v1/runs/${run.id}/cancel`, { method: 'POST', token: 'reader' })).status).toBe(403);
      expect((await h.call('/api/v1/connectors/test/refresh', { method: 'POST', token: 'approver' })).status).toBe(403);
      expect(
        (await h.call('/api/v1/connectors/test/tools/record', { method: 'PATCH', token: 'trigger', json: { enabled: false } }))
          .status,
      ).toBe(403);
      const ok = await h.call(`/api/v1/confirmations/${conf.id}/approve`, {
        method: 'POST',
        token: 'approver',
        json: { argumentsHash: conf.argumentsHash },
      });
      expect(ok.status).toBe(200);
    });

    it('never echoes a token value in answers', async ({ h }) => {
      const res = await h.call('/api/v1/confirmations/c_rnope_1/approve', {
        method: 'POST',
        token: 'trigger',
        json: { argumentsHash: 'x' },
      });
      const text = await res.text();
      for (const v of Object.values(TOKENS)) expect(text).not.toContain(v);
    });
  });

  describe('connectors', () => {
    it('lists connectors with their state and no secrets', async ({ h }) => {
      const res = await h.call('/api/v1/connectors', { token: 'reader' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { connectors: Record<string, unknown>[] };
      expect(body.connectors).toEqual([expect.objectContaining({ id: 'test', transport: 'stdio', state: expect.any(String) })]);
      expect(JSON.stringify(body)).not.toContain('TEST_SERVER_LOG');
    });

    it('lists tools with their write classification; 404 for an unknown connector', async ({ h }) => {
      const res = await h.call('/api/v1/connectors/test/tools?limit=500', { token: 'reader' });
      const { tools } = (await res.json()) as { tools: { name: string; write: boolean; enabled: boolean }[] };
      expect(tools.find((t) => t.name === 'record')).toMatchObject({ write: true, enabled: true });
      expect(tools.find((t) => t.name === 'echo')).toMatchObject({ write: false, enabled: true });
      expect((await h.call('/api/v1/connectors/nope/tools', { token: 'reader' })).status).toBe(404);
    });

    it('refreshes the tool list (admin)', async ({ h }) => {
      const res = await h.call('/api/v1/connectors/test/refresh', { method: 'POST', token: 'admin' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { connector: string; tools: { name: string }[] };
      expect(body.connector).toBe('test');
      expect(body.tools.map((t) => t.name)).toContain('echo');
      expect((await h.call('/api/v1/connectors/nope/refresh', { method: 'POST', token: 'admin' })).status).toBe(404);
    });

    it('turns a tool off and on with PATCH; the store and the tool list agree', async ({ h }) => {
      const patch = (tool: string, json: unknown) =>
        h.call(`/api/v1/connectors/test/tools/${tool}`, { method: 'PATCH', token: 'admin', json });
      const off = await patch('add', { enabled: false });
      expect(off.status).toBe(200);
      expect(await off.json()).toEqual({ connector: 'test', tool: 'add', enabled: false });
      expect(await h.app.store.toolEnabled('test', 'add')).toBe(false);
      const { tools } = (await (await h.call('/api/v1/connectors/test/tools?limit=500', { token: 'reader' })).json()) as {
        tools: { name: string; enabled: boolean }[];
      };
      expect(tools.find((t) => t.name === 'add')?.enabled).toBe(false);
      expect((await patch('add', { enabled: true })).status).toBe(200);
      expect(await h.app.store.toolEnabled('test', 'add')).toBe(true);
      expect((await patch('add', { enabled: 'no' })).status).toBe(400);
      expect((await patch('add', { enabled: true, why: 'x' })).status).toBe(400);
      expect((await patch('no_such_tool', { enabled: false })).status).toBe(404);
      expect(
        (await h.call('/api/v1/connectors/nope/tools/add', { method: 'PATCH', token: 'admin', json: { enabled: false } })).status,
      ).toBe(404);
    });
  });

  describe('health and metrics', () => {
    it('answers /healthz and /readyz', async ({ h }) => {
      expect((await h.call('/healthz')).status).toBe(200);
      const ready = await h.call('/readyz');
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        status: 'ready',
        redis: { ok: true },
        workers: 'running',
        connectors: [{ id: 'test' }],
      });
    });

    it('serves Prometheus text whose counters move when runs happen', async ({ h, pausedRun }) => {
      const before = parseProm(await (await h.call('/metrics')).text());
      const res = await h.call('/api/v1/workflows/greet/runs', {
        method: 'POST',
        token: 'trigger',
        json: { inputs: { text: 'metrics' } },
      });
      await waitForStatus(h.app, ((await res.json()) as RunRecord).id, ['succeeded']);
      const { conf } = await pausedRun('metrics', 1);
      await h.call(`/api/v1/confirmations/${conf.id}/approve`, {
        method: 'POST',
        token: 'approver',
        json: { argumentsHash: conf.argumentsHash },
      });
      await waitForStatus(h.app, conf.runId, ['succeeded']);
      const resMetrics = await h.call('/metrics');
      expect(resMetrics.headers.get('content-type')).toContain('text/plain');
      const after = parseProm(await resMetrics.text());
      const get = (m: Map<string, number>, k: string) => m.get(k) ?? 0;
      expect(get(after, 'interlock_steps_total{connector="test",tool="echo",outcome="ok"}')).toBeGreaterThanOrEqual(
        get(before, 'interlock_steps_total{connector="test",tool="echo",outcome="ok"}') + 2,
      );
      expect(get(after, 'interlock_step_duration_seconds_count{connector="test",tool="record",outcome="ok"}')).toBeGreaterThan(
        get(before, 'interlock_step_duration_seconds_count{connector="test",tool="record",outcome="ok"}'),
      );
      expect(get(after, 'interlock_runs{status="succeeded"}')).toBeGreaterThanOrEqual(
        get(before, 'interlock_runs{status="succeeded"}') + 2,
      );
      expect(
        get(after, 'interlock_confirmation_wait_seconds_count{connector="test",tool="record",decision="approved"}'),
      ).toBeGreaterThan(0);
      expect(after.has('interlock_queue_jobs{queue="test",state="waiting"}')).toBe(true);
      expect(after.has('interlock_confirmations_pending')).toBe(true);
    });
  });
});
