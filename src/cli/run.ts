import { createInterface } from 'node:readline/promises';
import type { App } from '../app.ts';
import type { ConfirmationRecord, RunRecord } from '../runs/records.ts';
import { TERMINAL_RUN_STATUSES } from '../runs/records.ts';
import { bold, formatConfirmation, formatEvent, formatPlanAtGate, formatRun, green, yellow } from './format.ts';
import { planAtGate } from './grants.ts';

/** `--input k=v`: typed by the workflow's input schema where it says `string`, else JSON when it parses. */
export function coerceInputs(schema: Record<string, unknown>, pairs: string[], json?: string): Record<string, unknown> {
  const out: Record<string, unknown> = json ? (JSON.parse(json) as Record<string, unknown>) : {};
  const props = (schema.properties ?? {}) as Record<string, { type?: unknown }>;
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new Error(`--input expects key=value, got '${p}'`);
    const k = p.slice(0, i);
    const v = p.slice(i + 1);
    if (props[k]?.type === 'string') {
      out[k] = v;
      continue;
    }
    try {
      out[k] = JSON.parse(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

export interface RunCommandOptions {
  input: string[];
  inputsJson?: string;
  session?: string;
  wait?: boolean;
  timeout?: string;
  interactive?: boolean;
}

async function ask(conf: ConfirmationRecord): Promise<'approve' | 'remember' | 'deny' | 'later'> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    for (;;) {
      const a = (await rl.question(bold(`Approve this call? [y]es / [r]emember for this session / [n]o / [l]ater: `)))
        .trim()
        .toLowerCase();
      if (a === 'y' || a === 'yes') return 'approve';
      if (a === 'r' || a === 'remember') return 'remember';
      if (a === 'n' || a === 'no') return 'deny';
      if (a === 'l' || a === 'later' || a === '') return 'later';
    }
  } finally {
    rl.close();
    void conf;
  }
}

/**
 * `interlock run`: trigger, then (with --wait) follow the run's events until it ends. At a gate it
 * prints the full payload and how to decide; in a terminal it asks right there.
 */
export async function runCommand(app: App, workflow: string, o: RunCommandOptions): Promise<RunRecord> {
  const wf = app.engine.workflow(workflow);
  const inputs = coerceInputs(wf.inputs, o.input, o.inputsJson);
  if (o.wait && !(await app.workersOnline())) {
    console.log(yellow('No worker is running for these connectors; running steps in this process until the command ends.'));
    await app.startWorkers();
  }
  const { run, created } = await app.engine.trigger(workflow, inputs, o.session ? { session: o.session } : {});
  console.log(`${created ? 'started' : 'existing'} run ${bold(run.id)} of ${workflow}@${run.version} (session ${run.session})`);
  if (!o.wait) return run;

  const blocking = app.redis.duplicate();
  const timeoutMs = o.timeout ? Number(o.timeout) * 1000 : 24 * 3600_000;
  const deadline = Date.now() + timeoutMs;
  const shown = new Set<string>();
  try {
    for (;;) {
      const cur = await app.engine.waitFor(run.id, {
        blocking,
        timeoutMs: Math.max(0, deadline - Date.now()),
        onEvent: (e) => console.log(formatEvent(e)),
      });
      if (TERMINAL_RUN_STATUSES.has(cur.status) || cur.status === 'needs_attention' || Date.now() >= deadline) {
        console.log(formatRun(cur));
        return cur;
      }
      if (cur.status === 'awaiting_confirmation') {
        const cid = Object.values(cur.steps).find((s) => s.status === 'awaiting_confirmation')?.confirmationId;
        const conf = cid ? await app.store.getConfirmation(cid) : undefined;
        if (conf && conf.status === 'pending' && !shown.has(conf.id)) {
          shown.add(conf.id);
          console.log(formatConfirmation(conf));
          const plan = await planAtGate(app, run.id);
          if (plan) console.log(formatPlanAtGate(plan, run.id));
          if (o.interactive && process.stdin.isTTY) {
            const a = await ask(conf);
            if (a === 'approve' || a === 'remember') {
              await app.engine.approve(conf.id, conf.argumentsHash, {
                by: 'cli',
                ...(a === 'remember' ? { remember: 'session' as const } : {}),
              });
              console.log(
                green(`approved ${conf.connector}.${conf.tool}${a === 'remember' ? ' (remembered for this session)' : ''}`),
              );
            } else if (a === 'deny') {
              await app.engine.deny(conf.id, { by: 'cli' });
            } else {
              console.log('Left pending; the run waits, durable, for a decision.');
              return cur;
            }
          } else {
            console.log('waiting for a decision (Ctrl-C stops waiting; the run stays paused)…');
          }
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    blocking.disconnect();
  }
}
