import type { RunRecord } from '../../runs/records.ts';
import { type Html, age, html, isoTime, statusBadge } from './html.ts';

/** Rows of the runs list; `[data-run-status=<id>]` carries each run's status for scripts and tests. */
export function runRows(runs: RunRecord[], now = Date.now()): Html {
  if (runs.length === 0)
    return html`<tr><td colspan="5" class="empty">No runs yet. Start one with POST /api/v1/workflows/{name}/runs.</td></tr>`;
  return html`${runs.map((r) => {
    const steps = r.definition.steps.map((s) => r.steps[s.id]);
    const done = steps.filter((s) => s && ['succeeded', 'skipped'].includes(s.status)).length;
    return html`<tr data-run="${r.id}">
      <td><a href="/ui/runs/${encodeURIComponent(r.id)}"><code>${r.id}</code></a></td>
      <td>${r.workflow} <span class="muted" title="version of the definition this run pinned">${r.version}</span></td>
      <td>${statusBadge(r.status, html`data-run-status="${r.id}"`)}</td>
      <td>${done}/${steps.length}</td>
      <td><time datetime="${isoTime(r.createdAt)}">${age(r.createdAt, now)}</time></td>
    </tr>`;
  })}`;
}

export function runsTable(runs: RunRecord[], now = Date.now()): Html {
  return html`<table class="runs"><thead><tr><th>Run</th><th>Workflow</th><th>Status</th><th>Steps</th><th>Age</th></tr></thead>
<tbody id="run-rows">${runRows(runs, now)}</tbody></table>`;
}
