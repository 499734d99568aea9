import type { ScopedGrant } from '../../grants/grant.ts';
import { describeCoverage, describeLimits, isActive } from '../../grants/grant.ts';
import type { PlanView } from '../../engine/plans.ts';
import { planGateLines } from '../../plans/words.ts';
import { type Html, html, isoTime } from './html.ts';

/**
 * The grants page: every remembered decision, what it covers and for how long in words, and a
 * Revoke button for each that can still let a write through. Hooks: `table.grants`,
 * `tr[data-grant]`, `button[data-revoke]`.
 */
export function grantsTable(grants: ScopedGrant[], opts: { canRevoke: boolean; now?: number }): Html {
  const now = opts.now ?? Date.now();
  if (grants.length === 0) return html`<p class="empty">No remembered decisions.</p>`;
  return html`<table class="grants"><thead><tr><th>Grant</th><th>Decision</th><th>Covers</th><th>Limits</th><th>By</th><th></th></tr></thead>
<tbody>${grants.map(
    (g) => html`<tr data-grant="${g.id}" data-active="${String(isActive(g, now))}">
  <td><code>${g.id}</code><div class="muted">session <code>${g.session}</code></div></td>
  <td>${g.decision}</td>
  <td class="coverage">${describeCoverage(g)}</td>
  <td class="limits">${describeLimits(g, now)}</td>
  <td>${g.by ?? 'unknown'}${g.channel ? ` (${g.channel})` : ''}<div class="muted">${isoTime(g.at)}</div></td>
  <td>${isActive(g, now) ? html`<button type="button" data-revoke="${g.id}"${opts.canRevoke ? '' : ' disabled'}>Revoke</button><span class="outcome" role="status"></span>` : ''}</td>
</tr>`,
  )}</tbody></table>`;
}

/**
 * A run's plan in words and, while its writes still wait, one Approve button bound to the
 * planHash shown. Hooks: `section.plan[data-plan-hash]`, `pre.plan-words`, `button[data-plan-approve]`.
 */
export function planSection(runId: string, view: PlanView, opts: { canApprove: boolean }): Html {
  const approved = view.approved;
  const planned = view.plan.items.some((i) => i.status === 'planned');
  return html`<section class="card plan" data-plan-hash="${view.plan.planHash}">
  <h2>Plan</h2>
  <pre class="plan-words">${view.words}</pre>
  ${
    approved && view.diverged
      ? html`<p class="notice plan-diverged" data-step="${view.diverged.stepId}">${planGateLines(view, { runId })[0]}</p>`
      : ''
  }
  ${
    approved
      ? html`<p class="outcome">Plan <code>${approved.planHash.slice(0, 12)}…</code> approved by <b>${approved.by}</b> at ${isoTime(approved.at)}${approved.current ? '' : ' (the run has moved on since: writes that differ ask again)'}</p>`
      : ''
  }
  ${
    planned && !approved?.current
      ? html`<div class="actions"><button type="button" class="approve" data-plan-approve="${view.plan.planHash}" data-run="${runId}"${opts.canApprove ? '' : ' disabled'}>Approve the plan once</button><span class="outcome" role="status"></span></div>`
      : ''
  }
</section>`;
}
