import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { Diagnosis } from '../../src/worker/doctor.ts';
import { stepJobId } from '../../src/worker/queues.ts';
import { LOOK_WORKFLOW, PAY_WORKFLOW, ROOT, callLogPath, testConnectorYaml, waitForStatus } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';
import { TOKENS } from '../server/helpers.ts';

const log = callLogPath();
const yaml = `
connectors:${testConnectorYaml(log)}
tokens:
  - { name: reader, token: "\${env:IL_TEST_READER}", scopes: [read] }
  - { name: admin, token: "\${env:IL_TEST_ADMIN}", scopes: [read, trigger, confirm, admin] }
workflows:
${LOOK_WORKFLOW}
${PAY_WORKFLOW}
`;

/** `interlock doctor …` as users run it: exit code and what it printed. */
function doctor(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawn(process.execPath, [join(ROOT, 'bin/interlock.js'), 'doctor', ...args], {
    env: { ...process.env, ...env, NO_COLOR: '1' },
    cwd: ROOT,
  });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) => p.once('exit', (code) => resolve({ code, out })));
}

const tokens = { IL_TEST_READER: TOKENS.reader, IL_TEST_ADMIN: TOKENS.admin };

// No workers in this process: the runs move only on worker children the test starts and stops.
const it = appTest({ yaml, workers: false, server: { env: tokens, workers: false } }).extend<{
  /** what `interlock doctor` needs: the app's Redis, config and prefix, and the tokens */
  env: Record<string, string>;
  api: (path: string, token: keyof typeof TOKENS, method?: string) => Promise<Response>;
}>({
  env: async ({ processes }, use) => use({ ...tokens, ...processes.env }),
  api: async ({ server }, use) =>
    use((path, token, method = 'GET') =>
      fetch(`${server.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKENS[token]}`, 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: '{}' } : {}),
      }),
    ),
});

describe('interlock doctor: finds runs stranded by hand and --repair moves them on', () => {
  it('names each stranded run and why, repairs them, and they finish', async ({ app, processes, env, api }) => {
    // C pauses at its gate on a worker that then stops; A and B are triggered with no worker running.
    const [w] = await processes.start();
    const c = (await app.engine.trigger('pay', { name: 'c' })).run.id;
    const paused = await waitForStatus(app, c, ['awaiting_confirmation']);
    await w.terminate();
    const a = (await app.engine.trigger('look', { name: 'a' })).run.id;
    const b = (await app.engine.trigger('look', { name: 'b' })).run.id;

    // Strand them by hand: A loses its job and its ready marker, B its job, C its place in the pending list.
    const r = app.redis.client;
    const k = app.store.keys;
    await app.queues.get('test').remove(stepJobId(a, 'say', '0'));
    await r.hdel(k.run(a), 'ready', 'ready:gen', 'ready:at');
    await r.zrem(k.readyIndex(), a);
    await app.queues.get('test').remove(stepJobId(b, 'say', '0'));
    const cid = paused.steps.write.confirmationId ?? '';
    await r.zrem(k.pendingConfirmations(), cid);
    // A hand-off younger than the reconciler's bound (5 s + 1 s by default) is not stuck yet.
    await sleep(6500);

    const found = await doctor(env);
    expect(found.code, found.out).toBe(1);
    const line = (id: string) => found.out.split('\n').find((l) => l.startsWith(id)) ?? '';
    expect(line(a)).toContain('no_job');
    expect(line(b)).toContain('ready_without_job');
    expect(line(c)).toContain('confirmation_not_indexed');
    expect(found.out).toContain('checked 3 runs');

    expect((await api('/doctor', 'reader')).status).toBe(403);
    const viaApi = (await (await api('/doctor', 'admin')).json()) as Diagnosis;
    expect(Object.fromEntries(viaApi.findings.map((f) => [f.runId, f.kind]))).toEqual({
      [a]: 'no_job',
      [b]: 'ready_without_job',
      [c]: 'confirmation_not_indexed',
    });

    const repaired = await doctor(env, '--repair');
    expect(repaired.code, repaired.out).toBe(0);
    expect(repaired.out.match(/repaired/g)?.length).toBe(3);
    const { confirmations } = await app.store.listConfirmations({ status: 'pending' });
    expect(confirmations.map((x) => x.id)).toContain(cid);

    const [w2] = await processes.start();
    try {
      await app.engine.approve(cid, (await app.store.requireConfirmation(cid)).argumentsHash, { by: 'test' });
      for (const id of [a, b, c])
        expect((await waitForStatus(app, id, ['succeeded', 'failed'], 30_000)).status).toBe('succeeded');
    } finally {
      await w2.terminate();
    }
    const after = await doctor(env);
    expect(after.code, after.out).toBe(0);
    expect(after.out).toContain('nothing stuck');
    const clean = (await (await api('/doctor/repair', 'admin', 'POST')).json()) as Diagnosis;
    expect(clean.findings).toEqual([]);
  }, 180_000); // with the fixtures' setup, which had 60 s of its own in a hook
});
