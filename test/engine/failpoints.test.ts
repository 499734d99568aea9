import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/app.ts';

/** Loads src/failpoints.ts in a fresh Node with INTERLOCK_FAILPOINTS set, hits `after-decide` twice, says how it ended. */
function hitTwice(spec: string | undefined): { status: number | null; signal: string | null; out: string } {
  const code = `const f = await import('./src/failpoints.ts');
    for (const i of [1, 2]) { const p = f.failPoint('after-decide'); console.log('hit', i, p === undefined ? 'passed' : 'held'); }
    console.log('armed', f.isArmed('after-decide'), f.isArmed('after-commit'));`;
  const env = { ...process.env };
  delete env.INTERLOCK_FAILPOINTS;
  if (spec !== undefined) env.INTERLOCK_FAILPOINTS = spec;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, env, encoding: 'utf8' });
  return { status: r.status, signal: r.signal, out: r.stdout + r.stderr };
}

describe('fail points', () => {
  it('are inert unless INTERLOCK_FAILPOINTS names them', () => {
    const r = hitTwice(undefined);
    expect(r.status).toBe(0);
    expect(r.out).toContain('hit 1 passed');
    expect(r.out).toContain('hit 2 passed');
    expect(r.out).toContain('armed false false');
  });

  it('kill the process with SIGKILL at the first hit, or hold hits until the Nth', () => {
    const first = hitTwice('after-decide');
    expect(first.signal).toBe('SIGKILL');
    expect(first.out).toContain('fail point after-decide reached (hit 1)');
    expect(first.out).not.toMatch(/^hit 1/m);
    const second = hitTwice('after-commit, after-decide@2');
    expect(second.signal).toBe('SIGKILL');
    expect(second.out).toContain('hit 1 held');
    expect(second.out).not.toMatch(/^hit 2/m);
  });

  it('refuse an unknown name or a bad count with a message naming it', () => {
    for (const [spec, says] of [
      ['after-decid', "unknown fail point 'after-decid'"],
      ['after-decide@0', "'after-decide@0' needs a whole number"],
    ] as const) {
      const r = hitTwice(spec);
      expect(r.status).not.toBe(0);
      expect(r.out).toContain(says);
    }
  });
});
