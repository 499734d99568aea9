import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import { startSandboxes, type Sandboxes } from '../../src/sandbox/index.ts';
import { startServer } from '../../src/server/serve.ts';
import { loadConfig } from '../../src/workflows/load.ts';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { TestRedis } from '../helpers/redis.ts';
import {
  approve,
  confirmationArguments,
  findConfirmation,
  launchChromium,
  screenshot,
  waitForRunStatus,
} from '../server/browser.ts';

describe('approving a Stripe refund in the browser', () => {
  const redis = new TestRedis();
  let sandboxes: Sandboxes;
  let app: App;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;

  beforeAll(async () => {
    await redis.start();
    sandboxes = await startSandboxes({ stripePort: 0, slackPort: 0 });
    Object.assign(process.env, sandboxes.env);
    app = await App.create({
      config: loadConfig(join(ROOT, 'workflows.yaml')),
      redisUrl: redis.url,
      prefix: 'ui',
      logger: silentLogger(),
    });
    // No tokens in the shipped config: the server binds loopback only and pages need no sign-in.
    server = await startServer(app, { host: '127.0.0.1', port: 0, logger: silentLogger() });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await app?.close();
    await sandboxes?.close();
    await redis.stop();
  });

  it('reads the amount in the refund payload, approves it and the Slack post, and sees the run succeed without reloading', async () => {
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
