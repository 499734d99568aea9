import type { ConfirmationRecord, RunRecord, StepRecord } from '../../runs/records.ts';
import { type StepDef, isFlowStep } from '../../workflows/types.ts';
import { flowDetails, parentLine } from './flow.ts';
import { type Html, age, html, isoTime, jsonText, statusBadge } from './html.ts';
import { decidedBy } from './confirmation.ts';
import { resolvePanel } from './resolve.ts';

/** The run's header line: status, workflow, session, times, error. */
export function runHeader(run: RunRecord, now = Date.now()): Html {
  const label = run.label ? html` · label <code>${run.label}</code>` : '';
  const owner = run.owner ? html` · started by <b>${run.owner}</b>` : '';
  return html`<h1>Run <code>${run.id}</code> ${statusBadge(run.status, html`data-run-status="${run.id}"`)}</h1>
<p class="muted">workflow <b>${run.workflow}</b> (version ${run.version}) · session <code>${run.session}</code>${label}${owner}
 · started <time datetime="${isoTime(run.createdAt)}">${age(run.createdAt, now)}</time> · updated ${isoTime(run.updatedAt)}</p>
${parentLine(run)}
${run.error ? html`<p class="error">${run.error.code}: ${run.error.message}</p>` : ''}
<details><summary class="muted">Inputs</summary><pre class="inputs">${jsonText(run.inputs)}</pre></details>`;
}

function stepBlock(
  runId: string,
  def: StepDef,
  s: StepRecord | undefined,
  conf: ConfirmationRecord | undefined,
  rule: string | undefined,
): Html {
  const status = s?.status ?? 'pending';
  const decided =
    conf && conf.status !== 'pending'
      ? html`<p class="muted">confirmation ${conf.id}: ${conf.status} ${decidedBy(conf)}</p>`
      : '';
  const args =
    s?.arguments !== undefined
      ? html`<div class="muted">Arguments${s.argumentsHash ? html` · hash <code>${s.argumentsHash}</code>` : ''}</div><pre class="step-arguments">${jsonText(s.arguments)}</pre>`
      : html`<div class="muted">Arguments (templates, not yet resolved)</div><pre>${jsonText(def.with)}</pre>`;
  return html`<section class="step" data-step="${def.id}">
  <h3><span>${def.id}</span> <code>${def.connector}.${def.tool}</code> ${statusBadge(status, html`data-step-status="${def.id}"`)}
    ${s?.durationMs !== undefined ? html`<span class="muted">${s.durationMs} ms</span>` : ''}
    ${s && s.attempts > 1 ? html`<span class="muted">${s.attempts} attempts</span>` : ''}</h3>
  ${s?.note ? html`<p class="muted">${s.note}</p>` : ''}
  ${rule ? html`<p class="decision by-rule">${rule}</p>` : ''}
  ${isFlowStep(def) ? flowDetails(def, s) : ''}
  ${decided}
  ${isFlowStep(def) && s?.arguments === undefined ? '' : args}
  ${s?.output !== undefined ? html`<div class="muted">Output</div><pre class="step-output">${jsonText(s.output)}</pre>` : ''}
  ${s?.error ? html`<p class="error">${s.error.code}: ${s.error.message}</p>` : ''}
  ${status === 'in_doubt' ? resolvePanel(runId, def.id) : ''}
</section>`;
}

/** Every step of the pinned definition in order, with what it was called with and what it returned. */
/** `rules`: per step, what a policy rule decided, in its words (a write a rule approved has no confirmation). */
export function runTimeline(
  run: RunRecord,
  confirmations: Map<string, ConfirmationRecord>,
  rules: ReadonlyMap<string, string> = new Map(),
): Html {
  return html`${run.definition.steps.map((def) => {
    const s = run.steps[def.id];
    return stepBlock(run.id, def, s, s?.confirmationId ? confirmations.get(s.confirmationId) : undefined, rules.get(def.id));
  })}`;
}
