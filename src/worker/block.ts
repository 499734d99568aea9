/**
 * Pausing a run until a person acts: a tool whose definition changed since it was pinned waits
 * for an admin's approval, a connector that needs a login waits for one. Either way the step is
 * blocked (needs_attention) in one script, and whoever acts re-enqueues it.
 */
import type { ToolInfo } from '../connectors/types.ts';
import type { InterlockError } from '../errors.ts';
import type { ErrorInfo } from '../runs/records.ts';
import type { StepDeps, StepJob } from './execute.ts';

/** Pauses the run (needs_attention, TOOL_CHANGED) until an admin approves the tool's new definition. */
export async function blockOnChangedTool(d: StepDeps, j: StepJob, info: ToolInfo, fields: string[]): Promise<string> {
  const { connector, name: tool } = info;
  const runId = j.run.id;
  const stepId = j.step.id;
  const error: ErrorInfo = {
    code: 'TOOL_CHANGED',
    message:
      `Tool ${connector}.${tool} changed since it was pinned (${fields.join(', ')}); it is disabled until an admin reviews the change and approves it ` +
      `(interlock connectors approve-tool ${connector} ${tool}, or POST /api/v1/connectors/${connector}/tools/${tool}/approve). The run continues then.`,
  };
  const r = await d.store.blockStep(runId, stepId, error, { connector, tool, fields });
  if (r === 'ok') {
    await d.store.pins.addWaiting(connector, tool, runId, stepId);
    const generation = `unblocked-${Date.now()}`;
    // An approval landing between the block and the line above found nobody waiting: look again.
    if (
      (await d.store.pins.observe(info)).status !== 'changed' &&
      (await d.store.unblockStep(runId, stepId, { connector, tool, by: 'approved meanwhile' }, generation)) === 'ok'
    ) {
      await d.queues.enqueue(j.run.definition, runId, j.run.session, stepId, generation);
    }
  }
  d.logger.warn({ runId, stepId, connector, tool, fields }, 'tool changed since it was pinned; run paused');
  return `blocked: ${r}`;
}

/**
 * Pauses the run (needs_attention, CONNECTOR_LOGIN_REQUIRED) until someone logs the connector in.
 * The call never reached the tool (no token was sent, or the server refused it), so a write's
 * intent is cleared with the block: after the login the step is sent as if for the first time.
 */
export async function blockOnLogin(d: StepDeps, j: StepJob, connector: string, err: InterlockError): Promise<string> {
  const runId = j.run.id;
  const stepId = j.step.id;
  const error = { code: 'CONNECTOR_LOGIN_REQUIRED' as const, message: err.message };
  const r = await d.store.blockStep(
    runId,
    stepId,
    error,
    { connector, ...(err.details as Record<string, unknown>) },
    { neverSent: true },
  );
  if (r === 'ok') {
    await d.store.oauth.addWaiting(connector, runId, stepId);
    // A login landing between the block and the line above found nobody waiting: look again.
    const generation = `unblocked-${Date.now()}`;
    if (
      (await d.store.oauth.connected(connector)) &&
      (await d.store.unblockStep(
        runId,
        stepId,
        { connector, by: 'logged in meanwhile' },
        generation,
        'CONNECTOR_LOGIN_REQUIRED',
      )) === 'ok'
    ) {
      await d.store.oauth.dropWaiting(connector, runId, stepId);
      await d.queues.enqueue(j.run.definition, runId, j.run.session, stepId, generation);
    }
  }
  d.logger.warn({ runId, stepId, connector }, 'connector needs a login; run paused');
  return `awaiting login: ${r}`;
}
