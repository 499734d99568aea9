import { describe, expect } from 'vitest';
import { InterlockError } from '../../src/errors.ts';
import type { AuditEntry } from '../../src/runs/audit.ts';
import type { ConfirmationRecord } from '../../src/runs/records.ts';
import { httpStatus } from '../../src/server/status.ts';
import { waitForStatus } from '../helpers/app.ts';
import { SHIPPED_CONFIG, appTest } from '../helpers/fixtures.ts';
import { runCli } from '../helpers/processes.ts';
import { newCharge, refunds } from '../grants/sandbox-app.ts';

interface Refund {
  charge: string;
  amount: number;
}

/**
 * The shipped refund-and-notify and its shipped policy.rules on the Stripe and Slack sandboxes:
 * what the sandbox holds afterwards is the witness of what was sent.
 */
const it = appTest({ file: SHIPPED_CONFIG, sandboxes: true }).extend<{
  /** the refunds the Stripe sandbox holds for a charge */
  refundsOf: (charge: string) => Refund[];
  /** the confirmation a run's step waits on */
  pendingOf: (runId: string, stepId: string) => Promise<ConfirmationRecord>;
  /**
   * refund-and-notify started by `principal` for `amount` cents of a fresh 900.00 USD charge (the seed's
   * are too small), and the confirmation its refund waits on
   */
  bigRefund: (amount: number, principal: string) => Promise<{ charge: string; run: { id: string }; conf: ConfirmationRecord }>;
  /** the environment the CLI needs to read this app's records */
  cliEnv: NodeJS.ProcessEnv;
}>({
  refundsOf: async ({ sandboxes }, use) => use((charge) => refunds(sandboxes).filter((r) => r.charge === charge)),
  pendingOf: async ({ app }, use) =>
    use(async (runId, stepId) => {
      const run = await waitForStatus(app, runId, ['awaiting_confirmation']);
      const cid = run.steps[stepId].confirmationId;
      expect(run.steps[stepId].status).toBe('awaiting_confirmation');
      return app.store.requireConfirmation(cid ?? '');
    }),
  bigRefund: async ({ app, sandboxes, pendingOf }, use) =>
    use(async (amount, principal) => {
      const charge = await newCharge(sandboxes, 90000);
      const { run } = await app.engine.trigger('refund-and-notify', { charge, amount }, { principal });
      return { charge, run, conf: await pendingOf(run.id, 'refund') };
    }),
  cliEnv: async ({ app, redis }, use) =>
    use({ ...process.env, REDIS_URL: redis.url, INTERLOCK_PREFIX: app.prefix, INTERLOCK_CONFIG: app.config.file }),
});

async function refused(p: Promise<unknown>): Promise<InterlockError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InterlockError);
  return err as InterlockError;
}

