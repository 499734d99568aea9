import { describe, expect } from 'vitest';
import { slackSignature } from '../../src/approvals/slack/signature.ts';
import { waitForStatus } from '../helpers/app.ts';
import { slackApprovalsYaml, slackTest } from './helpers.ts';

// A refund pauses; its card reaches the Slack sandbox; clicks come back signed as Slack signs them
// (the sandbox sends them) to `POST /slack/interactions` of a real `interlock serve`.

const SECRET = 'sandbox-signing-secret-0123456789';
const CONFIG = `
connectors:
  stripe: { transport: stdio, command: interlock, args: [connector, stripe] }
  slack: { transport: stdio, command: interlock, args: [connector, slack] }
${slackApprovalsYaml({ U0GRACE: 'grace' })}
workflows:
  refund:
    description: refund a charge, then tell the customer
    inputs: { type: object, required: [charge, amount], properties: { charge: { type: string }, amount: { type: integer } } }
    steps:
      - id: refund
        call: stripe.create_refund
        with: { charge_id: "\${{ inputs.charge }}", amount: "\${{ inputs.amount }}" }
      - id: notify
        call: slack.post_message
        with: { channel: C0CUST002, text: "Refunded \${{ steps.refund.output.id }}" }
`;

const it = slackTest(CONFIG, SECRET).extend<{ refundsOf: (charge: string) => Array<{ charge: string }> }>({
  refundsOf: async ({ sandboxes }, use) =>
    use((charge) =>
      Object.values(sandboxes.stripe.state().refunds as Record<string, { charge: string }>).filter((r) => r.charge === charge),
    ),
});

describe('approving a write from Slack', () => {
  it('posts the card, refuses forged, stale, changed and unmapped clicks, then a signed click approves once', async ({
    app,
    sandboxes,
    cardFor,
    closedCard,
    pendingOf,
    refundsOf,
  }) => {
    const before = refundsOf('ch_seed_2').length;
    const { run } = await app.engine.trigger('refund', { charge: 'ch_seed_2', amount: 1500 });
    const conf = await pendingOf(run.id);
    const card = await cardFor(conf.id);
    const shown = JSON.stringify(card.blocks);
    expect(shown).toContain('stripe.create_refund');
    expect(shown).toContain(conf.argumentsHash);
    expect(shown).toContain('\\"amount\\": 1500');
    const click = { channel: card.channel, ts: card.ts, action_id: 'interlock.approve' };

    const forged = await sandboxes.slack.click({ ...click, user: 'U0GRACE', signing_secret: 'not-the-secret' });
    expect(forged.status).toBe(401);
    expect(JSON.stringify(forged.body)).toMatch(/signature does not match/);

    const stale = await sandboxes.slack.click({ ...click, user: 'U0GRACE', timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    expect(JSON.stringify(stale.body)).toMatch(/more than 5 minutes/);

    const changed = await sandboxes.slack.click({
      ...click,
      user: 'U0GRACE',
      value: JSON.stringify({ c: conf.id, h: 'f'.repeat(64) }),
    });
    expect(changed.body).toMatchObject({ ok: false, error: { code: 'HASH_MISMATCH' } });

    const stranger = await sandboxes.slack.click({ ...click, user: 'U0ADA' });
    expect(stranger.body).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const told = sandboxes.slack.state().ephemerals;
    expect(told.find((e) => e.user === 'U0ADA')?.text).toMatch(/not an approver/);
    expect(told.find((e) => e.user === 'U0GRACE')?.text).toMatch(/not the ones you approved/);

    expect((await app.store.requireConfirmation(conf.id)).status).toBe('pending');
    expect(refundsOf('ch_seed_2')).toHaveLength(before);

    const ok = await sandboxes.slack.click({ ...click, user: 'U0GRACE' });
    expect(ok.body).toMatchObject({ ok: true, confirmationId: conf.id, status: 'approved', decidedBy: 'grace' });
    const decided = await app.store.requireConfirmation(conf.id);
    expect(decided).toMatchObject({ status: 'approved', decidedBy: 'grace', channel: 'slack' });
    const updated = await closedCard(card.ts);
    expect(JSON.stringify(updated.blocks)).toMatch(/Approved\* by \*grace\* in Slack|Approved by \*grace\* in Slack/);
    expect(JSON.stringify(updated.blocks)).not.toContain('interlock.approve');

    // The very same signed request again, inside the 5-minute window: refused as a replay.
    const replay = await fetch(ok.request.url, { method: 'POST', headers: ok.request.headers, body: ok.request.body });
    expect(replay.status).toBe(409);
    expect(await replay.json()).toMatchObject({ error: { code: 'REQUEST_REPLAYED' } });

    // The next write gets its own card; deciding it elsewhere closes that card too.
    const next = await pendingOf(run.id);
    expect(next.tool).toBe('post_message');
    const nextCard = await cardFor(next.id);
    await app.engine.approve(next.id, next.argumentsHash, { by: 'ops', channel: 'api' });
    await waitForStatus(app, run.id, ['succeeded']);
    const closed = await closedCard(nextCard.ts);
    expect(JSON.stringify(closed.blocks)).toMatch(/ops\* through the API/);
    expect(refundsOf('ch_seed_2')).toHaveLength(before + 1);
  });

  it('answers a request that is not a card click with a clear 400, and an unsigned one with 401', async ({ server }) => {
    const unsigned = await fetch(`${server.url}/slack/interactions`, { method: 'POST', body: 'payload={}' });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ error: { code: 'UNAUTHORIZED', details: { reason: 'missing' } } });

    const body = `payload=${encodeURIComponent(JSON.stringify({ type: 'view_submission', user: { id: 'U0GRACE' } }))}`;
    const ts = String(Math.floor(Date.now() / 1000));
    const signed = await fetch(`${server.url}/slack/interactions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': ts,
        'x-slack-signature': slackSignature(SECRET, ts, body),
      },
      body,
    });
    expect(signed.status).toBe(400);
    expect(await signed.json()).toMatchObject({
      error: { code: 'BAD_REQUEST', message: expect.stringMatching(/block_actions/) },
    });
  });
});
