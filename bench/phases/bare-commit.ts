/**
 * A loop that commits each step as Interlock's worker does and does nothing else: the call over
 * the bench's direct client, then `RunStore.commitStepInPlace` (commitStep-n.lua, in place: the
 * step's result and events, the next step marked ready, what the next step needs read back), then
 * the next call. Real runs of the chain workflow, created without a job (createRun with no
 * enqueue), so the worker never sees them while they go on.
 *
 * Beside the hand-written loop (one `SET` a step) and Interlock's chain, it splits the chain's
 * overhead in two: what the commit itself costs (Redis's work on the script, its larger write and
 * answer, the store's arguments and parsing), which any design that commits each step in place
 * pays, and what the worker adds around it (BullMQ's job, planning the step, gates and grants,
 * templates, the SDK's request guards).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { recordedResult, toCallResult } from '../../src/connectors/results.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import type { StepDef } from '../../src/workflows/types.ts';
import { canonicalJson, sha256Hex } from '../../src/workflows/canonical.ts';
import type { BenchContext } from '../lib/context.ts';
import { summarize, type Summary } from '../lib/stats.ts';

export interface BareCommitResult {
  /** call start → next call start, at the bench (as the hand-written loop's) */
  stepGapMs: Summary;
  /** that − one direct call (p50) */
  stepOverheadMs: Summary;
  /** the commit alone: commitStepInPlace called → answered and parsed */
  commitMs: Summary;
}

/** The next step's tool, as the worker names it for the toggle the commit reads back. */
function toolField(step: StepDef): string {
  if (step.kind !== 'call') throw new Error(`bare commit loop: step ${step.id} is not a call`);
  return `${step.connector}.${step.tool}`;
}

/** `chains` runs of `workflow` (its steps all `echo` calls on one connector), the first two to warm up. */
export async function measureBareCommit(
  ctx: BenchContext,
  client: Client,
  workflow: string,
  chains: number,
  direct: number,
): Promise<BareCommitResult> {
  const { store } = ctx.app;
  const wf = ctx.app.engine.workflow(workflow);
  const gaps: number[] = [];
  const commits: number[] = [];
  for (let c = 0; c < chains + 2; c++) {
    const made = await store.createRun({ workflow: wf, inputs: { text: `bare-${c}` } });
    let run: RunRecord = made.run ?? (await store.requireRun(made.runId));
    let prev = Number.NaN;
    for (let k = 0; k < wf.steps.length; k++) {
      const step = wf.steps[k];
      if (step.kind !== 'call') throw new Error(`bare commit loop: step ${step.id} of ${workflow} is not a call`);
      const args = { text: `bare-${c}-${k}` };
      const argumentsHash = sha256Hex(canonicalJson(args));
      const t0 = performance.now();
      const startedAt = Date.now();
      const raw = await client.callTool({ name: step.tool, arguments: args });
      if (raw.isError) throw new Error('bare commit loop: echo failed');
      const finishedAt = Date.now();
      const result = {
        arguments: args,
        argumentsHash,
        ...recordedResult(toCallResult(raw)),
        startedAt,
        finishedAt,
        durationMs: finishedAt - startedAt,
      };
      // As a step that was not started before its call: the commit starts it too.
      const started = { argumentsHash, attempt: 1 };
      const next = wf.steps[k + 1];
      const tc = performance.now();
      if (next) {
        const r = await store.commitStepInPlace(
          run,
          step.id,
          'succeeded',
          result,
          { stepId: next.id, holder: `${run.id}.bare`, toolField: toolField(next) },
          started,
        );
        if (r.outcome !== 'ok' || !r.loaded?.run) throw new Error(`bare commit loop: commit of ${step.id} answered ${r.outcome}`);
        run = r.loaded.run;
      } else {
        const outcome = await store.commitStep(run.id, step.id, 'succeeded', result, undefined, { started });
        if (outcome !== 'ok') throw new Error(`bare commit loop: last commit answered ${outcome}`);
      }
      if (c >= 2) {
        commits.push(performance.now() - tc);
        if (k > 0) gaps.push(t0 - prev);
      }
      prev = t0;
    }
  }
  return {
    stepGapMs: summarize(gaps),
    stepOverheadMs: summarize(gaps.map((g) => g - direct)),
    commitMs: summarize(commits),
  };
}
