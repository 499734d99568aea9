import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxes, type Sandboxes } from '../../src/sandbox/index.ts';
import {
  latestToolResults,
  startOpenAISandbox,
  type ChatRequest,
  type OpenAISandbox,
  type Reply,
} from '../../src/sandbox/openai/index.ts';
import { ROOT } from '../helpers/app.ts';
import { TestRedis } from '../helpers/redis.ts';
import { Tmux, count } from './tmux.ts';

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

describe('interlock chat in a real terminal: the model runs workflows, the person decides every write', () => {
  const redis = new TestRedis();
  const tmux = new Tmux();
  let sandboxes: Sandboxes;
  let openai: OpenAISandbox;

  const refundsOf = (charge: string) =>
    Object.values((sandboxes.stripe.state() as unknown as StripeState).refunds).filter(
      (r) => r.charge === charge && !r.id.startsWith('re_seed'),
    );

  function startChat(name: string): void {
    tmux.start(
      name,
      [process.execPath, 'src/cli.ts', 'chat'],
      {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        NO_COLOR: '1',
        INTERLOCK_CONFIG: join(ROOT, 'workflows.yaml'),
        REDIS_URL: redis.url,
        OPENAI_BASE_URL: openai.url,
        OPENAI_API_KEY: 'sk-test',
        ...sandboxes.env,
      },
      ROOT,
    );
  }

  beforeAll(async () => {
    await redis.start();
    sandboxes = await startSandboxes({ stripePort: 0, slackPort: 0 });
    openai = await startOpenAISandbox({ script: [] });
  });
  afterAll(async () => {
    tmux.kill();
    await openai?.close();
    await sandboxes?.close();
    await redis.stop();
  });

  it('shows each write in full, runs it on approval, and does not ask again for what was remembered', async () => {
    // 60.00 USD asks a person; 20.00 USD is within the shipped rule small-refunds and asks nobody.
    openai.setScript([refund('ch_seed_2', 6000), report, refund('ch_seed_1', 2000), report]);
    startChat('first');
    await tmux.waitFor('first', /you›/);
    tmux.type('first', 'Please refund 60.00 of ch_seed_2 and let the customer know');

    let screen = await tmux.waitFor('first', /Confirmation needed: stripe\.create_refund[\s\S]*Approve this call\?/);
    expect(screen).toContain('→ run_workflow {"workflow":"refund-and-notify","inputs":{"charge":"ch_seed_2","amount":6000}}');
    expect(screen).toMatch(/arguments \(exact JSON that will be sent\):\s+\{\s+"charge_id": "ch_seed_2",\s+"amount": 6000\s+\}/);
    expect(screen).toMatch(/argumentsHash: [0-9a-f]{64}/);
    expect(screen).toMatch(/expected output:\s+id: string — Refund id/);
    // The question went to the person: the model has not been asked anything since it called the tool.
    expect(openai.requests).toHaveLength(1);
    expect(refundsOf('ch_seed_2')).toEqual([]);
    const offered = (openai.requests[0].body.tools ?? []).map((t) => (t.type === 'function' ? t.function.name : ''));
    expect(offered).toEqual(expect.arrayContaining(['run_workflow', 'get_run', 'list_workflows', 'refund-and-notify']));
    expect(openai.requests[0].body.stream).toBe(true);

    tmux.type('first', 'r');
    screen = await tmux.waitFor('first', (s) => count(s, 'Approve this call?') === 2);
    expect(screen).toContain('Confirmation needed: slack.post_message');
    const [made] = refundsOf('ch_seed_2');
    expect(made.amount).toBe(6000);
    expect(screen).toMatch(
      new RegExp(`"text": "Hi Grace Hopper, we refunded 60\\.00 USD of your charge ch_seed_2\\. Refund id: ${made.id}\\."`),
    );
    tmux.type('first', 'r');

    screen = await tmux.waitFor('first', /interlock› Done: refund re_\w+ succeeded/);
    expect(screen).toContain(`interlock› Done: refund ${made.id} succeeded`);
    expect(runAnswer(openai.requests[1].body).status).toBe('succeeded');

    tmux.type('first', 'Now refund 20.00 of ch_seed_1 as well');
    screen = await tmux.waitFor('first', (s) => count(s, 'interlock› Done: refund') === 2);
    const [second] = refundsOf('ch_seed_1');
    expect(second.amount).toBe(2000);
    expect(screen).toContain(`interlock› Done: refund ${second.id} succeeded`);
    // The Slack post was remembered for this conversation and the refund is within small-refunds:
    // the second run asked nothing.
    expect(count(screen, 'Confirmation needed:')).toBe(2);
    expect(openai.requests).toHaveLength(4);

    tmux.type('first', '/exit');
    await tmux.waitFor('first', /Chat ended; approvals remembered in it are gone\.\n\[exited 0\]/);
  });

  it('asks again in a new conversation, and a denied write never reaches Stripe', async () => {
    openai.setScript([refund('ch_seed_2', 5500), report]);
    const before = refundsOf('ch_seed_2').length;
    startChat('second');
    await tmux.waitFor('second', /you›/);
    tmux.type('second', 'Refund another 55.00 of ch_seed_2');
    const screen = await tmux.waitFor('second', /Confirmation needed: stripe\.create_refund[\s\S]*Approve this call\?/);
    expect(screen).toMatch(/"charge_id": "ch_seed_2",\s+"amount": 5500/);
    tmux.type('second', 'd');
    await tmux.waitFor('second', /interlock› The run ended denied; nothing more was done\./);
    expect(runAnswer(openai.requests[1].body).status).toBe('denied');
    expect(refundsOf('ch_seed_2')).toHaveLength(before);
    tmux.type('second', '/exit');
    await tmux.waitFor('second', /\[exited 0\]/);
  });
});
