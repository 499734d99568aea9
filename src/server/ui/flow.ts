/**
 * How control-flow steps read on the run page: a loop's items (counts by status, then each item
 * with its arguments and status), a parallel step's branches side by side, a child run's link, and
 * when a sleep is due. The parent of a child run is linked from its header.
 */
import type { ItemRecord, RunRecord, StepRecord } from '../../runs/records.ts';
import type { FlowStep, ForeachStep, ParallelStep } from '../../workflows/types.ts';
import { type Html, html, isoTime, jsonText, statusBadge } from './html.ts';

const runLink = (id: string) => `/ui/runs/${encodeURIComponent(id)}`;

export function parentLine(run: RunRecord): Html | string {
  if (!run.parent) return '';
  return html`<p class="muted">child run of <a data-parent="${run.parent.runId}" href="${runLink(run.parent.runId)}"><code>${run.parent.runId}</code></a> (step ${run.parent.stepId})</p>`;
}

export function flowDetails(def: FlowStep, s: StepRecord | undefined): Html | string {
  switch (def.kind) {
    case 'foreach':
      return loopItems(def, s);
    case 'parallel':
      return branches(def, s);
    case 'workflow':
      return s?.child
        ? html`<p>child run <a data-child="${s.child}" href="${runLink(s.child)}"><code>${s.child}</code></a> of workflow <b>${def.workflow}</b></p>`
        : html`<p class="muted">starts workflow <b>${def.workflow}</b></p>`;
    case 'sleep':
      return s?.wakeAt !== undefined && s.status === 'running'
        ? html`<p data-wake="${def.id}">waiting until <time datetime="${isoTime(s.wakeAt)}">${isoTime(s.wakeAt)}</time></p>`
        : html`<p class="muted">${def.sleepMs !== undefined ? `sleeps ${def.sleepMs} ms` : `waits until ${def.waitUntil ?? ''}`}</p>`;
  }
}

function counts(items: ItemRecord[]): string {
  const by = new Map<string, number>();
  for (const i of items) by.set(i.status, (by.get(i.status) ?? 0) + 1);
  return [...by].map(([k, n]) => `${n} ${k}`).join(', ');
}

function loopItems(def: ForeachStep, s: StepRecord | undefined): Html {
  const items = Object.entries(s?.items ?? {}).sort(
    ([a], [b]) => Number.parseInt(a, 10) - Number.parseInt(b, 10) || a.localeCompare(b),
  );
  const total = s?.itemCount;
  return html`<p class="muted" data-loop="${def.id}">foreach <code>${def.foreach}</code> as <code>${def.as}</code>, ${def.concurrency} at a time${
    items.length ? html` · <span data-loop-counts="${def.id}">${counts(items.map(([, r]) => r))}</span>` : ''
  }${total !== undefined ? ` of ${total} item(s)` : ''}</p>
${
  items.length
    ? html`<details${items.length <= 30 ? ' open' : ''}><summary class="muted">Items</summary><table class="items"><tr><th>item</th><th>status</th><th>arguments</th></tr>${items.map(
        ([key, r]) =>
          html`<tr data-item="${key}"><td><code>${key}</code></td><td>${statusBadge(r.status)}</td><td><code>${r.arguments ? jsonText(r.arguments).replace(/\s+/g, ' ') : ''}</code>${r.error ? html`<div class="error">${r.error.code}: ${r.error.message}</div>` : ''}</td></tr>`,
      )}</table></details>`
    : ''
}`;
}

function branches(def: ParallelStep, s: StepRecord | undefined): Html {
  const items = s?.items ?? {};
  return html`<div class="branches">${Object.entries(def.branches).map(
    ([name, body]) =>
      html`<div class="branch" data-branch="${name}"><b>${name}</b>${body.map((b) => {
        const r = items[`${name}.${b.id}`];
        return html`<div data-branch-step="${name}.${b.id}">${b.id} <code>${b.connector}.${b.tool}</code> ${statusBadge(r?.status ?? 'pending')}${r?.error ? html` <span class="error">${r.error.message}</span>` : ''}</div>`;
      })}</div>`,
  )}</div>`;
}
