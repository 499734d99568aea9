import { describe, expect } from 'vitest';
import type { RunRecord } from '../../src/runs/records.ts';
import { callLogPath, readCalls, waitForStatus, testConnectorYaml } from '../helpers/app.ts';
import { NOTIFY_IN_DOUBT_WORKFLOW } from '../helpers/workflows.ts';
import { appTest } from '../helpers/fixtures.ts';
import { signIn, waitForRunStatus } from '../helpers/browser.ts';
import { TOKENS, TOKENS_ENV, TOKENS_YAML } from './helpers.ts';

const log = callLogPath();
const yaml = `
connectors:${testConnectorYaml(log)}
policy:
  allow_unconfirmed: [test.send]
${TOKENS_YAML}workflows:${NOTIFY_IN_DOUBT_WORKFLOW}
`;

const it = appTest({ yaml, workers: false, server: { env: TOKENS_ENV } }).extend<{
  /** POSTs a resolution of the run's step with a token of TOKENS */
  resolve: (runId: string, body: unknown, token?: keyof typeof TOKENS, step?: string) => Promise<Response>;
  /** a notify run whose send step is in doubt */
  inDoubt: (to: string) => Promise<RunRecord>;
}>({
  resolve: async ({ server }, use) =>
    use((runId, body, token, step = 'send') =>
      fetch(`${server.url}/api/v1/runs/${runId}/steps/${step}/resolve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${TOKENS[token]}` } : {}) },
        body: JSON.stringify(body),
      }),
    ),
  // names the server, so the workers it starts are there to take the step
  inDoubt: async ({ app, server: _workers }, use) =>
    use(async (to) => {
      const { run } = await app.engine.trigger('notify', { to });
      const r = await waitForStatus(app, run.id, ['needs_attention', 'failed', 'succeeded']);
      expect(r.steps.send.status).toBe('in_doubt');
      return r;
    }),
});

describe('POST /api/v1/runs/{id}/steps/{stepId}/resolve and the run page', () => {
  it('lets only confirm or admin resolve, and refuses malformed bodies with a 400 naming the field', async ({
    app,
    resolve,
    inDoubt,
  }) => {
    const r = await inDoubt('api-1');
    expect((await resolve(r.id, { action: 'retry' })).status).toBe(401);
    expect((await resolve(r.id, { action: 'retry' }, 'reader')).status).toBe(403);
    expect((await resolve(r.id, { action: 'retry' }, 'trigger')).status).toBe(403);
    for (const [body, field] of [
      [{ action: 'redo' }, 'action'],
      [{}, 'action'],
      [{ action: 'done' }, 'output'],
      [{ action: 'retry', output: {} }, 'output'],
      [{ action: 'fail', because: 'x' }, 'because'],
      [{ action: 'fail', reason: 7 }, 'reason'],
    ] as const) {
      const res = await resolve(r.id, body, 'approver');
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain(field);
    }
    expect((await app.store.requireRun(r.id)).status).toBe('needs_attention');
  });

  it('marks done with an output (approver) and the run continues; a second resolve is a 409', async ({
    app,
    resolve,
    inDoubt,
  }) => {
    const r = await inDoubt('api-2');
    const res = await resolve(r.id, { action: 'done', output: { sent: 31 }, reason: 'seen in the outbox' }, 'approver');
    expect(res.status).toBe(200);
    const done = await waitForStatus(app, r.id, ['succeeded', 'failed']);
    expect(done.steps.after.output).toEqual({ text: 'sent #31' });
    const again = await resolve(r.id, { action: 'retry' }, 'admin');
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('NOT_IN_DOUBT');
    expect((await resolve('rnope', { action: 'retry' }, 'admin')).status).toBe(404);
    expect((await resolve(r.id, { action: 'retry' }, 'admin', 'nope')).status).toBe(404);
  });

  it('retries (admin): the write is sent again with the same idempotency key', async ({ app, resolve, inDoubt }) => {
    const r = await inDoubt('api-3');
    expect((await resolve(r.id, { action: 'retry' }, 'admin')).status).toBe(200);
    expect((await waitForStatus(app, r.id, ['succeeded', 'failed', 'needs_attention'])).status).toBe('succeeded');
    const sends = readCalls(log).filter((c) => c.tool === 'send' && c.args.to === 'api-3');
    expect(sends.map((c) => c.idempotencyKey)).toEqual([sends[0].idempotencyKey, sends[0].idempotencyKey]);
  });

  describe('in Chromium', () => {
    it('shows the in-doubt step with its choices, and "fail" ends the run without sending again', async ({
      app,
      server,
      browser,
      inDoubt,
    }) => {
      const r = await inDoubt('page-1');
      const page = await browser.newPage();
      await signIn(page, server.url, TOKENS.approver, `/ui/runs/${r.id}`);
      const panel = page.locator(`.resolve[data-run="${r.id}"][data-step="send"]`);
      await panel.waitFor({ state: 'visible' });
      await panel.locator('button[data-resolve=fail]').click();
      // The live page redraws the timeline as the run moves, so the panel leaves once resolved.
      await waitForRunStatus(page, r.id, 'failed');
      expect((await app.store.requireRun(r.id)).error?.code).toBe('RESOLVED_FAILED');
      expect(readCalls(log).filter((c) => c.tool === 'send' && c.args.to === 'page-1')).toHaveLength(1);
    });

    it('keeps what a person is typing when the timeline is redrawn under them', async ({ app, server, browser, inDoubt }) => {
      const r = await inDoubt('page-3');
      const page = await browser.newPage();
      await signIn(page, server.url, TOKENS.admin, `/ui/runs/${r.id}`);
      const box = page.locator(`.resolve[data-run="${r.id}"] textarea[name=output]`);
      await box.fill('{"sent": 5');
      // An event on the run redraws the timeline; the attempt count makes the redraw visible.
      await app.store.redis.hset(app.store.keys.run(r.id), 's:send:attempts', '7');
      await app.store.appendEvent(r.id, 'step.requeued', 'send', { reason: 'checked the mail server' });
      await page.locator(`[data-step="send"]`, { hasText: '7 attempts' }).waitFor({ state: 'visible' });
      expect(await box.inputValue()).toBe('{"sent": 5');
      // The caret stays where the person left it: the next keystroke after a redraw lands there.
      await box.press('ArrowLeft');
      await app.store.redis.hset(app.store.keys.run(r.id), 's:send:attempts', '8');
      await app.store.appendEvent(r.id, 'step.requeued', 'send', { reason: 'checked again' });
      await page.locator(`[data-step="send"]`, { hasText: '8 attempts' }).waitFor({ state: 'visible' });
      await page.keyboard.type('1');
      expect(await box.inputValue()).toBe('{"sent": 15');
    });

    it('"mark done" sends the JSON typed into the page as the step output', async ({ app, server, browser, inDoubt }) => {
      const r = await inDoubt('page-2');
      const page = await browser.newPage();
      await signIn(page, server.url, TOKENS.admin, `/ui/runs/${r.id}`);
      const panel = page.locator(`.resolve[data-run="${r.id}"]`);
      await panel.locator('textarea[name=output]').fill('{"sent": 77}');
      await panel.locator('button[data-resolve=done]').click();
      await waitForRunStatus(page, r.id, 'succeeded');
      expect((await app.store.requireRun(r.id)).steps.after.output).toEqual({ text: 'sent #77' });
    });
  });
});
