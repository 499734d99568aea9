import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { test } from '../helpers/fixtures.ts';
import { PAY_WORKFLOW, ROOT, callLogPath, testConnectorYaml, readCalls } from '../helpers/app.ts';

const CLI = join(ROOT, 'src/cli.ts');
const log = callLogPath();
const dir = mkdtempSync(join(tmpdir(), 'interlock-cli-'));
const good = join(dir, 'workflows.yaml');
writeFileSync(
  good,
  `
connectors:${testConnectorYaml(log)}
workflows:${PAY_WORKFLOW}
`,
);

function cli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [CLI, '--config', good, ...args], {
    env: { ...process.env, ...env, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** `env`: what the CLI needs to reach the file's Redis under its prefix. */
const it = test.extend<{ env: Record<string, string> }>({
  env: async ({ redis }, use) => use({ REDIS_URL: redis.url, INTERLOCK_PREFIX: 'cli' }),
});

describe('the interlock command line', () => {
  it('validate prints every problem as file:line:col and exits 1', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      `connectors:\n  test:\n    transport: stdio\n    command: x\nworkflows:\n  w:\n    description: d\n    inputs: {type: object}\n    steps:\n      - id: a\n        call: nope.tool\n        with: {}\n      - id: a\n        call: test.t\n        colour: red\n`,
    );
    const r = spawnSync(process.execPath, [CLI, 'validate', bad, '--offline'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}:11:15`);
    expect(r.stderr).toMatch(/nope/);
    expect(r.stderr).toMatch(new RegExp(`${bad}:13:\\d+: .*duplicate`, 'i'));
    expect(r.stderr).toMatch(new RegExp(`${bad}:15:9: .*colour`));
  });

  it('validate accepts the shipped workflows.yaml', () => {
    const r = spawnSync(process.execPath, [CLI, 'validate', join(ROOT, 'workflows.yaml'), '--offline'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('run --wait shows the payload at the gate, and approve from another process finishes it', async ({ env }) => {
    const child = spawn(
      process.execPath,
      [CLI, '--config', good, 'run', 'pay', '--input', 'name=cli-user', '--wait', '--no-interactive', '--timeout', '60'],
      { env: { ...process.env, ...env, NO_COLOR: '1' } },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const cid = await new Promise<string>((resolve, reject) => {
      const t = setInterval(() => {
        const m = /npx interlock approve (c_\S+)/.exec(out);
        if (m) {
          clearInterval(t);
          resolve(m[1]);
        }
      }, 50);
      child.once('exit', () => reject(new Error(`run exited early:\n${out}`)));
    });
    expect(out).toContain('Confirmation needed: test.record');
    expect(out).toContain('"name": "cli-user"');
    expect(out).toMatch(/argumentsHash: [0-9a-f]{64}/);
    expect(readCalls(log).filter((c) => c.tool === 'record')).toEqual([]);

    const a = cli(['approve', cid], env);
    expect(a.stderr).not.toMatch(/error/);
    expect(a.stdout).toContain('approved');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(out).toMatch(/run \S+ pay@\w+ — succeeded/);
    expect(code).toBe(0);
    expect(readCalls(log).filter((c) => c.tool === 'record' && c.args.name === 'cli-user')).toHaveLength(1);

    const again = cli(['approve', cid], env);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('ALREADY_DECIDED');
  });

  it('deny of an unknown confirmation is a clear error', ({ env }) => {
    const r = cli(['deny', 'c_rnothere_1'], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('CONFIRMATION_NOT_FOUND');
  });
});
