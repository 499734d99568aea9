import { describe, expect } from 'vitest';
import { latestToolResults, type ChatRequest, type Reply } from '../../src/sandbox/openai/index.ts';
import { shippedWithoutRules } from '../grants/sandbox-app.ts';
import { chatTest } from './chat-rig.ts';
import { count } from './tmux.ts';

interface StripeState {
  refunds: Record<string, { id: string; charge: string; amount: number }>;
}
interface RunAnswer {
  runId: string;
  status: string;
  steps: Array<{ id: string; output?: { id?: string } }>;
}

/** The run the facade answered the model with, as the model received it. */
function runAnswer(req: ChatRequest): RunAnswer {
  const [result] = latestToolResults(req);
  return JSON.parse(result.content) as RunAnswer;
}

/** A model turn that reports the refund in the tool result it was given, as a person would want it. */
const report = (req: ChatRequest): Reply => {
  const run = runAnswer(req);
  const refund = run.steps.find((s) => s.id === 'refund')?.output?.id;
  return {
    content:
      run.status === 'succeeded'
        ? `Done: refund ${refund} succeeded (run ${run.runId}).`
        : `The run ended ${run.status}; nothing more was done.`,
  };
};

const refund = (charge: string, amount: number): Reply => ({
  content: `I'll refund ${amount} cents of ${charge}.`,
  toolCalls: [{ name: 'run_workflow', arguments: { workflow: 'refund-and-notify', inputs: { charge, amount } } }],
});

// The shipped workflows without the shipped policy.rules: this is about asking and remembering
// in the chat, and small-refunds would approve these refunds by itself (rules: test/policy).
const it = chatTest(shippedWithoutRules()).extend<{
  /** the refunds of a charge made here (not the seeded ones) */
  refundsOf: (charge: string) => StripeState['refunds'][string][];
}>({
  refundsOf: async ({ sandboxes }, use) =>
    use((charge) =>
      Object.values((sandboxes.stripe.state() as unknown as StripeState).refunds).filter(
        (r) => r.charge === charge && !r.id.startsWith('re_seed'),
      ),
    ),
});

describe('interlock chat in a real terminal: the model runs workflows, the person decides every write', () => {
  it('shows each write in full, runs it on approval, and does not ask again for what was remembered', async ({
    openai,
    tmux,
    startChat,
    refundsOf,
  }) => {
    openai.setScript([refund('ch_seed_1', 1500), report, refund('ch_seed_2', 1000), report]);
    startChat('first');
    await tmux.waitFor('first', /you›/);
    tmux.type('first', 'Please refund 15.00 of ch_seed_1 and let the customer know');

    let screen = await tmux.waitFor('first', /Confirmation needed: stripe\.create_refund[\s\S]*Approve this call\?/);
    expect(screen).toContain('→ run_workflow {"workflow":"refund-and-notify","inputs":{"charge":"ch_seed_1","amount":1500}}');
    expect(screen).toMatch(/arguments \(exact JSON that will be sent\):\s+\{\s+"charge_id": "ch_seed_1",\s+"amount": 1500\s+\}/);
    expect(screen).toMatch(/argumentsHash: [0-9a-f]{64}/);
    expect(screen).toMatch(/expected output:\s+id: string — Refund id/);
    // The question went to the person: the model has not been asked anything since it called the tool.
    expect(openai.requests).toHaveLength(1);
    expect(refundsOf('ch_seed_1')).toEqual([]);
    const offered = (openai.requests[0].body.tools ?? []).map((t) => (t.type === 'function' ? t.function.name : ''));
    expect(offered).toEqual(expect.arrayContaining(['run_workflow', 'get_run', 'list_workflows', 'refund-and-notify']));
    expect(openai.requests[0].body.stream).toBe(true);

    // Remember the refund scoped to its amount: refunds up to 15.00 USD, for an hour.
    tmux.type('first', 's');
    screen = await tmux.waitFor('first', /Fields to hold to what you approve/);
    expect(screen).toContain('amount up to 15.00 USD');
    tmux.type('first', 'amount');
    await tmux.waitFor('first', /For how long/);
    tmux.type('first', '1h');
    screen = await tmux.waitFor('first', (s) => count(s, 'Approve this call?') === 2);
    expect(screen).toContain('remembered for amount, 1h in this conversation');
    expect(screen).toContain('Confirmation needed: slack.post_message');
    const [made] = refundsOf('ch_seed_1');
    expect(made.amount).toBe(1500);
    expect(screen).toMatch(
      new RegExp(`"text": "Hi Ada Lovelace, we refunded 15\\.00 USD of your charge ch_seed_1\\. Refund id: ${made.id}\\."`),
    );
    tmux.type('first', 'r');

    screen = await tmux.waitFor('first', /interlock› Done: refund re_\w+ succeeded/);
    expect(screen).toContain(`interlock› Done: refund ${made.id} succeeded`);
    expect(runAnswer(openai.requests[1].body).status).toBe('succeeded');

    tmux.type('first', 'Now refund 10.00 of ch_seed_2 as well');
    // The refund is within the remembered amount and goes through; the post to another customer's
    // channel is another payload than the one remembered, so it asks.
    screen = await tmux.waitFor('first', (s) => count(s, 'Approve this call?') === 3);
    expect(screen).toContain('Confirmation needed: slack.post_message');
    const [second] = refundsOf('ch_seed_2');
    expect(second.amount).toBe(1000);
    tmux.type('first', 'a');
    screen = await tmux.waitFor('first', (s) => count(s, 'interlock› Done: refund') === 2);
    expect(screen).toContain(`interlock› Done: refund ${second.id} succeeded`);
    expect(count(screen, 'Confirmation needed:')).toBe(3);
    expect(openai.requests).toHaveLength(4);

    tmux.type('first', '/exit');
    await tmux.waitFor('first', /Chat ended; approvals remembered in it are gone\.\n\[exited 0\]/);
  });

  it('asks again in a new conversation, and a denied write never reaches Stripe', async ({
    openai,
    tmux,
    startChat,
    refundsOf,
  }) => {
    openai.setScript([refund('ch_seed_1', 500), report]);
    const before = refundsOf('ch_seed_1').length;
    startChat('second');
    await tmux.waitFor('second', /you›/);
    tmux.type('second', 'Refund another 5.00 of ch_seed_1');
    const screen = await tmux.waitFor('second', /Confirmation needed: stripe\.create_refund[\s\S]*Approve this call\?/);
    expect(screen).toMatch(/"charge_id": "ch_seed_1",\s+"amount": 500/);
    tmux.type('second', 'd');
    await tmux.waitFor('second', /interlock› The run ended denied; nothing more was done\./);
    expect(runAnswer(openai.requests[1].body).status).toBe('denied');
    expect(refundsOf('ch_seed_1')).toHaveLength(before);
    tmux.type('second', '/exit');
    await tmux.waitFor('second', /\[exited 0\]/);
  });
});
