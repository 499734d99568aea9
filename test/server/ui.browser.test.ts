import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import type { RunRecord } from '../../src/runs/records.ts';
import { ROOT } from '../helpers/app.ts';
import { approve, confirmationArguments, findConfirmation, screenshot, signIn, waitForRunStatus } from '../helpers/browser.ts';
import { TOKENS, harnessTest } from './helpers.ts';
import { waitForStatus } from '../helpers/app.ts';

/** `h` with TOKENS, and `pausedPay`, which starts a `pay` run as the trigger token and waits until its write is paused. */
const it = harnessTest({ tokens: true }).extend<{ pausedPay: (name: string, amount: number) => Promise<RunRecord> }>({
  pausedPay: async ({ h }, use) =>
    use(async (name, amount) => {
      const res = await h.call('/api/v1/workflows/pay/runs', {
        method: 'POST',
        token: 'trigger',
        json: { inputs: { name, amount } },
      });
      expect(res.status).toBe(202);
      return waitForStatus(h.app, ((await res.json()) as RunRecord).id, ['awaiting_confirmation']);
    }),
});

describe('the /ui pages in Chromium', () => {
  // the first test opens it, the second reads what appears on it
  let page: Page;

  it('shows the pending write with its payload, approves it, and follows the run to succeeded without reloading', async ({
    browser,
    h,
    pausedPay,
  }) => {
    const run = await pausedPay('browser', 4200);
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await signIn(page, h.url, TOKENS.approver);

    const card = await findConfirmation(page, { runId: run.id, connector: 'test', tool: 'record' });
    const args = await confirmationArguments(card);
    expect(args).toEqual({ name: 'browser', value: { amount: 4200, currency: 'usd' } });
    expect(await card.locator('.arguments-hash').innerText()).toBe(run.steps.write.argumentsHash);
    await expect.poll(() => card.innerText()).toContain('Appends a value to the call log');
    await waitForRunStatus(page, run.id, 'awaiting_confirmation');

    // A reload would drop this marker; the run must reach succeeded with it still there.
    await page.evaluate(() => {
      (globalThis as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    await approve(card);
    await waitForRunStatus(page, run.id, 'succeeded');
    expect(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect((await h.app.store.requireRun(run.id)).status).toBe('succeeded');
    await screenshot(page, resolve(ROOT, 'test-results/ui-approve.png'));
    expect(errors).toEqual([]);
  });

  it('shows a new confirmation on the open page as soon as a run pauses', async ({ pausedPay }) => {
    const before = await page.locator('.confirmation[data-status="pending"]').count();
    const run = await pausedPay('arrives-live', 17);
    const card = await findConfirmation(page, { runId: run.id });
    expect(await confirmationArguments(card)).toEqual({ name: 'arrives-live', value: { amount: 17, currency: 'usd' } });
    expect(await page.locator('.confirmation[data-status="pending"]').count()).toBe(before + 1);
  });

  it("updates a run's timeline from its event stream: approve there, see the write's output appear", async ({
    browser,
    h,
    pausedPay,
  }) => {
    const run = await pausedPay('timeline', 99);
    const p = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
    await signIn(p, h.url, TOKENS.approver, `/ui/runs/${run.id}`);
    await expect.poll(() => p.locator('[data-step-status="look"]').innerText()).toBe('succeeded');
    expect(await p.locator('[data-step="look"] pre.step-output').innerText()).toContain('"text": "timeline"');
    const card = await findConfirmation(p, { runId: run.id });
    // The run belongs to the trigger token: an approver decides this call, but cannot remember it
    // for another principal's session (only the run's owner, holding confirm, can).
    expect(await card.locator('input[name=remember]').isDisabled()).toBe(true);
    await approve(card);
    await waitForRunStatus(p, run.id, 'succeeded');
    await expect.poll(() => p.locator('[data-step-status="write"]').innerText()).toBe('succeeded');
    expect(await p.locator('[data-step="write"] pre.step-output').innerText()).toContain('"seq"');
    const conf = await h.app.store.requireConfirmation(run.steps.write.confirmationId as string);
    expect(conf).toMatchObject({ status: 'approved', decidedBy: 'approver' });
    expect(conf.remember).toBeUndefined();
    await screenshot(p, resolve(ROOT, 'test-results/ui-run.png'));
    await p.close();
  });

  it('shows a reader the payload but no way to decide, and the API would refuse anyway', async ({ browser, h, pausedPay }) => {
    const run = await pausedPay('reader', 5);
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await signIn(p, h.url, TOKENS.reader);
    const card = await findConfirmation(p, { runId: run.id });
    expect(await card.locator('button[data-action=approve]').isDisabled()).toBe(true);
    expect(await p.locator('.notice').first().innerText()).toContain('confirm');
    const status = await p.evaluate(async (id) => {
      const r = await fetch(`/api/v1/confirmations/${id}/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ argumentsHash: 'x' }),
      });
      return r.status;
    }, run.steps.write.confirmationId as string);
    expect(status).toBe(403);
    await ctx.close();
  });

  it('shows a paused step on the queue dashboard as a waiting job in "awaiting confirmation"', async ({
    browser,
    h,
    pausedPay,
  }) => {
    const run = await pausedPay('dashboard', 31);
    const ctx = await browser.newContext({ viewport: { width: 1300, height: 900 } });
    const p = await ctx.newPage();
    await signIn(p, h.url, TOKENS.admin, '/admin/queues');
    await p.goto(`${h.url}/admin/queues/queue/awaiting-confirmation?status=waiting`);
    const job = p.getByText(`pay.write → test.record (awaiting confirmation)`).first();
    await job.waitFor({ state: 'visible', timeout: 15_000 });
    expect(await p.content()).toContain(run.steps.write.confirmationId as string);
    await screenshot(p, resolve(ROOT, 'test-results/queues-awaiting.png'));
    await ctx.close();
  });
});
