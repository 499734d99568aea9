import { parseEvent } from '../runs/parse.ts';
import type { RunRecord } from '../runs/records.ts';
import type { RunStore } from '../runs/store.ts';
import type { Finding } from './doctor.ts';
import { stepJobId, type StepQueues } from './queues.ts';

/** How far back in a run's events the step.blocked of its pause is looked for. */
const BLOCKED_EVENT_LOOKBACK = 100;

/**
 * Runs paused (needs_attention) until something outside them happens: a changed tool approved,
 * or a connector logged in. What is wrong with them, for `interlock doctor`, and the repair of
 * a pause whose reason is gone (a crash between the approval or login and its unblocks).
 */
export async function examineBlocked(store: RunStore, run: RunRecord, now: number, boundMs: number): Promise<Finding[]> {
  const settled = now - run.updatedAt > boundMs;
  if (run.error?.code === 'TOOL_CHANGED') {
    const step = run.definition.steps.find((d) => ['pending', 'running'].includes(run.steps[d.id]?.status ?? 'pending'));
    if (step?.kind === 'call' && settled && !(await store.pins.review(step.connector, step.tool)).pending) {
      return [
        {
          runId: run.id,
          stepId: step.id,
          kind: 'blocked_tool_approved',
          why: `paused at ${step.connector}.${step.tool}, whose change was approved since`,
          repair: 'unblock the run and enqueue the step',
        },
      ];
    }
    return [];
  }
  if (run.error?.code !== 'CONNECTOR_LOGIN_REQUIRED') return [];
  const blocked = await loginBlock(store, run);
  if (!blocked) return [];
  const { stepId, connector, reason } = blocked;
  if (await store.oauth.connected(connector)) {
    // Logged in since: the login's own unblock normally resumes it within the bound.
    if (!settled) return [];
    return [
      {
        runId: run.id,
        stepId,
        kind: 'blocked_login_done',
        why: `paused at step ${stepId} until connector "${connector}" was logged in, and it is logged in since`,
        repair: 'unblock the run and enqueue the step',
      },
    ];
  }
  return [
    {
      runId: run.id,
      stepId,
      kind: 'connector_login_required',
      why:
        `step ${stepId} waits for connector "${connector}" to be logged in${reason ? ` (${reason})` : ''}: ` +
        `run \`interlock connectors login ${connector}\` (or Connect on /ui/connectors), and the run continues`,
    },
  ];
}

/**
 * The step and connector a login pause is for: the run's last step.blocked event names both (the
 * step may be a flow step whose connector is inside it). Failing that, the current call step.
 */
async function loginBlock(
  store: RunStore,
  run: RunRecord,
): Promise<{ stepId: string; connector: string; reason?: string } | undefined> {
  const entries = await store.redis.xrevrange(store.keys.events(run.id), '+', '-', 'COUNT', BLOCKED_EVENT_LOOKBACK);
  for (const [id, fields] of entries) {
    const e = parseEvent(run.id, id, fields);
    if (e.type !== 'step.blocked' || !e.stepId) continue;
    if (e.data.code !== 'CONNECTOR_LOGIN_REQUIRED' || typeof e.data.connector !== 'string') break;
    return {
      stepId: e.stepId,
      connector: e.data.connector,
      ...(typeof e.data.reason === 'string' ? { reason: e.data.reason } : {}),
    };
  }
  const step = run.definition.steps.find((d) => ['pending', 'running'].includes(run.steps[d.id]?.status ?? 'pending'));
  return step?.kind === 'call' ? { stepId: step.id, connector: step.connector } : undefined;
}

/**
 * Unblocks a run whose pause reason is gone (marked ready with a new generation, in the script
 * that checks it is still blocked for that reason) and enqueues the step; then drops it from the
 * waiting set, as the approval or login would have.
 */
export async function unblockRun(
  store: RunStore,
  queues: StepQueues,
  run: RunRecord,
  f: Pick<Finding, 'kind' | 'stepId'>,
): Promise<string> {
  const step = run.definition.steps.find((s) => s.id === f.stepId);
  if (!step) return 'no such step';
  const generation = `unblocked-${Date.now()}`;
  if (f.kind === 'blocked_tool_approved') {
    if (step.kind !== 'call') return 'no such step';
    const by = { connector: step.connector, tool: step.tool, by: 'interlock doctor' };
    if ((await store.unblockStep(run.id, step.id, by, generation)) !== 'ok') return 'no longer blocked; left alone';
    await queues.enqueue(run.definition, run.id, run.session, step.id, generation);
    await store.pins.dropWaiting(step.connector, step.tool, run.id, step.id);
    return `unblocked and enqueued ${stepJobId(run.id, step.id, generation)}`;
  }
  const blocked = await loginBlock(store, run);
  if (!blocked || blocked.stepId !== step.id) return 'no longer blocked; left alone';
  const by = { connector: blocked.connector, by: 'interlock doctor' };
  if ((await store.unblockStep(run.id, step.id, by, generation, 'CONNECTOR_LOGIN_REQUIRED')) !== 'ok')
    return 'no longer blocked; left alone';
  await queues.enqueue(run.definition, run.id, run.session, step.id, generation);
  await store.oauth.dropWaiting(blocked.connector, run.id, step.id);
  return `unblocked and enqueued ${stepJobId(run.id, step.id, generation)}`;
}
