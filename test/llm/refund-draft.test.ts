import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { textOf } from '../../src/sandbox/openai/index.ts';
import { approveAll } from '../helpers/app.ts';
import { SHIPPED_CONFIG, appTest } from '../helpers/fixtures.ts';

interface SlackState {
  messages: Array<{ channel: string; text: string }>;
}

// No OpenAI configuration at all until a test asks for the draft.
const it = appTest({ file: SHIPPED_CONFIG, sandboxes: true, env: { OPENAI_BASE_URL: undefined, OPENAI_API_KEY: undefined } });

/** Approves each write and returns the payloads shown, until the run ends. */
async function approveShown(app: App, runId: string) {
  const { run, confirmations } = await approveAll(app, runId);
  return {
    run,
    shown: confirmations.map((c): Record<string, unknown> => ({ call: `${c.connector}.${c.tool}`, ...c.arguments })),
  };
}

describe('the shipped refund-and-notify with and without its llm draft', () => {
  it('runs as before without any OpenAI configuration: the draft step is skipped and the template text is posted', async ({
    app,
    openai,
  }) => {
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_2', amount: 1000 });
    const { run: done, shown } = await approveShown(app, run.id);
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

  it('posts the message the model drafted, shown in full at the Slack gate, when draft_with_llm is true', async ({
    app,
    openai,
    sandboxes,
  }) => {
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
      const { run: done, shown } = await approveShown(app, run.id);
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

  it('fails the draft with a clear error when no endpoint is configured, before any message is posted', async ({ app }) => {
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_2', amount: 300, draft_with_llm: true });
    const { run: done, shown } = await approveShown(app, run.id);
    expect(done.status).toBe('failed');
    expect(shown.map((s) => s.call)).toEqual([]);
    expect(done.steps.draft.error?.message).toMatch(/^llm step "draft": OPENAI_API_KEY is not set/);
    expect(done.steps.notify.status).toBe('pending');
  });
});
