import { describe, expect } from 'vitest';
import { approveAll, waitForStatus } from '../helpers/app.ts';
import { SHIPPED_CONFIG, appTest } from '../helpers/fixtures.ts';
import { runCli } from '../helpers/processes.ts';

interface StripeState {
  refunds: Record<string, { charge: string; amount: number }>;
  customers: Record<string, { email: string }>;
  invoices: Record<string, { status: string; customer: string }>;
}
interface SlackState {
  messages: Array<{ channel: string; text: string; ts: string }>;
}

// the shipped workflows.yaml, its connectors pointed at the sandboxes through their environment
const it = appTest({ file: SHIPPED_CONFIG, sandboxes: true });

describe('the shipped workflows on the Stripe and Slack sandboxes', () => {
  it('refund-and-notify refunds once and tells the customer the refund amount and id', async ({ app, sandboxes }) => {
    // 75.00 USD: above what policy.rules approve by themselves, below what needs two approvers.
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_2', amount: 7500 });
    const { run: done, asked: shown } = await approveAll(app, run.id);
    expect(shown).toEqual(['stripe.create_refund', 'slack.post_message']);
    expect(done.status).toBe('succeeded');
    const refund = done.steps.refund.output as { id: string; amount: number };
    const stripe = sandboxes.stripe.state() as unknown as StripeState;
    expect(Object.values(stripe.refunds).filter((r) => r.charge === 'ch_seed_2')).toHaveLength(1);
    expect(refund.amount).toBe(7500);
    const slack = sandboxes.slack.state() as unknown as SlackState;
    const msg = slack.messages.find((m) => m.text.includes(refund.id));
    expect(msg?.channel).toBe('C0CUST002');
    expect(msg?.text).toContain('75.00 USD');
  });

  it('a denied refund never reaches Stripe', async ({ app, sandboxes }) => {
    // Back to the seed, so all of ch_seed_2 (120.00 USD) is left: a refund that asks one person.
    await fetch(`${sandboxes.stripe.url}/_sandbox/reset`, { method: 'POST' });
    const before = Object.keys((sandboxes.stripe.state() as unknown as StripeState).refunds).length;
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_2' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
    await app.engine.deny(paused.steps.refund.confirmationId!, { by: 'test' });
    await waitForStatus(app, run.id, ['denied']);
    expect(Object.keys((sandboxes.stripe.state() as unknown as StripeState).refunds)).toHaveLength(before);
  });

  it('a refund Stripe refuses fails the run with Stripe’s reason', async ({ app }) => {
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_3' });
    const { run: done } = await approveAll(app, run.id);
    expect(done.status).toBe('failed');
    expect(done.steps.refund.error?.message).toMatch(/charge_already_refunded|already been refunded/);
  });

  it('invoice-customer creates a new customer, invoices and finalizes, asking before each write', async ({ app, sandboxes }) => {
    const { run } = await app.engine.trigger('invoice-customer', {
      email: 'new@example.com',
      name: 'New Person',
      amount: 4200,
      description: 'Consulting',
    });
    const { run: done, asked: shown } = await approveAll(app, run.id);
    expect(done.status).toBe('succeeded');
    expect(shown).toEqual([
      'stripe.create_customer',
      'stripe.create_invoice_item',
      'stripe.create_invoice',
      'stripe.finalize_invoice',
    ]);
    const inv = done.steps.finalize.output as { id: string; status: string };
    expect(inv.status).toBe('open');
    const stripe = sandboxes.stripe.state() as unknown as StripeState;
    expect(Object.values(stripe.customers).filter((c) => c.email === 'new@example.com')).toHaveLength(1);
  });

  it('invoice-customer reuses an existing customer (the create step is skipped)', async ({ app }) => {
    const { run } = await app.engine.trigger('invoice-customer', {
      email: 'ada@example.com',
      amount: 1000,
      description: 'Support',
    });
    const { run: done, asked: shown } = await approveAll(app, run.id);
    expect(done.status).toBe('succeeded');
    expect(done.steps.create.status).toBe('skipped');
    expect(shown).not.toContain('stripe.create_customer');
  });
});

describe('npm run demo', () => {
  it('runs refund → notify end to end and shows the payload, the refund id and the message ts', async ({ redis }) => {
    const r = await runCli(['demo'], {
      timeoutMs: 120_000,
      env: { ...process.env, REDIS_URL: redis.url, INTERLOCK_PREFIX: 'demo', NO_COLOR: '1' },
    });
    expect(r.stderr).not.toMatch(/demo failed/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Confirmation needed: stripe.create_refund');
    expect(r.stdout).toContain('"charge_id": "ch_seed_2"');
    expect(r.stdout).toContain('Confirmation needed: slack.post_message');
    expect(r.stdout).toMatch(/refund re_\w+ \(7500 cents, succeeded\)/);
    expect(r.stdout).toMatch(/Slack message ts \d+\.\d+ in C0CUST002/);
  });
});
