import type { ElicitRequest } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect } from 'vitest';
import { runCommand } from '../../src/cli/run.ts';
import { servicesOf } from '../../src/server/compose.ts';
import { connectClient, serveRoute } from '../server/mcp/helpers.ts';
import { messages, pending, refunds, sandboxAppTest, settled, shippedWithoutRules } from '../grants/sandbox-app.ts';

// The shipped workflows (their money spec included) without the shipped rules, so every refund here
// asks a person; on the Stripe and Slack sandboxes, through the MCP facade over streamable HTTP.
const it = sandboxAppTest(shippedWithoutRules());

/** The text of an elicitation form's message. */
const messageOf = (req: ElicitRequest): string => (req.params.mode === 'url' ? '' : req.params.message);

describe('the plan, the rule and the scope in words at a gate, in the MCP facade and the CLI', () => {
  it('a client that cannot be asked gets the plan in words with its hash and command, and approving that plan runs refund → notify', async ({
    app,
    sandboxes,
  }) => {
    const route = await serveRoute(app);
    const client = await connectClient(route.url);
    try {
      const { result, view } = await client.call('refund-and-notify', { charge: 'ch_seed_201', amount: 750 });
      expect(view.status).toBe('awaiting_confirmation');
      const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      // The rule (here: none matches) and the amount in currency, not only cents.
      expect(view.confirmation?.policy).toEqual(['Amount: 7.50 USD', 'Policy: no rule matches; one person approves.']);
      expect(text).toContain('Amount: 7.50 USD');
      // The plan: every write ahead with its values, and what the refund will fill in.
      const plan = view.plan;
      if (!plan) throw new Error('the answer carries no plan');
      expect(plan.writes).toBe(2);
      expect(plan.lines).toEqual(
        expect.arrayContaining([
          'stripe.create_refund (step refund):',
          '  charge_id: "ch_seed_201"',
          '  amount: 750 (7.50 USD)',
          'slack.post_message (step notify):',
          expect.stringMatching(/^ {2}text: filled in from steps\.refund\.output when it has run: /),
        ]),
      );
      expect(plan.approveCommand).toBe(`npx interlock plan ${view.runId} --approve ${plan.planHash}`);
      expect(plan.approveUrl).toBe(`${route.origin}/ui/runs/${view.runId}`);
      for (const line of plan.lines) expect(text).toContain(line);
      // get_run says the same while the run waits.
      const again = await client.call('get_run', { runId: view.runId });
      expect(again.view.plan?.planHash).toBe(plan.planHash);

      // The person approves the plan they were shown, bound to its hash: both writes run, each once.
      await servicesOf(app).plans.approve(view.runId, plan.planHash, { by: 'alice', channel: 'api' });
      const done = await settled(app, view.runId);
      expect(done.status).toBe('succeeded');
      const refund = done.steps.refund.output as { id: string };
      expect(refunds(sandboxes).filter((r) => r.charge === 'ch_seed_201' && r.id === refund.id)).toHaveLength(1);
      expect(messages(sandboxes).filter((m) => m.text.includes(refund.id))).toHaveLength(1);
      // Finished: no plan is offered any more.
      expect((await client.call('get_run', { runId: view.runId })).view.plan).toBeUndefined();
    } finally {
      await client.close();
      await route.close();
    }
  });

  it('the elicitation message shows the amount, the rule, the scope "remember" would cover and the plan', async ({
    app,
    sandboxes,
  }) => {
    const route = await serveRoute(app);
    const client = await connectClient(route.url, {
      elicit: () => ({ action: 'accept', content: { decision: 'approve', remember: false } }),
    });
    try {
      const before = messages(sandboxes).length;
      const { view } = await client.call('refund-and-notify', { charge: 'ch_seed_203', amount: 625 });
      expect(view.status).toBe('succeeded');
      expect(client.asked).toHaveLength(2);
      const [first, second] = client.asked.map(messageOf);
      expect(first).toContain('Amount: 6.25 USD');
      expect(first).toContain('Policy: no rule matches; one person approves.');
      expect(first).toContain('  amount: amount up to 6.25 USD');
      expect(first).toContain('  amount: 625 (6.25 USD)');
      expect(first).toContain('slack.post_message (step notify):');
      expect(first).toMatch(
        /Approve the whole plan once at http:\/\/127\.0\.0\.1:\d+\/ui\/runs\/\S+ or with `npx interlock plan \S+ --approve [0-9a-f]{64}`/,
      );
      // At the post, the refund has run: the plan now shows the exact text that will be sent.
      const refund = (await app.store.requireRun(view.runId)).steps.refund.output as { id: string };
      expect(second).toContain('slack.post_message (step notify):');
      expect(second).toContain(`Refund id: ${refund.id}.`);
      expect(messages(sandboxes).length).toBe(before + 1);
    } finally {
      await client.close();
      await route.close();
    }
  });

  it('`interlock run --wait` prints the plan in words beside the pending write', async ({ app }) => {
    const printed: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void printed.push(a.map(String).join(' '));
    const out = () => printed.join('\n');
    try {
      const waiting = runCommand(app, 'refund-and-notify', { input: ['charge=ch_seed_205', 'amount=900'], wait: true });
      await expect.poll(out, { timeout: 30_000 }).toContain('waiting for a decision');
      const runId = /started run (\S+)/.exec(out())?.[1] ?? '';
      const conf = await pending(app, await app.store.requireRun(runId));
      await app.engine.deny(conf.id, { by: 'cli', channel: 'cli' });
      expect((await waiting).status).toBe('denied');
    } finally {
      console.log = log;
    }
    expect(out()).toContain('Confirmation needed: stripe.create_refund');
    expect(out()).toContain('Amount: 9.00 USD');
    expect(out()).toContain('amount                   → amount up to 9.00 USD');
    expect(out()).toContain('amount: 900 (9.00 USD)');
    expect(out()).toContain('text: filled in from steps.refund.output when it has run');
    expect(out()).toMatch(/Approve the whole plan once with `npx interlock plan \S+ --approve [0-9a-f]{64}`/);
  });
});
