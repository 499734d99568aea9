import { describe, expect } from 'vitest';
import { waitForStatus } from '../helpers/app.ts';
import { slackApprovalsYaml, slackTest } from './helpers.ts';

// A refund that needs two approvers of group finance, both approving from Slack. The first click
// records one approval and must leave the card open with its buttons; the second completes the
// quorum and must close the card. (A first click used to take the card out of the open set while
// re-posting it unchanged, so nothing ever closed it: it kept live buttons after the write was sent.)

const SECRET = 'sandbox-signing-secret-quorum-0123';
const CONFIG = `
connectors:
  stripe: { transport: stdio, command: interlock, args: [connector, stripe] }
${slackApprovalsYaml({ U0GRACE: 'grace', U0ADA: 'ada' })}
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

const it = slackTest(CONFIG, SECRET);

describe('a quorum approved from Slack', () => {
  it('keeps the card open after the first approval and closes it when the second completes the quorum', async ({
    app,
    sandboxes,
    cardFor,
    closedCard,
    pendingOf,
  }) => {
    const { run } = await app.engine.trigger('refund', { charge: 'ch_seed_1', amount: 700 });
    const cid = (await pendingOf(run.id)).id;
    const card = await cardFor(cid);
    const click = { channel: card.channel, ts: card.ts, action_id: 'interlock.approve' };

    const first = await sandboxes.slack.click({ ...click, user: 'U0GRACE' });
    expect(first.body).toMatchObject({ ok: true, confirmationId: cid, status: 'pending', decidedBy: 'grace' });
    expect((await app.store.requireConfirmation(cid)).approvals?.map((a) => a.by)).toEqual(['grace']);
    expect(sandboxes.slack.state().ephemerals.find((e) => e.user === 'U0GRACE')?.text).toBe(
      'Your approval is recorded: 1 of 2 approvals so far (grace); 1 more needed from group "finance". The write waits for the rest.',
    );
    // Nothing edits a card whose write still waits: it is still open, buttons and all.
    const open = await cardFor(cid);
    expect(open.edited).toBeUndefined();
    expect(JSON.stringify(open.blocks)).toContain('interlock.approve');
    expect(await app.redis.client.zscore(app.store.keys.slackOpenCards(), cid)).not.toBeNull();

    const second = await sandboxes.slack.click({ ...click, user: 'U0ADA' });
    expect(second.body).toMatchObject({ ok: true, confirmationId: cid, status: 'approved', decidedBy: 'ada' });
    // The click's own close or the sweep's, whichever claims it first, writes the final card.
    const closed = await closedCard(card.ts);
    expect(JSON.stringify(closed.blocks)).toMatch(/Approved by \*ada\* in Slack/);
    expect(JSON.stringify(closed.blocks)).not.toContain('interlock.approve');
    await waitForStatus(app, run.id, ['succeeded']);
  });
});
