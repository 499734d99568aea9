import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import { silentLogger } from '../../src/logger.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { servicesOf } from '../../src/server/compose.ts';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { approvePlanOnPage, screenshot } from '../helpers/browser.ts';
import { appTest } from '../helpers/fixtures.ts';
import { REFUND_THEN_RECHECK, messages, newCharge, refunds, settled, shippedWith } from '../grants/sandbox-app.ts';

// The shipped workflows.yaml with its rules, plus a refund whose Slack post reads a charge looked up
// again after the refund, on the sandboxes; every page is read in Chromium and kept as a screenshot.
const it = appTest({
  yaml: shippedWith([REFUND_THEN_RECHECK]),
  sandboxes: true,
  server: { logger: silentLogger() },
}).extend<{
  page: Page;
  /** ops starts `workflow` refunding `amount` cents of `charge` (a fresh 900.00 USD one if none), settled */
  refundAsOps: (workflow: string, amount: number, charge?: string) => Promise<{ charge: string; run: RunRecord }>;
}>({
  // a fresh page per test in the file's Chromium, closed after it
  page: async ({ browser }, use) => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    try {
      await use(page);
    } finally {
      await page.close();
    }
  },
  refundAsOps: async ({ app, sandboxes }, use) =>
    use(async (workflow, amount, given) => {
      const charge = given ?? (await newCharge(sandboxes, 90000));
      const { run } = await app.engine.trigger(workflow, { charge, amount }, { principal: 'ops' });
      return { charge, run: await settled(app, run.id) };
    }),
});

const stepText = (page: Page, id: string) => page.locator(`section.step[data-step="${id}"]`).innerText();

describe('the rule and the plan in words on the run pages, in Chromium', () => {
  it('a refund a rule approved names the rule and the amount in currency; the plan shows the post that waits', async ({
    app,
    refundAsOps,
    server,
    page,
  }) => {
    const { run } = await refundAsOps('refund-and-notify', 2000, 'ch_seed_2');
    expect(run.steps.notify.status).toBe('awaiting_confirmation');
    await page.goto(`${server.url}/ui/runs/${run.id}`);
    expect(await stepText(page, 'refund')).toContain(
      'Approved by rule "small-refunds" (refunds up to 50.00 USD approve themselves) without asking anyone: this call of 20.00 USD is within it.',
    );
    const words = await page.locator('section.plan pre.plan-words').innerText();
    expect(words).toContain('slack.post_message (step notify):');
    expect(words).toContain('text: "Hi Grace Hopper, we refunded 20.00 USD of your charge ch_seed_2. Refund id: ');
    await screenshot(page, resolve(ROOT, 'test-results/policy-rule-approved.png'));
    await app.engine.cancel(run.id, 'test');
  });

  it('a refund above what the charge has left shows the rule that denied it, and Stripe never saw it', async ({
    sandboxes,
    refundAsOps,
    server,
    page,
  }) => {
    const { charge, run } = await refundAsOps('refund-and-notify', 95000);
    expect(run.status).toBe('denied');
    await page.goto(`${server.url}/ui/runs/${run.id}`);
    expect(await page.locator('body').innerText()).toContain(
      'Denied by rule "refund-above-charge" (a refund larger than what is left of its charge is never sent): this call of 950.00 USD is never sent.',
    );
    await screenshot(page, resolve(ROOT, 'test-results/policy-rule-denied.png'));
    expect(refunds(sandboxes).filter((r) => r.charge === charge)).toEqual([]);
  });

  it('after the plan is approved on the page, a post the plan could not know says why it asks again', async ({
    app,
    sandboxes,
    refundAsOps,
    server,
    page,
  }) => {
    const { run } = await refundAsOps('refund-then-recheck', 10000);
    const before = messages(sandboxes).length;
    await page.goto(`${server.url}/ui/runs/${run.id}`);
    const card = page.locator('.confirmation[data-status="pending"]').first();
    expect(await card.locator('.money').innerText()).toBe('100.00 USD');
    expect(await card.locator('.policy-rule').innerText()).toBe(
      'No rule matches this call of 100.00 USD: one person with the confirm scope approves it.',
    );
    expect(await card.locator('ul.fields').innerText()).toContain('amount up to 100.00 USD');
    const words = await page.locator('section.plan pre.plan-words').innerText();
    expect(words).toContain('amount: 10000 (100.00 USD)');
    expect(words).toContain('slack.post_message (step notify): not in the plan, asks on its own: text comes from steps.recheck');
    await screenshot(page, resolve(ROOT, 'test-results/policy-plan-offered.png'));
    await approvePlanOnPage(page);

    const atPost = await waitForStatus(app, run.id, ['awaiting_confirmation', 'failed', 'denied']);
    expect(atPost.steps.notify.status).toBe('awaiting_confirmation');
    await page.goto(`${server.url}/ui/runs/${run.id}`);
    expect(await page.locator('.plan-diverged').innerText()).toMatch(
      /^The plan local approved \([0-9a-f]{12}…\) does not cover step notify, so a person is asked again: step notify was not planned: text comes from steps\.recheck/,
    );
    expect(await page.locator('.confirmation[data-status="pending"] pre.arguments').innerText()).toContain(
      'Refunded; 80000 cents are left to refund.',
    );
    await screenshot(page, resolve(ROOT, 'test-results/policy-plan-asks-again.png'));
    expect(messages(sandboxes).length).toBe(before);
    await app.engine.cancel(run.id, 'test');
  });

  it('the one-time page an MCP client sends a person to shows the amount, the rule and the plan in words', async ({
    app,
    refundAsOps,
    server,
    page,
  }) => {
    const { run } = await refundAsOps('refund-and-notify', 12500);
    const cid = run.steps.refund.confirmationId ?? '';
    const token = await servicesOf(app).decideLinks.mint({
      confirmationId: cid,
      by: 'ops',
      channel: 'mcp-url',
      mayRemember: true,
      expiresAt: Date.now() + 600_000,
    });
    await page.goto(`${server.url}/ui/decide/${token}`);
    const card = page.locator(`.confirmation[data-id="${cid}"]`);
    expect(await card.locator('.money').innerText()).toBe('125.00 USD');
    expect(await card.locator('.policy-rule').innerText()).toBe(
      'No rule matches this call of 125.00 USD: one person with the confirm scope approves it.',
    );
    const words = await page.locator('section.plan pre.plan-words').innerText();
    expect(words).toContain('amount: 12500 (125.00 USD)');
    expect(words).toContain('slack.post_message (step notify):');
    expect(words).toContain('text: filled in from steps.refund.output when it has run');
    expect(words).toMatch(new RegExp(`Approve the whole plan once with \`npx interlock plan ${run.id} --approve [0-9a-f]{64}\``));
    await screenshot(page, resolve(ROOT, 'test-results/policy-decide-page.png'));
    await app.engine.cancel(run.id, 'test');
  });
});
