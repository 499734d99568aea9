import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { InterlockError } from '../../src/errors.ts';
import { ROOT, callLogPath, readCalls, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { NOTIFY_IN_DOUBT_WORKFLOW } from '../helpers/workflows.ts';
import { appTest } from '../helpers/fixtures.ts';

const log = callLogPath();
const yaml = `
connectors:${testConnectorYaml(log)}
policy:
  allow_unconfirmed: [test.send]
workflows:${NOTIFY_IN_DOUBT_WORKFLOW}
`;

const it = appTest({ yaml });

describe('in-doubt writes: an operator retries, marks done, or fails them', () => {
  async function inDoubt(app: App, to: string) {
    const { run } = await app.engine.trigger('notify', { to });
    const r = await waitForStatus(app, run.id, ['needs_attention', 'succeeded', 'failed']);
    expect(r.status).toBe('needs_attention');
    expect(r.steps.send.status).toBe('in_doubt');
    expect(r.steps.send.error?.code).toBe('IN_DOUBT');
    return r;
  }
  const sends = (to: string) => readCalls(log).filter((c) => c.tool === 'send' && c.args.to === to);

  it('leaves a non-idempotent write that timed out in doubt and never resends it by itself', async ({ app }) => {
    const r = await inDoubt(app, 'a@example.com');
    expect(sends('a@example.com')).toHaveLength(1);
    expect(r.steps.after.status).toBe('pending');
  });

  it('retry sends the write again with the same idempotency key, and the run continues', async ({ app }) => {
    const r = await inDoubt(app, 'b@example.com');
    await app.engine.resolve(r.id, 'send', { action: 'retry', by: 'test' });
    const done = await waitForStatus(app, r.id, ['succeeded', 'failed', 'needs_attention']);
    expect(done.status).toBe('succeeded');
    const calls = sends('b@example.com');
    expect(calls).toHaveLength(2);
    expect(calls[1].idempotencyKey).toBe(calls[0].idempotencyKey);
    const events = await app.store.readEvents(r.id);
    expect(events.find((e) => e.type === 'step.resolved')?.data).toMatchObject({ action: 'retry', by: 'test' });
  });

  it('done records the output the operator found, and the next step reads it', async ({ app }) => {
    const r = await inDoubt(app, 'c@example.com');
    await app.engine.resolve(r.id, 'send', { action: 'done', output: { sent: 4242 }, by: 'test' });
    const done = await waitForStatus(app, r.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.send).toMatchObject({ status: 'succeeded', output: { sent: 4242 } });
    expect(done.steps.after.output).toEqual({ text: 'sent #4242' });
    expect(sends('c@example.com')).toHaveLength(1);
  });

  it('fail ends the run failed without sending again', async ({ app }) => {
    const r = await inDoubt(app, 'd@example.com');
    const failed = await app.engine.resolve(r.id, 'send', { action: 'fail', by: 'test', reason: 'the customer never got it' });
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('RESOLVED_FAILED');
    expect(failed.error?.message).toContain('the customer never got it');
    expect(sends('d@example.com')).toHaveLength(1);
  });

  it('refuses to resolve a step that is not in doubt, and resolves a step only once', async ({ app }) => {
    const r = await inDoubt(app, 'e@example.com');
    await app.engine.resolve(r.id, 'send', { action: 'fail' });
    const again = await app.engine.resolve(r.id, 'send', { action: 'retry' }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(InterlockError);
    expect((again as InterlockError).code).toBe('NOT_IN_DOUBT');
    const unknown = await app.engine.resolve(r.id, 'nope', { action: 'retry' }).catch((e: unknown) => e);
    expect((unknown as InterlockError).code).toBe('NOT_FOUND');
  });

  it('interlock resolve --done-output continues the run from the command line', async ({ app, redis, configFile: file }) => {
    const r = await inDoubt(app, 'f@example.com');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin/interlock.js'), 'resolve', r.id, 'send', '--done-output', '{"sent": 7}'],
      { env: { ...process.env, REDIS_URL: redis.url, INTERLOCK_CONFIG: file, INTERLOCK_PREFIX: app.prefix }, cwd: ROOT },
    );
    expect(stdout).toContain('resolved send');
    const done = await waitForStatus(app, r.id, ['succeeded', 'failed']);
    expect(done.steps.after.output).toEqual({ text: 'sent #7' });
    const bad = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin/interlock.js'), 'resolve', r.id, 'send', '--retry', '--fail'],
      { env: { ...process.env, REDIS_URL: redis.url, INTERLOCK_CONFIG: file, INTERLOCK_PREFIX: app.prefix }, cwd: ROOT },
    ).catch((e: { stderr: string; code: number }) => e);
    expect('code' in bad && bad.code).toBe(1);
    expect((bad as { stderr: string }).stderr).toContain('exactly one of');
  });
});
