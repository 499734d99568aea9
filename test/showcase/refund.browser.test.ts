import { resolve } from 'node:path';
import { describe, expect } from 'vitest';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { approve, confirmationArguments, findConfirmation, screenshot, waitForRunStatus } from '../helpers/browser.ts';
import { SHIPPED_CONFIG, appTest } from '../helpers/fixtures.ts';

// The shipped workflows.yaml on the sandboxes; the server starts the workers. No tokens in the
// shipped config: the server binds loopback only and pages need no sign-in.
const it = appTest({ file: SHIPPED_CONFIG, sandboxes: true, workers: false });

describe('approving a Stripe refund in the browser', () => {
  it('reads the amount in the refund payload, approves it and the Slack post, and sees the run succeed without reloading', async ({
    app,
    server,
    browser,
    sandboxes,
  }) => {
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_2', amount: 7300 }, { session: 'browser' });
    await waitForStatus(app, run.id, ['awaiting_confirmation']);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${server.url}/ui`);
    await page.evaluate(() => {
      (globalThis as unknown as { notReloaded: boolean }).notReloaded = true;
    });

    const refundCard = await findConfirmation(page, { runId: run.id, connector: 'stripe', tool: 'create_refund' });
    const args = await confirmationArguments(refundCard);
    expect(args).toEqual({ charge_id: 'ch_seed_2', amount: 7300 });
    expect(await refundCard.innerText()).toMatch(/destructive/i);
    await screenshot(page, resolve(ROOT, 'test-results/ui-refund-pending.png'));
    await approve(refundCard);

    const postCard = await findConfirmation(page, { runId: run.id, connector: 'slack', tool: 'post_message' });
    const post = await confirmationArguments(postCard);
    expect(String(post.text)).toContain('73.00 USD');
    await approve(postCard);

    await waitForRunStatus(page, run.id, 'succeeded', 45_000);
    expect(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    const refunds = Object.values(
      (sandboxes.stripe.state() as unknown as { refunds: Record<string, { charge: string; amount: number }> }).refunds,
    ).filter((r) => r.charge === 'ch_seed_2');
    expect(refunds).toEqual([expect.objectContaining({ amount: 7300 })]);
    await screenshot(page, resolve(ROOT, 'test-results/ui-refund-approved.png'));
  });
});
