import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { startSandboxes, type Sandboxes } from '../../src/sandbox/index.ts';
import { startOpenAISandbox, textOf, type OpenAISandbox } from '../../src/sandbox/openai/index.ts';
import { loadConfig } from '../../src/workflows/load.ts';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { TestRedis } from '../helpers/redis.ts';

interface SlackState {
  messages: Array<{ channel: string; text: string }>;
}

describe('the shipped refund-and-notify with and without its llm draft', () => {
  const redis = new TestRedis();
  let sandboxes: Sandboxes;
  let openai: OpenAISandbox;
  let app: App;
  const saved = { url: process.env.OPENAI_BASE_URL, key: process.env.OPENAI_API_KEY };

  /** Approves each write and returns the payloads shown, until the run ends. */
  async function approveAll(runId: string): Promise<{ run: RunRecord; shown: Array<Record<string, unknown>> }> {
    const shown: Array<Record<string, unknown>> = [];
    for (;;) {
      const run = await waitForStatus(app, runId, ['awaiting_confirmation', 'succeeded', 'failed', 'denied']);
      if (run.status !== 'awaiting_confirmation') return { run, shown };
      const cid = Object.values(run.steps).find((s) => s.status === 'awaiting_confirmation')!.confirmationId!;
      const conf = await app.store.requireConfirmation(cid);
      shown.push({ call: `${conf.connector}.${conf.tool}`, ...conf.arguments });
      await app.engine.approve(cid, conf.argumentsHash, { by: 'test' });
    }
  }

  beforeAll(async () => {
    await redis.start();
    sandboxes = await startSandboxes({ stripePort: 0, slackPort: 0 });
    Object.assign(process.env, sandboxes.env);
    openai = await startOpenAISandbox({ script: [] });
    // No OpenAI configuration at all until a test asks for the draft.
    delete process.env.OPENAI_BASE_URL;
    delete process.env.OPENAI_API_KEY;
    app = await App.create({
      config: loadConfig(join(ROOT, 'workflows.yaml')),
      redisUrl: redis.url,
      prefix: 'draft',
      logger: silentLogger(),
    });
    await app.startWorkers();
  });
  afterAll(async () => {
    await app?.close();
    await openai?.close();
    await sandboxes?.close();
    await redis.stop();
    for (const [k, v] of [
      ['OPENAI_BASE_URL', saved.url],
      ['OPENAI_API_KEY', saved.key],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('runs as before without any OpenAI configuration: the draft step is skipped and the template text is posted', async () => {
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_2', amount: 1000 });
    const { run: done, shown } = await approveAll(run.id);
    expect(done.status).toBe('succeeded');
    expect(done.steps.draft.status).toBe('skipped');
    const refundId = (done.steps.refund.output as { id: string }).id;
    // 10.00 USD is within the shipped rule small-refunds: only the Slack post asks.
    expect(shown.map((s) => s.call)).toEqual(['slack.post_message']);
    expect(shown[0]).toMatchObject({
      call: 'slack.post_message',
      text: `Hi Grace Hopper, we refunded 10.00 USD of your charge ch_seed_2. Refund id: ${refundId}.`,
    });
    expect(openai.requests).toEqual([]);
  });

  it('posts the message the model drafted, shown in full at the Slack gate, when draft_with_llm is true', async () => {
    process.env.OPENAI_BASE_URL = openai.url;
    openai.setScript([
      (req) => {
        const facts = JSON.parse(textOf(req.messages[1].content)) as Record<string, string>;
        return {
          json: { message: `Dear ${facts.customer}, ${facts.amount} is on its way back to you (refund ${facts.refund}).` },
        };
      },
    ]);
    try {
      const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_2', amount: 700, draft_with_llm: true });
      const { run: done, shown } = await approveAll(run.id);
      expect(done.status).toBe('succeeded');
      const refundId = (done.steps.refund.output as { id: string }).id;
      const drafted = `Dear Grace Hopper, 7.00 USD is on its way back to you (refund ${refundId}).`;
      expect(done.steps.draft.output).toEqual({ message: drafted });
      // Only the Slack post asked: the llm step is not a write, and the shipped rule small-refunds
      // approves a 7.00 USD refund by itself.
      expect(shown.map((s) => s.call)).toEqual(['slack.post_message']);
      expect(shown[0]).toMatchObject({ channel: 'C0CUST002', text: drafted });
      expect((sandboxes.slack.state() as unknown as SlackState).messages.filter((m) => m.text === drafted)).toHaveLength(1);
      const req = openai.requests[0].body;
      expect(req.model).toBe('gpt-4.1-mini');
      expect(JSON.parse(textOf(req.messages[1].content))).toEqual({
        customer: 'Grace Hopper',
        amount: '7.00 USD',
        charge: 'ch_seed_2',
        refund: refundId,
      });
    } finally {
      delete process.env.OPENAI_BASE_URL;
    }
  });

  it('fails the draft with a clear error when no endpoint is configured, before any message is posted', async () => {
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_2', amount: 300, draft_with_llm: true });
    const { run: done, shown } = await approveAll(run.id);
    expect(done.status).toBe('failed');
    expect(shown.map((s) => s.call)).toEqual([]);
    expect(done.steps.draft.error?.message).toMatch(/^llm step "draft": OPENAI_API_KEY is not set/);
    expect(done.steps.notify.status).toBe('pending');
  });
});
