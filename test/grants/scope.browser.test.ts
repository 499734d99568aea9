import { resolve } from 'node:path';
import { describe, expect } from 'vitest';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { approvePlanOnPage, findConfirmation, screenshot } from '../helpers/browser.ts';
import { REFUND_NOTING_CHANNEL, messages, sandboxAppTest, settled, shippedWithoutRules } from './sandbox-app.ts';

// The shipped workflows plus a refund that notes the customer's channel, on the sandboxes.
const yaml = `${shippedWithoutRules()}${REFUND_NOTING_CHANNEL}
`;

const it = sandboxAppTest(yaml);

describe('the grant scope and the plan, in words, in Chromium', () => {
  it('remembers "amount up to 15.00 USD on this channel" from the card, lists it on the grants page and revokes it', async ({
    app,
    server,
    browser,
  }) => {
    const page = await browser.newPage();
    try {
      const { run } = await app.engine.trigger('refund', { charge: 'ch_seed_2', amount: 1500 });
      await settled(app, run.id);
      await page.goto(`${server.url}/ui`);
      const card = await findConfirmation(page, { runId: run.id });
      await card.locator('input[name=remember]').check();
      await card.locator('input[name=scope][value=arguments]').check();
      const amount = card.locator('input[name=field][value=amount]');
      const channel = card.locator('input[name=field][value="metadata.slack_channel"]');
      await amount.check();
      await channel.check();
      await card.locator('select[name=ttl]').selectOption('10m');
      expect(await amount.locator('xpath=..').innerText()).toContain('amount up to 15.00 USD');
      expect(await channel.locator('xpath=..').innerText()).toContain('metadata.slack_channel is C0CUST002');
      await screenshot(page, resolve(ROOT, 'test-results/ui-grant-scope.png'));
      await card.locator('button[data-action=approve]').click();
      await expect
        .poll(() => card.locator('.outcome').innerText(), { timeout: 10_000 })
        .toMatch(/^Approved and remembered as grant g/);
      await waitForStatus(app, run.id, ['succeeded']);

      const [grant] = await app.store.grants.list();
      expect(grant).toMatchObject({ scope: 'arguments', by: 'local' });
      await page.goto(`${server.url}/ui/grants`);
      const row = page.locator(`tr[data-grant="${grant.id}"]`);
      expect(await row.locator('.coverage').innerText()).toBe(
        'stripe.create_refund with amount up to 15.00 USD and metadata.slack_channel is C0CUST002',
      );
      expect(await row.locator('.limits').innerText()).toMatch(/^for 10 minutes \(until .*\), used 0 times$/);
      await screenshot(page, resolve(ROOT, 'test-results/ui-grants.png'));
      await row.locator('button[data-revoke]').click();
      await expect.poll(() => row.locator('.outcome').innerText(), { timeout: 10_000 }).toMatch(/^Revoked: /);
      expect((await app.store.grants.require(grant.id)).revokedBy).toBe('local');
    } finally {
      await page.close();
    }
  });

  it('shows refund → notify as a plan in words and approves it once', async ({ app, sandboxes, server, browser }) => {
    const page = await browser.newPage();
    try {
      const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_117', amount: 700 });
      await settled(app, run.id);
      await page.goto(`${server.url}/ui/runs/${run.id}`);
      const words = await page.locator('section.plan pre.plan-words').innerText();
      expect(words).toContain('stripe.create_refund (step refund):');
      expect(words).toContain('amount: 700 (7.00 USD)');
      expect(words).toContain('channel: "C0CUST002"');
      expect(words).toContain('text: filled in from steps.refund.output when it has run');
      await screenshot(page, resolve(ROOT, 'test-results/ui-plan.png'));
      await approvePlanOnPage(page);
      const done = await waitForStatus(app, run.id, ['succeeded']);
      const refund = done.steps.refund.output as { id: string };
      expect(messages(sandboxes).filter((m) => m.text.includes(refund.id))).toHaveLength(1);
    } finally {
      await page.close();
    }
  });
});
