/**
 * `@stripe/mcp` (Stripe's own server, tools run through the `stripe` SDK) pointed at the Stripe
 * sandbox by a preload. It answers every result as JSON text, and a failure as the text
 * "Failed to …" with isError false: `fail_when` is what makes that a failed step.
 */
import { describe, expect } from 'vitest';
import { CONNECTORS, runThrough, slackState, stripeState, serversTest } from './helpers.ts';

const YAML = `
connectors:${CONNECTORS.stripeMcp}${CONNECTORS.slackMcp}
workflows:
  refund-intent:
    description: refund a payment intent with @stripe/mcp, then say so in Slack with the reference Slack server
    inputs: { type: object, required: [customer, payment_intent], properties: { customer: { type: string }, payment_intent: { type: string } } }
    steps:
      - id: intents
        call: stripe_mcp.list_payment_intents
        with: { customer: "\${{ inputs.customer }}", limit: 3 }
      - id: refund
        call: stripe_mcp.create_refund
        with: { payment_intent: "\${{ inputs.payment_intent }}" }
      - id: notify
        call: slack_mcp.slack_post_message
        with:
          channel_id: C0BILLING
          text: "Refunded \${{ steps.refund.output.amount }} cents of \${{ steps.intents.output[0].id }}: \${{ steps.refund.output.id }}"
`;

const it = serversTest(YAML);

describe('@stripe/mcp 0.2.5 against the Stripe sandbox', () => {
  it('declares its annotations: list_payment_intents is a read, create_refund a write', async ({ app }) => {
    const tools = await app.pool.listTools('stripe_mcp');
    expect(tools.find((t) => t.name === 'list_payment_intents')).toMatchObject({
      write: false,
      annotations: { readOnlyHint: true },
    });
    expect(tools.find((t) => t.name === 'create_refund')).toMatchObject({
      write: true,
      idempotent: false,
      failWhen: [expect.stringContaining("$contains(output, 'Failed')")],
    });
    expect(tools.every((t) => t.loosened === undefined)).toBe(true);
    // What docs/servers.md says about its annotations.
    const reads = tools.filter((t) => !t.write).map((t) => t.name);
    expect(reads.filter((n) => !n.startsWith('list_')).sort()).toEqual(['retrieve_balance', 'search_stripe_documentation']);
    expect(tools.filter((t) => t.write).every((t) => /^(create|update|finalize|cancel)_/.test(t.name))).toBe(true);
    expect(
      tools
        .filter((t) => t.write && t.idempotent)
        .map((t) => t.name)
        .sort(),
    ).toEqual(['cancel_subscription', 'finalize_invoice']);
    expect(tools.filter((t) => t.name.startsWith('list_')).every((t) => !t.write)).toBe(true);
  }, 120_000); // the first test also starts the file's fixtures (60 s were the setup hook's)

  it('refunds once and posts the refund id read out of the JSON text it answered', async ({ app, sandboxes }) => {
    const { run: done, asked } = await runThrough(app, 'refund-intent', {
      customer: 'cus_seed_grace',
      payment_intent: 'pi_seed_2',
    });
    expect(asked).toEqual(['stripe_mcp.create_refund', 'slack_mcp.slack_post_message']);
    expect(done.status).toBe('succeeded');
    const refund = done.steps.refund.output as { id: string; amount: number };
    expect(refund).toMatchObject({ id: expect.stringMatching(/^re_/), amount: 12000 });
    // The raw text block stays beside the JSON read out of it.
    expect(done.steps.refund.content).toEqual([{ type: 'text', text: JSON.stringify(done.steps.refund.output) }]);
    const refunds = Object.values(stripeState(sandboxes).refunds).filter((r) => r.payment_intent === 'pi_seed_2');
    expect(refunds).toEqual([expect.objectContaining({ id: refund.id, charge: 'ch_seed_2', amount: 12000 })]);
    const intents = done.steps.intents.output as Array<{ id: string; customer: string }>;
    expect(intents.length).toBeGreaterThan(0);
    expect(intents.every((p) => p.customer === 'cus_seed_grace')).toBe(true);
    const msg = slackState(sandboxes).messages.find((m) => m.text.includes(refund.id));
    expect(msg).toMatchObject({ channel: 'C0BILLING', text: `Refunded 12000 cents of ${intents[0].id}: ${refund.id}` });
  }, 90_000);

  it('a refund it reports as "Failed to create refund" fails the step, and nothing is posted after it', async ({
    app,
    sandboxes,
  }) => {
    const refundsBefore = Object.keys(stripeState(sandboxes).refunds).length;
    const postsBefore = slackState(sandboxes).requests.filter((r) => r.method === 'chat.postMessage').length;
    const { run: done, asked } = await runThrough(app, 'refund-intent', {
      customer: 'cus_seed_ada',
      payment_intent: 'pi_does_not_exist',
    });
    expect(asked).toEqual(['stripe_mcp.create_refund']);
    expect(done.status).toBe('failed');
    expect(done.steps.refund.status).toBe('failed');
    expect(done.steps.refund.error).toMatchObject({
      code: 'TOOL_REPORTED_FAILURE',
      message: expect.stringContaining('"Failed to create refund"'),
    });
    expect(done.steps.refund.output).toBe('Failed to create refund');
    expect(done.steps.notify.status).toBe('pending');
    expect(Object.keys(stripeState(sandboxes).refunds)).toHaveLength(refundsBefore);
    expect(slackState(sandboxes).requests.filter((r) => r.method === 'chat.postMessage')).toHaveLength(postsBefore);
  }, 90_000);
});
