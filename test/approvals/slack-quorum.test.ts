import { describe, expect } from 'vitest';
import { waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';

// A refund that needs two approvers of group finance, both approving from Slack. The first click
// records one approval and must leave the card open with its buttons; the second completes the
// quorum and must close the card. (A first click used to take the card out of the open set while
// re-posting it unchanged, so nothing ever closed it: it kept live buttons after the write was sent.)

const SECRET = 'sandbox-signing-secret-quorum-0123';
const CONFIG = `
connectors:
  stripe: { transport: stdio, command: interlock, args: [connector, stripe] }
approvals:
  slack:
    channel: "#billing"
    signing_secret: \${env:TEST_SLACK_SIGNING_SECRET}
    users:
      U0GRACE: grace
      U0ADA: ada
policy:
  groups:
    finance: [grace, ada]
  rules:
    - name: two-approvers
      description: every refund needs two approvers from finance
      tool: stripe.create_refund
      require: { approvers: 2, group: finance }
workflows:
  refund:
    description: refund a charge
    inputs: { type: object, required: [charge, amount], properties: { charge: { type: string }, amount: { type: integer } } }
    steps:
      - id: refund
        call: stripe.create_refund
        with: { charge_id: "\${{ inputs.charge }}", amount: "\${{ inputs.amount }}" }
`;

interface Card {
  channel: string;
  ts: string;
  blocks?: unknown[];
  edited?: unknown;
}

const it = appTest({
  yaml: CONFIG,
  sandboxes: true,
  env: { TEST_SLACK_SIGNING_SECRET: SECRET },
  server: { slackSweepMs: 100 },
});

/** Polls the sandbox (every 50 ms, up to 10 s) until `pick` finds what it wants. */
async function until<T>(what: string, pick: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = pick();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a quorum approved from Slack', () => {
  it('keeps the card open after the first approval and closes it when the second completes the quorum', async ({
    app,
    sandboxes,
    server,
  }) => {
    sandboxes.slack.setInteractivity({ url: `${server.url}/slack/interactions`, signingSecret: SECRET });
    const { run } = await app.engine.trigger('refund', { charge: 'ch_seed_1', amount: 700 });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
    const cid = paused.steps.refund?.confirmationId ?? '';
    const cardOf = () =>
      sandboxes.slack.state().messages.find((m) => JSON.stringify(m.blocks ?? []).includes(cid)) as Card | undefined;
    const card = await until(`the card of ${cid}`, cardOf);
    const click = { channel: card.channel, ts: card.ts, action_id: 'interlock.approve' };

    const first = await sandboxes.slack.click({ ...click, user: 'U0GRACE' });
    expect(first.body).toMatchObject({ ok: true, confirmationId: cid, status: 'pending', decidedBy: 'grace' });
    expect((await app.store.requireConfirmation(cid)).approvals?.map((a) => a.by)).toEqual(['grace']);
    expect(sandboxes.slack.state().ephemerals.find((e) => e.user === 'U0GRACE')?.text).toBe(
      'Your approval is recorded: 1 of 2 approvals so far (grace); 1 more needed from group "finance". The write waits for the rest.',
    );
    // Nothing edits a card whose write still waits: it is still open, buttons and all.
    const open = cardOf();
    expect(open?.edited).toBeUndefined();
    expect(JSON.stringify(open?.blocks)).toContain('interlock.approve');
    expect(await app.redis.client.zscore(app.store.keys.slackOpenCards(), cid)).not.toBeNull();

    const second = await sandboxes.slack.click({ ...click, user: 'U0ADA' });
    expect(second.body).toMatchObject({ ok: true, confirmationId: cid, status: 'approved', decidedBy: 'ada' });
    // The click's own close or the sweep's, whichever claims it first, writes the final card.
    const closed = await until('the card to close', () => {
      const m = cardOf();
      return m?.edited ? m : undefined;
    });
    expect(JSON.stringify(closed.blocks)).toMatch(/Approved by \*ada\* in Slack/);
    expect(JSON.stringify(closed.blocks)).not.toContain('interlock.approve');
    await waitForStatus(app, run.id, ['succeeded']);
  });
});
