import { resolve } from 'node:path';
import { describe, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { SHIPPED_CONFIG, appTest } from '../helpers/fixtures.ts';
import { screenshot, signIn } from '../helpers/browser.ts';
import { newCharge } from '../grants/sandbox-app.ts';

/**
 * The page of a 600.00 USD refund that needs two finance approvers, in Chromium: the amount in
 * currency, the rule and the quorum in words, and a finance approver's click that records one
 * approval and leaves the write waiting. The shipped workflows.yaml, with tokens for the people.
 */
const TOKENS = `
tokens:
  - { name: ops, token: "\${env:POLICY_OPS_TOKEN}", scopes: [read, trigger, confirm] }
  - { name: finance-alice, token: "\${env:POLICY_ALICE_TOKEN}", scopes: [read, confirm] }
  - { name: finance-bob, token: "\${env:POLICY_BOB_TOKEN}", scopes: [read, confirm] }
`;

// The shipped workflows.yaml with the tokens above, on the sandboxes.
const it = appTest({
  yaml: readFileSync(SHIPPED_CONFIG, 'utf8') + TOKENS,
  sandboxes: true,
  env: { POLICY_OPS_TOKEN: 'ops-secret-1', POLICY_ALICE_TOKEN: 'alice-secret-1', POLICY_BOB_TOKEN: 'bob-secret-1' },
});

describe('a quorum on the confirmation page', () => {
  it('shows the rule, the amount and the approvals so far in words, and records a finance approver’s click', async ({
    app,
    sandboxes,
    server,
    browser,
  }) => {
    const charge = await newCharge(sandboxes, 90000);
    const { run } = await app.engine.trigger('refund-and-notify', { charge, amount: 60000 }, { principal: 'ops' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
    const cid = paused.steps.refund.confirmationId ?? '';

    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await signIn(page, server.url, 'alice-secret-1', `/ui/confirmations/${cid}`);
    const card = page.locator(`.confirmation[data-id="${cid}"]`);
    await card.waitFor({ state: 'visible' });
    expect(await card.locator('.money').innerText()).toBe('600.00 USD');
    expect(await card.locator('.policy-rule').innerText()).toBe(
      'Rule "large-refunds" (refunds above 500.00 USD need two approvers from finance) applies to this call of 600.00 USD: it needs 2 different approvers from group "finance", and the person who started the run cannot be one of them.',
    );
    expect(await card.locator('.quorum').innerText()).toBe(
      '0 of 2 approvals so far; 2 more needed from group "finance". ops started the run and cannot approve it.',
    );
    // One person cannot stand for a quorum: nothing to remember.
    expect(await card.locator('input[name=remember]').isDisabled()).toBe(true);

    await card.locator('button[data-action=approve]').click();
    await expect
      .poll(() => card.locator('.outcome').innerText(), { timeout: 10_000 })
      .toBe('Approval recorded: 1 of 2 from group "finance"; the write waits for the rest.');
    await page.reload();
    expect(await page.locator(`.confirmation[data-id="${cid}"] .quorum`).innerText()).toBe(
      '1 of 2 approvals so far (finance-alice); 1 more needed from group "finance". ops started the run and cannot approve it.',
    );
    await screenshot(page, resolve(ROOT, 'test-results/policy-quorum.png'));
    expect((await app.store.requireRun(run.id)).status).toBe('awaiting_confirmation');
    await page.close();
  });
});
