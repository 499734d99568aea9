import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import type { Sandboxes } from '../../src/sandbox/index.ts';
import { servicesOf } from '../../src/server/compose.ts';
import { startServer } from '../../src/server/serve.ts';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { launchChromium, screenshot } from '../helpers/browser.ts';
import { REFUND_THEN_RECHECK, messages, refunds, sandboxAppTest, settled } from '../grants/sandbox-app.ts';

// The shipped workflows.yaml with its rules, plus a refund whose Slack post reads a charge looked up
// again after the refund, on the sandboxes; every page is read in Chromium and kept as a screenshot.
const it = sandboxAppTest(`${readFileSync(join(ROOT, 'workflows.yaml'), 'utf8')}${REFUND_THEN_RECHECK}`);

let browser: Browser | undefined;
afterAll(async () => browser?.close());

/** A 900.00 USD charge made on the Stripe sandbox, for refunds the seed's charges are too small for. */
async function bigCharge(s: Sandboxes): Promise<string> {
  const res = await fetch(`${s.stripe.url}/v1/charges`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk_test_pages', 'content-type': 'application/x-www-form-urlencoded' },
    body: 'amount=90000&currency=usd&customer=cus_seed_grace',
  });
  return ((await res.json()) as { id: string }).id;
}

async function withPage(app: App, f: (page: Page, url: string) => Promise<void>): Promise<void> {
  const server = await startServer(app, { host: '127.0.0.1', port: 0, logger: silentLogger() });
  browser ??= await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  try {
    await f(page, server.url);
  } finally {
    await page.close();
    await server.close();
  }
}

const stepText = (page: Page, id: string) => page.locator(`section.step[data-step="${id}"]`).innerText();

describe('the rule and the plan in words on the run pages, in Chromium', () => {
  it('a refund a rule approved names the rule and the amount in currency; the plan shows the post that waits', async ({
    app,
  }) => {
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_2', amount: 2000 }, { principal: 'ops' });
    const paused = await settled(app, run.id);
    expect(paused.steps.notify.status).toBe('awaiting_confirmation');
    await withPage(app, async (page, url) => {
      await page.goto(`${url}/ui/runs/${run.id}`);
      expect(await stepText(page, 'refund')).toContain(
        'Approved by rule "small-refunds" (refunds up to 50.00 USD approve themselves) without asking anyone: this call of 20.00 USD is within it.',
      );
      const words = await page.locator('section.plan pre.plan-words').innerText();
      expect(words).toContain('slack.post_message (step notify):');
      expect(words).toContain('text: "Hi Grace Hopper, we refunded 20.00 USD of your charge ch_seed_2. Refund id: ');
      await screenshot(page, resolve(ROOT, 'test-results/policy-rule-approved.png'));
    });
    await app.engine.cancel(run.id, 'test');
  });

  it('a refund above what the charge has left shows the rule that denied it, and Stripe never saw it', async ({
    app,
    sandboxes,
  }) => {
    const charge = await bigCharge(sandboxes);
    const { run } = await app.engine.trigger('refund-and-notify', { charge, amount: 95000 }, { principal: 'ops' });
    expect((await settled(app, run.id)).status).toBe('denied');
    await withPage(app, async (page, url) => {
      await page.goto(`${url}/ui/runs/${run.id}`);
      expect(await page.locator('body').innerText()).toContain(
        'Denied by rule "refund-above-charge" (a refund larger than what is left of its charge is never sent): this call of 950.00 USD is never sent.',
      );
      await screenshot(page, resolve(ROOT, 'test-results/policy-rule-denied.png'));
    });
    expect(refunds(sandboxes).filter((r) => r.charge === charge)).toEqual([]);
  });

  it('after the plan is approved on the page, a post the plan could not know says why it asks again', async ({
    app,
    sandboxes,
  }) => {
    const charge = await bigCharge(sandboxes);
    const { run } = await app.engine.trigger('refund-then-recheck', { charge, amount: 10000 }, { principal: 'ops' });
    await settled(app, run.id);
    const before = messages(sandboxes).length;
    await withPage(app, async (page, url) => {
      await page.goto(`${url}/ui/runs/${run.id}`);
      const card = page.locator('.confirmation[data-status="pending"]').first();
      expect(await card.locator('.money').innerText()).toBe('100.00 USD');
      expect(await card.locator('.policy-rule').innerText()).toBe(
        'No rule matches this call of 100.00 USD: one person with the confirm scope approves it.',
      );
      expect(await card.locator('ul.fields').innerText()).toContain('amount up to 100.00 USD');
      const words = await page.locator('section.plan pre.plan-words').innerText();
      expect(words).toContain('amount: 10000 (100.00 USD)');
      expect(words).toContain(
        'slack.post_message (step notify): not in the plan, asks on its own: text comes from steps.recheck',
      );
      await screenshot(page, resolve(ROOT, 'test-results/policy-plan-offered.png'));
      await page.locator('button[data-plan-approve]').click();
      await expect
        .poll(() => page.locator('section.plan .actions .outcome').innerText(), { timeout: 10_000 })
        .toMatch(/^Plan approved/);

      const atPost = await waitForStatus(app, run.id, ['awaiting_confirmation', 'failed', 'denied']);
      expect(atPost.steps.notify.status).toBe('awaiting_confirmation');
      await page.goto(`${url}/ui/runs/${run.id}`);
      expect(await page.locator('.plan-diverged').innerText()).toMatch(
        /^The plan local approved \([0-9a-f]{12}…\) does not cover step notify, so a person is asked again: step notify was not planned: text comes from steps\.recheck/,
      );
      expect(await page.locator('.confirmation[data-status="pending"] pre.arguments').innerText()).toContain(
        'Refunded; 80000 cents are left to refund.',
      );
      await screenshot(page, resolve(ROOT, 'test-results/policy-plan-asks-again.png'));
    });
    expect(messages(sandboxes).length).toBe(before);
    await app.engine.cancel(run.id, 'test');
  });

  it('the one-time page an MCP client sends a person to shows the amount, the rule and the plan in words', async ({
    app,
    sandboxes,
  }) => {
    const charge = await bigCharge(sandboxes);
    const { run } = await app.engine.trigger('refund-and-notify', { charge, amount: 12500 }, { principal: 'ops' });
    const paused = await settled(app, run.id);
    const cid = paused.steps.refund.confirmationId ?? '';
    const token = await servicesOf(app).decideLinks.mint({
      confirmationId: cid,
      by: 'ops',
      channel: 'mcp-url',
      mayRemember: true,
      expiresAt: Date.now() + 600_000,
    });
    await withPage(app, async (page, url) => {
      await page.goto(`${url}/ui/decide/${token}`);
      const card = page.locator(`.confirmation[data-id="${cid}"]`);
      expect(await card.locator('.money').innerText()).toBe('125.00 USD');
      expect(await card.locator('.policy-rule').innerText()).toBe(
        'No rule matches this call of 125.00 USD: one person with the confirm scope approves it.',
      );
      const words = await page.locator('section.plan pre.plan-words').innerText();
      expect(words).toContain('amount: 12500 (125.00 USD)');
      expect(words).toContain('slack.post_message (step notify):');
      expect(words).toContain('text: filled in from steps.refund.output when it has run');
      expect(words).toMatch(
        new RegExp(`Approve the whole plan once with \`npx interlock plan ${run.id} --approve [0-9a-f]{64}\``),
      );
      await screenshot(page, resolve(ROOT, 'test-results/policy-decide-page.png'));
    });
    await app.engine.cancel(run.id, 'test');
  });
});
