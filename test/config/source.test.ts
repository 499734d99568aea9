import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ConfigDiff, ConfigSource, diffConfigs } from '../../src/config/source.ts';
import { loadConfig, loadConfigFromString } from '../../src/workflows/load.ts';

const doc = (timeout: string, padding = '') => `${padding}connectors:
  a: { command: interlock, timeout: ${timeout} }
  b: { command: interlock }
workflows:
  w:
    description: one read
    inputs: { type: object }
    steps:
      - { id: s, call: a.read, with: {} }
`;

describe('ConfigSource', () => {
  it('sees a connector moved down the file as unchanged, and a changed timeout as changed', () => {
    const one = loadConfigFromString(doc('5s'), 'x.yaml');
    expect(diffConfigs(one, loadConfigFromString(doc('5s', '# a comment\n\n'), 'x.yaml')).connectors).toEqual({
      added: [],
      removed: [],
      changed: [],
    });
    expect(diffConfigs(one, loadConfigFromString(doc('9s'), 'x.yaml')).connectors).toEqual({
      added: [],
      removed: [],
      changed: ['a'],
    });
  });

  it('reloads by itself when watching and the file changes, once per burst of writes', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'interlock-watch-')), 'workflows.yaml');
    writeFileSync(file, doc('5s'));
    const source = new ConfigSource(loadConfig(file));
    const heard: ConfigDiff[] = [];
    source.subscribe((_next, diff) => void heard.push(diff));
    source.watch({ debounceMs: 100 });
    try {
      writeFileSync(file, doc('6s'));
      writeFileSync(file, doc('7s'));
      await expect.poll(() => source.current.connectors.a.timeoutMs, { timeout: 10_000 }).toBe(7000);
      expect(heard.map((d) => d.connectors.changed)).toEqual([['a']]);
    } finally {
      source.close();
    }
  });
});
