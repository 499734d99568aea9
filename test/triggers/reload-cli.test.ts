import { describe, expect } from 'vitest';
import { loadConfigFromString } from '../../src/workflows/load.ts';
import { callLogPath, testConnectorYaml } from '../helpers/app.ts';
import { appTest } from '../helpers/fixtures.ts';
import { runCli } from '../helpers/processes.ts';

// Schedulers follow the config: a reload that adds, retimes or removes a schedule upserts or
// removes its job scheduler; one that changes only the inputs leaves the next tick where it is.
// And `interlock triggers` lists and pauses them from the command line.

const connectors = testConnectorYaml(callLogPath());
const wf = (name: string, triggers: string) => `
  ${name}:
    description: d
    inputs: { type: object, properties: { n: { type: integer } } }
    triggers:${triggers}
    steps:
      - { id: say, call: test.echo, with: { text: x } }`;

const v1 = `connectors:${connectors}\nworkflows:${wf('a', '\n      - { name: s, every: 1h, inputs: { n: 1 } }')}${wf('b', '\n      - { name: s, cron: "0 9 * * 1", timezone: Europe/Berlin }')}\n`;
const v2 = `connectors:${connectors}\nworkflows:${wf('a', '\n      - { name: s, every: 1h, inputs: { n: 2 } }')}${wf('c', '\n      - { name: s, cron: "0 10 * * *" }')}\n`;
const v3 = `connectors:${connectors}\nworkflows:${wf('a', '\n      - { name: s, every: 2h }')}${wf('c', '\n      - { name: s, cron: "0 10 * * *" }')}\n`;

const test = appTest({ yaml: v1 });

describe('schedules and config reloads', () => {
  test('added, changed and removed schedules are upserted and removed', async ({ app, configFile }) => {
    const schedulers = async () =>
      Object.fromEntries((await app.triggers.schedules.queue.getJobSchedulers(0, -1)).map((s) => [s.key, s.next]));
    // An `every` schedule's first tick is due at once; once it is taken, the next is an hour away.
    let first = await schedulers();
    for (let i = 0; i < 200 && !((first['a.s'] ?? 0) > Date.now()); i++) {
      await new Promise((r) => setTimeout(r, 50));
      first = await schedulers();
    }
    expect(Object.keys(first).sort()).toEqual(['a.s', 'b.s']);

    await app.source.set(loadConfigFromString(v2, configFile));
    const second = await schedulers();
    expect(Object.keys(second).sort()).toEqual(['a.s', 'c.s']);
    // Only a's inputs changed: its next tick stays where it was.
    expect(second['a.s']).toBe(first['a.s']);

    await app.source.set(loadConfigFromString(v3, configFile));
    const third = await app.triggers.schedules.queue.getJobSchedulers(0, -1);
    expect(third.find((s) => s.key === 'a.s')?.every).toBe(7_200_000);
  });

  test('interlock triggers list | pause', async ({ app, redis, configFile }) => {
    const cli = (...args: string[]) =>
      runCli(['--config', configFile, 'triggers', ...args], {
        env: { ...process.env, REDIS_URL: redis.url, INTERLOCK_PREFIX: app.prefix, NO_COLOR: '1' },
        // A CLI start loads the whole program; on a busy machine that takes a while.
        timeoutMs: 150_000,
      });
    // The file on disk is still v1; the CLI reads it.
    const list = await cli('list');
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^a\.s {2}every 3600000 ms \(missed: run_once\) {2}active/m);
    expect(list.stdout).toMatch(/^b\.s {2}cron "0 9 \* \* 1" Europe\/Berlin/m);
    const paused = await cli('pause', 'a.s');
    expect(paused.status).toBe(0);
    expect(paused.stdout).toMatch(/^a\.s .*paused by cli/m);
    expect((await app.triggers.list()).find((t) => t.id === 'a.s')?.paused).toBe(true);
    await app.triggers.resume('a.s');
    const unknown = await cli('pause', 'nope');
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/No trigger 'nope' \(known: a\.s, b\.s\)/);
  }, 480_000);
});
