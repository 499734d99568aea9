/**
 * The rig of faults/handoffs.test.ts: per test, an App in the test process (no workers) on its own
 * key prefix, 20 fresh sandbox charges, the process under test armed with a fail point, and the
 * fresh worker that must settle every run after the kill. Each test adds a row to the table the
 * file prints at its end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import type { StripeSandbox } from '../../src/sandbox/stripe/index.ts';
import { openApp, test } from '../helpers/fixtures.ts';
import { WorkerProcess } from '../helpers/processes.ts';
import { freePort } from '../helpers/redis.ts';
import { seededCharges } from './refund-rig.ts';

/** Runs a test triggers: the fail point is armed for this many hits, so all of them are left at it. */
export const RUNS = 20;

interface Row {
  handoff: string;
  runs: number;
  stuck: number;
  twice: number;
  recoveredMs: number;
  reconciled: number;
}

/** POSTs `body` as JSON to `url` (the answer never comes when the server dies on the way). */
export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

interface HandoffParts {
  app: App;
  redisUrl: string;
  sandbox: StripeSandbox;
  /** the number of the first seeded charge this test refunds */
  first: number;
  /** the children started, SIGKILLed after the test */
  procs: WorkerProcess[];
  /** the file's table */
  rows: Row[];
}

export class Handoff {
  readonly app: App;
  readonly charges: string[];
  readonly env: Record<string, string>;
  private readonly sandbox: StripeSandbox;
  private readonly procs: WorkerProcess[];
  private readonly rows: Row[];

  constructor(parts: HandoffParts) {
    ({ app: this.app, sandbox: this.sandbox, procs: this.procs, rows: this.rows } = parts);
    this.charges = seededCharges(RUNS, parts.first);
    this.env = {
      REDIS_URL: parts.redisUrl,
      INTERLOCK_CONFIG: this.app.config.file,
      INTERLOCK_PREFIX: this.app.prefix,
      INTERLOCK_STRIPE_API_URL: this.sandbox.url,
    };
  }

  /** An `interlock worker` or `serve` child on this test's app, killed after the test; `env` on top. */
  async spawn(command: 'worker' | 'serve', env: Record<string, string> = {}): Promise<{ p: WorkerProcess; url: string }> {
    const port = await freePort();
    const p = new WorkerProcess({ ...this.env, PORT: String(port), ...env }, command);
    this.procs.push(p);
    await p.start();
    return { p, url: `http://127.0.0.1:${port}` };
  }

  /** The process under test: the fail point armed for 20 hits, its reconciler only at start. */
  doomed(command: 'worker' | 'serve', point: string): Promise<{ p: WorkerProcess; url: string }> {
    return this.spawn(command, { INTERLOCK_FAILPOINTS: `${point}@${RUNS}`, INTERLOCK_RECONCILE_EVERY_MS: '3600000' });
  }

  triggerEach(workflow: string): Promise<string[]> {
    return Promise.all(this.charges.map(async (charge) => (await this.app.engine.trigger(workflow, { charge })).run.id));
  }

  runs(ids: string[]): Promise<RunRecord[]> {
    return Promise.all(ids.map((id) => this.app.store.requireRun(id)));
  }

  async waitAll(ids: string[], ok: (r: RunRecord) => boolean, timeoutMs = 60_000): Promise<RunRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rs = await this.runs(ids);
      if (rs.every(ok) || Date.now() > deadline) return rs;
      await sleep(100);
    }
  }

  refundsOf = (charge: string) => Object.values(this.sandbox.state().refunds).filter((r) => r.charge === charge).length;

  /** What every test checks right after the kill: the process died at its fail point and no refund went out. */
  async died(p: WorkerProcess): Promise<void> {
    expect(await p.exited).toBe('SIGKILL');
    expect(p.output).toContain('fail point');
    expect(this.charges.map(this.refundsOf).reduce((a, b) => a + b, 0)).toBe(0);
  }

  /** After the kill: a fresh worker with default settings; every run must reach `ok`, each charge refunded once. */
  async recover(handoff: string, ids: string[], ok: (r: RunRecord) => boolean, then?: () => Promise<void>): Promise<RunRecord[]> {
    const { p: fresh } = await this.spawn('worker');
    const t0 = Date.now();
    await then?.();
    const rs = await this.waitAll(ids, ok);
    const recoveredMs = Date.now() - t0;
    const stuck = rs.filter((r) => !ok(r));
    const twice = this.charges.filter((c) => this.refundsOf(c) > 1).length;
    const reconciled = [...fresh.output.matchAll(/reconciler: enqueued (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    this.rows.push({ handoff, runs: rs.length, stuck: stuck.length, twice, recoveredMs, reconciled });
    expect(stuck.map((r) => `${r.id} ${r.status} ${JSON.stringify(r.steps)}`)).toEqual([]);
    expect(twice).toBe(0);
    for (const c of this.charges) expect(this.refundsOf(c), c).toBe(1);
    await fresh.terminate();
    return rs;
  }
}

function printRows(rows: Row[]): void {
  if (!rows.length) return;
  console.log(
    [
      `test:faults — hand-offs killed right after their Redis write (${RUNS} runs each)`,
      ...rows.map(
        (r) =>
          `  ${r.handoff.padEnd(14)} runs ${r.runs}  stuck ${r.stuck}  writes sent twice ${r.twice}  ` +
          `settled ${(r.recoveredMs / 1000).toFixed(1)} s after the fresh worker was ready  (steps the reconciler enqueued: ${r.reconciled})`,
      ),
    ].join('\n'),
  );
}

/**
 * `handoff`: a fresh Handoff per test (its app closed and its children SIGKILLed after it) on the
 * file's Redis and Stripe sandbox, for the workflows.yaml text `yaml`; `rows` collects each test's
 * figures and prints them after the file.
 */
export function handoffTest(yaml: string) {
  let nextCharge = 100;
  return test.extend<{ rows: Row[]; handoff: Handoff }>({
    rows: [
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
      async ({}, use) => {
        const rows: Row[] = [];
        await use(rows);
        printRows(rows);
      },
      { scope: 'file' },
    ],
    handoff: async ({ redis, stripe, rows }, use) => {
      const procs: WorkerProcess[] = [];
      const first = nextCharge;
      nextCharge += RUNS;
      await openApp(redis, { yaml, workers: false }, async (app) => {
        try {
          await use(new Handoff({ app, redisUrl: redis.url, sandbox: stripe, first, procs, rows }));
        } finally {
          await Promise.all(procs.map((p) => p.kill()));
        }
      });
    },
  });
}
