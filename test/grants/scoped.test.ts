import { describe, expect } from 'vitest';
import { configYaml } from '../helpers/workflows.ts';
import { REFUND_NOTING_CHANNEL, SANDBOX_CONNECTORS, pending, refunds, sandboxAppTest, settled } from './sandbox-app.ts';

/**
 * The refund carries the customer's Slack channel in its metadata, so one grant can say both
 * "amount up to 15.00 USD" and "on this channel". ch_seed_2 and the odd ch_seed_1xx are grace's
 * (C0CUST002); the even ones are ada's (C0CUST001).
 */
const yaml = configYaml({
  connectors: SANDBOX_CONNECTORS,
  workflows: [REFUND_NOTING_CHANNEL],
});

const it = sandboxAppTest(yaml);
const SESSION = 'support-desk';

describe('scoped remember: "amount up to 15.00 USD on this channel for 10 minutes"', () => {
  it('lets a 10.00 USD refund through and asks again for 16.00 USD, another channel, after revocation and after expiry', async ({
    app,
    sandboxes,
  }) => {
    const start = (charge: string, amount: number) => app.engine.trigger('refund', { charge, amount }, { session: SESSION });

    // The person approves a 15.00 USD refund and remembers it scoped to amount and channel.
    const first = await settled(app, (await start('ch_seed_2', 1500)).run.id);
    const conf = await pending(app, first);
    await app.engine.approve(conf.id, conf.argumentsHash, {
      by: 'alice',
      channel: 'api',
      remember: { scope: 'arguments', fields: ['amount', 'metadata.slack_channel'], ttlMs: 600_000 },
    });
    expect((await settled(app, first.id)).status).toBe('succeeded');
    const [grant] = await app.store.grants.list({ session: SESSION });
    expect(grant).toMatchObject({ connector: 'stripe', tool: 'create_refund', scope: 'arguments', by: 'alice', uses: 0 });
    expect((await app.store.requireConfirmation(conf.id)).grantMade).toBe(grant.id);
    const { grantView } = await import('../../src/server/routes/grants.ts');
    expect(grantView(grant).words).toContain('amount up to 15.00 USD and metadata.slack_channel is C0CUST002');
    expect(grantView(grant).words).toContain('for 10 minutes');

    // 10.00 USD on grace's channel: no person asked; the decision names the grant and the hash.
    const ten = await settled(app, (await start('ch_seed_101', 1000)).run.id);
    expect(ten.status).toBe('succeeded');
    const byGrant = await app.store.requireConfirmation(ten.steps.refund.confirmationId!);
    expect(byGrant).toMatchObject({ status: 'approved', channel: 'grant', grantId: grant.id, decidedBy: 'alice' });
    expect(byGrant.argumentsHash).toBe(ten.steps.refund.argumentsHash);
    expect(
      refunds(sandboxes)
        .filter((r) => r.charge === 'ch_seed_101')
        .map((r) => r.amount),
    ).toEqual([1000]);
    const used = await app.store.grants.require(grant.id);
    expect(used.uses).toBe(1);
    expect(await app.store.grants.uses(grant)).toEqual([
      expect.objectContaining({
        runId: ten.id,
        stepId: 'refund',
        argumentsHash: byGrant.argumentsHash,
        confirmationId: byGrant.id,
      }),
    ]);

    // 16.00 USD: above the ceiling, asked; nothing reached Stripe.
    const sixteen = await settled(app, (await start('ch_seed_2', 1600)).run.id);
    expect(sixteen.status).toBe('awaiting_confirmation');
    expect((await pending(app, sixteen)).arguments.amount).toBe(1600);

    // Ada's charge: another channel, asked.
    const other = await settled(app, (await start('ch_seed_100', 1000)).run.id);
    expect(other.status).toBe('awaiting_confirmation');
    expect(refunds(sandboxes).filter((r) => r.charge === 'ch_seed_100')).toEqual([]);

    // Revoked: the same 10.00 USD on grace's channel that went through before is asked.
    await app.engine.revokeGrant(grant.id, 'ops');
    const afterRevoke = await settled(app, (await start('ch_seed_103', 1000)).run.id);
    expect(afterRevoke.status).toBe('awaiting_confirmation');
    expect(refunds(sandboxes).filter((r) => r.charge === 'ch_seed_103')).toEqual([]);
    expect((await app.store.grants.require(grant.id)).revokedBy).toBe('ops');
    expect(await app.store.grants.list({ session: SESSION })).toEqual([]);

    // Expired: a grant whose time is up covers nothing.
    const c2 = await pending(app, afterRevoke);
    await app.engine.approve(c2.id, c2.argumentsHash, {
      by: 'alice',
      remember: { scope: 'arguments', fields: ['amount', 'metadata.slack_channel'], ttlMs: 1 },
    });
    const short = (await app.store.requireConfirmation(c2.id)).grantMade!;
    const g2 = await app.store.grants.require(short);
    await expect.poll(() => Date.now() >= (g2.expiresAt ?? 0)).toBe(true);
    const afterExpiry = await settled(app, (await start('ch_seed_105', 1000)).run.id);
    expect(afterExpiry.status).toBe('awaiting_confirmation');
    expect(refunds(sandboxes).filter((r) => r.charge === 'ch_seed_105')).toEqual([]);
    for (const r of [sixteen, other, afterExpiry]) await app.engine.cancel(r.id, 'test');
  });

  it('the exact-payload default ("session") covers the same arguments only, and a number of uses runs out', async ({ app }) => {
    const session = 'exact';
    const start = (charge: string, amount: number) => app.engine.trigger('refund', { charge, amount }, { session });
    const first = await settled(app, (await start('ch_seed_107', 100)).run.id);
    const conf = await pending(app, first);
    await app.engine.approve(conf.id, conf.argumentsHash, { by: 'alice', remember: 'session' });
    const [g] = await app.store.grants.list({ session });
    expect(g).toMatchObject({ scope: 'payload', argumentsHash: conf.argumentsHash });

    expect((await settled(app, (await start('ch_seed_107', 100)).run.id)).status).toBe('succeeded');
    const other = await settled(app, (await start('ch_seed_107', 101)).run.id);
    expect(other.status).toBe('awaiting_confirmation');

    const c = await pending(app, other);
    await app.engine.approve(c.id, c.argumentsHash, {
      by: 'alice',
      remember: { scope: 'arguments', fields: ['amount'], uses: 1 },
    });
    expect((await settled(app, (await start('ch_seed_109', 50)).run.id)).status).toBe('succeeded');
    const spent = await settled(app, (await start('ch_seed_109', 50)).run.id);
    expect(spent.status).toBe('awaiting_confirmation');
    await app.engine.cancel(spent.id, 'test');
  });

  it('refuses a scope it cannot honour before deciding anything', async ({ app }) => {
    const run = await settled(app, (await app.engine.trigger('refund', { charge: 'ch_seed_111', amount: 100 })).run.id);
    const conf = await pending(app, run);
    await expect(
      app.engine.approve(conf.id, conf.argumentsHash, { by: 'alice', remember: { scope: 'arguments', fields: ['nope'] } }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      app.engine.approve(conf.id, conf.argumentsHash, { by: 'alice', remember: { scope: 'arguments', fields: [] } }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect((await app.store.requireConfirmation(conf.id)).status).toBe('pending');
    await app.engine.cancel(run.id, 'test');
  });
});
