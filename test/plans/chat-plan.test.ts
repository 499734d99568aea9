import { describe, expect } from 'vitest';
import { type ChatRequest, latestToolResults, type Reply } from '../../src/sandbox/openai/index.ts';
import { shippedWithoutRules } from '../grants/sandbox-app.ts';
import { chatTest } from '../llm/chat-rig.ts';
import { count } from '../llm/tmux.ts';

interface StripeState {
  refunds: Record<string, { id: string; charge: string; amount: number }>;
}
interface SlackState {
  messages: Array<{ channel: string; text: string }>;
}

/**
 * `interlock chat` in a real terminal (tmux), a scripted model on the OpenAI sandbox, the Stripe
 * and Slack sandboxes: at the first write the person sees the amount, the remember scope and the
 * plan in words, and approves the plan once; the post then goes out without another question.
 */
const it = chatTest(shippedWithoutRules());

describe('interlock chat shows the plan in words and approves it once', () => {
  it('refund → notify with one approval of the plan, the post exactly what the plan showed with the refund id filled in', async ({
    openai,
    tmux,
    startChat,
    sandboxes,
  }) => {
    const refundCall: Reply = {
      content: "I'll refund 8.00 of ch_seed_241.",
      toolCalls: [
        { name: 'run_workflow', arguments: { workflow: 'refund-and-notify', inputs: { charge: 'ch_seed_241', amount: 800 } } },
      ],
    };
    const report = (req: ChatRequest): Reply => {
      const [result] = latestToolResults(req);
      const run = JSON.parse(result.content) as { status: string; runId: string };
      return { content: `The run ${run.runId} ended ${run.status}.` };
    };
    openai.setScript([refundCall, report]);
    startChat('plan');
    await tmux.waitFor('plan', /you›/);
    tmux.type('plan', 'Refund 8.00 of ch_seed_241 and tell the customer');

    let screen = await tmux.waitFor('plan', /Confirmation needed: stripe\.create_refund[\s\S]*Approve this call\?/);
    expect(screen).toContain('Amount: 8.00 USD');
    expect(screen).toContain('amount                   → amount up to 8.00 USD');
    expect(screen).toMatch(
      /Plan [0-9a-f]{12}… from step refund: 2 writes run without asking again if their arguments are exactly these/,
    );
    expect(screen).toContain('  amount: 800 (8.00 USD)');
    expect(screen).toContain('slack.post_message (step notify):');
    expect(screen).toContain('text: filled in from steps.refund.output when it has run');
    expect(screen).toContain('[p]lan: approve the whole plan shown once');
    tmux.type('plan', 'p');

    screen = await tmux.waitFor('plan', /interlock› The run \S+ ended succeeded\./);
    expect(screen).toContain('plan approved: stripe.create_refund and the writes after it run while they match it');
    // One question only: the post ran under the plan.
    expect(count(screen, 'Approve this call?')).toBe(1);
    const refund = Object.values((sandboxes.stripe.state() as unknown as StripeState).refunds).filter(
      (r) => r.charge === 'ch_seed_241',
    );
    expect(refund.map((r) => r.amount)).toEqual([800]);
    const sent = (sandboxes.slack.state() as unknown as SlackState).messages.filter((m) => m.text.includes(refund[0].id));
    expect(sent.map((m) => m.text)).toEqual([
      `Hi Grace Hopper, we refunded 8.00 USD of your charge ch_seed_241. Refund id: ${refund[0].id}.`,
    ]);
    tmux.type('plan', '/exit');
    await tmux.waitFor('plan', /\[exited 0\]/);
  });
});
