import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { TestRedis } from '../helpers/redis.ts';
import { PAY_WORKFLOW, ROOT, callLogPath, testConnectorYaml, makeApp, readCalls, waitForStatus } from '../helpers/app.ts';

const log = callLogPath();
const yaml = `
connectors:${testConnectorYaml(log)}
workflows:${PAY_WORKFLOW}
`;

function startWorker(configFile: string, redisUrl: string, prefix: string): ChildProcess {
  return spawn(process.execPath, [join(ROOT, 'src/cli.ts'), '--config', configFile, 'worker'], {
    env: { ...process.env, REDIS_URL: redisUrl, INTERLOCK_PREFIX: prefix, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

async function ready(p: ChildProcess): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let err = '';
    p.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('worker ready')) resolve();
    });
    p.once('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
  });
}

describe('a paused run survives its worker process', () => {
  const redis = new TestRedis();
  let app: App;
  const configFile = join(mkdtempSync(join(tmpdir(), 'interlock-cfg-')), 'workflows.yaml');

  beforeAll(async () => {
    await redis.start();
    writeFileSync(configFile, yaml);
    app = await makeApp(yaml, redis.url, configFile);
  });
  afterAll(async () => {
    await app?.close();
    await redis.stop();
  });

  it('finishes after approval on a worker started after the first one died', async () => {
    const first = startWorker(configFile, redis.url, app.prefix);
    await ready(first);
    const { run } = await app.engine.trigger('pay', { name: 'restart' });
    const paused = await waitForStatus(app, run.id, ['awaiting_confirmation']);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    const conf = await app.store.requireConfirmation(paused.steps.write.confirmationId!);
    await app.engine.approve(conf.id, conf.argumentsHash, { by: 'test' });
    expect((await app.store.requireRun(run.id)).status).toBe('running');

    const second = startWorker(configFile, redis.url, app.prefix);
    try {
      await ready(second);
      const done = await waitForStatus(app, run.id, ['succeeded', 'failed']);
      expect(done.status).toBe('succeeded');
      expect(readCalls(log).filter((c) => c.tool === 'record')).toHaveLength(1);
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    }
  });
});
