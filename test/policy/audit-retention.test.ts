import { writeFileSync } from 'node:fs';
import { describe, expect, it as pure } from 'vitest';
import { DEFAULT_AUDIT_RETENTION_MS } from '../../src/policy/types.ts';
import type { AuditDraft } from '../../src/runs/audit.ts';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { callLogPath, testConnectorYaml } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';
import { configYaml, payWorkflow } from '../helpers/workflows.ts';
import { issueLines } from '../workflows/helpers.ts';

const HOUR = 3_600_000;
const yamlWith = (retention: string) =>
  configYaml({
    connectors: testConnectorYaml(callLogPath()),
    workflows: [payWorkflow()],
    extra: retention ? `policy:\n  audit_retention: ${retention}\n` : '',
  });

const problems = (retention: string): string[] => issueLines(yamlWith(retention));

describe('policy.audit_retention in workflows.yaml', () => {
  pure('is read as a duration, 90 days when left out, and a bad value is named at its line and column', () => {
    expect(loadConfigFromString(yamlWith('2h'), 'r.yaml').policy.auditRetentionMs).toBe(2 * HOUR);
    expect(loadConfigFromString(yamlWith('30d'), 'r.yaml').policy.auditRetentionMs).toBe(30 * 24 * HOUR);
    expect(loadConfigFromString(yamlWith(''), 'r.yaml').policy.auditRetentionMs ?? DEFAULT_AUDIT_RETENTION_MS).toBe(
      90 * 24 * HOUR,
    );
    const [bad] = problems('soon');
    expect(bad).toMatch(/^\d+:\d+ policy audit_retention/);
    expect(problems('0s')).toHaveLength(1);
  });
});

const it = appTest({ yaml: yamlWith('2h'), workers: false });

const draft = (runId: string): AuditDraft => ({
  source: { kind: 'person', by: 'alice', channel: 'api' },
  argumentsHash: 'a'.repeat(64),
  runId,
  stepId: 'write',
  at: Date.now(),
});

describe('the audit keeps each decision for the configured time', () => {
  it('an entry older than the retention is never listed and a trim removes it; a reload shortens the time', async ({
    app,
    configFile,
  }) => {
    expect(app.store.audit.retentionMs).toBe(2 * HOUR);
    const now = Date.now();
    // Two decisions recorded earlier (3 h and 1 h ago), written with their stream ids as Redis would have.
    const key = app.store.keys.audit();
    for (const [runId, age] of [
      ['r-3h', 3 * HOUR],
      ['r-1h', HOUR],
    ] as const) {
      await app.redis.client.xadd(key, `${now - age}-0`, 'e', JSON.stringify({ decision: 'approve', ...draft(runId) }));
    }
    await app.store.audit.append('approve', draft('r-now'));

    const listed = async (q = {}) => (await app.store.audit.list(q)).entries.map((e) => e.runId);
    expect(await listed()).toEqual(['r-1h', 'r-now']);
    // Asking from before the retention starts at the retention: the old entry is not kept for anyone.
    expect(await listed({ since: 0 })).toEqual(['r-1h', 'r-now']);
    expect(await listed({ since: now - 4 * HOUR })).toEqual(['r-1h', 'r-now']);
    expect(await listed({ run: 'r-3h' })).toEqual([]);
    // Every entry that is kept names its hash.
    for (const e of (await app.store.audit.list()).entries) expect(e.argumentsHash).toMatch(/^[0-9a-f]{64}$/);

    expect(await app.store.audit.trim()).toBe(1);
    expect(await app.redis.client.xlen(key)).toBe(2);

    // The config says 30 minutes now: the entry from an hour ago is past it.
    writeFileSync(configFile, yamlWith('30m'));
    await app.source.reload();
    expect(app.store.audit.retentionMs).toBe(HOUR / 2);
    expect(await listed()).toEqual(['r-now']);
    expect(await app.store.audit.trim()).toBe(1);
    expect(await listed()).toEqual(['r-now']);
  });
});