describe('policy rules on the shipped refund workflow', () => {
  it('a 20.00 USD refund runs with no person, and the audit names the rule and the hash it was bound to', async ({
    app,
    pendingOf,
    refundsOf,
  }) => {
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_2', amount: 2000 }, { principal: 'ops' });
    // Only the Slack post asks.
    const post = await pendingOf(run.id, 'notify');
    expect(post.connector).toBe('slack');
    expect(refundsOf('ch_seed_2')).toEqual([expect.objectContaining({ amount: 2000 })]);
    const { entries } = await app.store.audit.list({ run: run.id });
    const refundHash = (await app.store.requireRun(run.id)).steps.refund.argumentsHash;
    expect(entries).toEqual([
      expect.objectContaining({
        decision: 'approve',
        source: { kind: 'rule', rule: 'small-refunds' },
        argumentsHash: refundHash,
        stepId: 'refund',
        money: { amount: 2000, currency: 'usd', text: '20.00 USD' },
      }),
    ]);
    const events = await app.store.readEvents(run.id);
    expect(events.find((e) => e.type === 'step.approved_by_rule')?.data.message).toMatch(/small-refunds.*20\.00 USD/);
    await app.engine.approve(post.id, post.argumentsHash, { by: 'ops-approver', channel: 'api' });
    await waitForStatus(app, run.id, ['succeeded']);
  });

  it('a refund above what the charge has left is denied by its rule and never reaches Stripe', async ({ app, refundsOf }) => {
    const before = refundsOf('ch_seed_1').length;
    const { run } = await app.engine.trigger('refund-and-notify', { charge: 'ch_seed_1', amount: 6000 });
    const done = await waitForStatus(app, run.id, ['denied', 'failed', 'succeeded', 'awaiting_confirmation']);
    expect(done.status).toBe('denied');
    expect(done.steps.refund.status).toBe('denied');
    expect(done.steps.refund.error?.message).toMatch(/^Denied by rule "refund-above-charge"/);
    expect(done.steps.notify.status).toBe('pending');
    expect(refundsOf('ch_seed_1')).toHaveLength(before);
    const { entries } = await app.store.audit.list({ run: run.id });
    expect(entries).toEqual([
      expect.objectContaining({ decision: 'deny', source: { kind: 'rule', rule: 'refund-above-charge' }, stepId: 'refund' }),
    ]);
    expect(entries[0].argumentsHash).toBe(done.steps.refund.argumentsHash);
  });

  it('600.00 USD needs two distinct finance approvers; the trigger, outsiders and a second vote by one approver are refused', async ({
    app,
    server,
    bigRefund,
    refundsOf,
  }) => {
    const { charge, run, conf } = await bigRefund(60000, 'finance-alice');
    expect(conf.policy).toMatchObject({
      rule: 'large-refunds',
      require: { approvers: 2, group: 'finance' },
      money: { text: '600.00 USD' },
    });
    const hash = conf.argumentsHash;

    const self = await refused(app.engine.approve(conf.id, hash, { by: 'finance-alice', channel: 'api' }));
    expect([self.code, httpStatus(self)]).toEqual(['SELF_APPROVAL', 403]);
    const outsider = await refused(app.engine.approve(conf.id, hash, { by: 'ops', channel: 'api' }));
    expect([outsider.code, httpStatus(outsider)]).toEqual(['NOT_IN_GROUP', 403]);

    const partial = await app.engine.approve(conf.id, hash, { by: 'finance-bob', channel: 'ui' });
    expect(partial.status).toBe('pending');
    expect(partial.approvals).toEqual([expect.objectContaining({ by: 'finance-bob', channel: 'ui' })]);
    const again = await refused(app.engine.approve(conf.id, hash, { by: 'finance-bob', channel: 'api' }));
    expect(again.code).toBe('ALREADY_APPROVED');
    // The run's owner is in the group, so the quorum of two cannot be met: nothing is sent.
    expect((await app.store.requireRun(run.id)).status).toBe('awaiting_confirmation');
    expect(refundsOf(charge)).toEqual([]);
    // Partial approvals are visible over the API.
    const api = (await (await fetch(`${server.url}/api/v1/confirmations/${conf.id}`)).json()) as {
      approvals: Array<{ by: string }>;
      policy: { rule: string };
    };
    expect(api.approvals.map((a) => a.by)).toEqual(['finance-bob']);
    expect(api.policy.rule).toBe('large-refunds');
    // A deny by any approver ends it.
    await app.engine.deny(conf.id, { by: 'finance-bob', channel: 'api' });
    await waitForStatus(app, run.id, ['denied']);
    expect(refundsOf(charge)).toEqual([]);
  });

  it('with two approvers other than the trigger, the 600.00 USD refund is sent once, each approval on record', async ({
    app,
    bigRefund,
    pendingOf,
    refundsOf,
  }) => {
    const { charge, run, conf } = await bigRefund(60000, 'ops');
    // Both approve at once: one script each, so exactly one completes the quorum and enqueues.
    await Promise.all([
      app.engine.approve(conf.id, conf.argumentsHash, { by: 'finance-alice', channel: 'api' }),
      app.engine.approve(conf.id, conf.argumentsHash, { by: 'finance-bob', channel: 'cli' }),
    ]);
    const post = await pendingOf(run.id, 'notify');
    const kinds = (await app.store.readEvents(run.id)).map((e) => e.type);
    expect(kinds.filter((t) => t === 'confirmation.approval_recorded')).toHaveLength(1);
    expect(kinds.filter((t) => t === 'confirmation.approved')).toHaveLength(1);
    expect(refundsOf(charge)).toEqual([expect.objectContaining({ amount: 60000 })]);
    const { entries } = await app.store.audit.list({ run: run.id });
    expect(entries.map((e) => [e.decision, e.source.kind, e.argumentsHash])).toEqual([
      ['approval', 'person', conf.argumentsHash],
      ['approve', 'person', conf.argumentsHash],
    ]);
    expect(new Set(entries.map((e) => (e.source.kind === 'person' ? e.source.by : '')))).toEqual(
      new Set(['finance-alice', 'finance-bob']),
    );
    await app.engine.approve(post.id, post.argumentsHash, { by: 'ops-approver' });
    await waitForStatus(app, run.id, ['succeeded']);
  });

  it('exports the audit as JSON lines over HTTP and from the CLI, every entry naming its hash', async ({ server, cliEnv }) => {
    const res = await fetch(`${server.url}/api/v1/audit`);
    expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await res.text()).trim().split('\n');
    const entries = lines.map((l) => JSON.parse(l) as AuditEntry);
    expect(entries.length).toBeGreaterThanOrEqual(7);
    for (const e of entries) expect(e.argumentsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(entries.map((e) => e.source.kind)).toEqual(expect.arrayContaining(['rule', 'person']));
    const ids = entries.map((e) => e.id);
    expect([...ids].sort()).toEqual(ids);

    const runId = entries[0].runId;
    const cli = await runCli(['audit', '--run', runId], { env: cliEnv, timeoutMs: 60_000 });
    expect(cli.stderr).toBe('');
    const fromCli = cli.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry);
    expect(fromCli).toEqual(entries.filter((e) => e.runId === runId));
    const since = await fetch(`${server.url}/api/v1/audit?since=${encodeURIComponent(`(${ids[ids.length - 2]}`)}`);
    expect((await since.text()).trim().split('\n')).toHaveLength(1);
  });

  it('explains a pending confirmation from the CLI: which rule decides and why', async ({ app, bigRefund, cliEnv }) => {
    const { conf } = await bigRefund(55000, 'ops');
    const cli = await runCli(['policy', 'explain', conf.id], { env: cliEnv, timeoutMs: 60_000 });
    expect(cli.stdout).toContain(
      'Rule "large-refunds" (refunds above 500.00 USD need two approvers from finance) applies to this call of 550.00 USD',
    );
    expect(cli.stdout).toContain('· refund-above-charge: skipped (condition false)');
    expect(cli.stdout).toContain('→ large-refunds: matches and decides');
    await app.engine.deny(conf.id, { by: 'finance-bob' });
  });
});
