import type { TriggerInfo } from '../../triggers/triggers.ts';
import { type Html, html, isoTime } from './html.ts';

function what(t: TriggerInfo): Html {
  if (t.kind === 'webhook')
    return html`webhook <b>${t.webhook ?? ''}</b> at <code>POST ${t.path ?? ''}</code>${t.events?.length ? html`<br><span class="muted">on ${t.events.join(', ')}</span>` : ''}`;
  const timing =
    t.cron !== undefined
      ? html`cron <code>${t.cron}</code>${t.timezone ? html` ${t.timezone}` : ''}`
      : html`every ${String(t.everyMs ?? 0)} ms`;
  return html`${timing}<br><span class="muted">missed ticks: ${t.missed ?? ''}</span>`;
}

function last(t: TriggerInfo): Html {
  const l = t.last;
  if (!l) return html`<span class="muted">nothing yet</span>`;
  const run = l.runId ? html` <a href="/ui/runs/${encodeURIComponent(l.runId)}"><code>${l.runId}</code></a>` : '';
  return html`<span class="badge s-${l.outcome === 'failed' ? 'failed' : l.outcome === 'skipped' ? 'pending' : 'succeeded'}">${l.outcome}</span>${run}
<br><time class="muted" datetime="${isoTime(l.at)}">${isoTime(l.at)}</time>${l.reason ? html`<br><span class="muted">${l.reason}</span>` : ''}`;
}

/**
 * Schedules and webhooks: what starts each, paused or not, the next tick, what it last did. An
 * admin gets Pause and Resume buttons, which call POST /api/v1/triggers/{id}/pause|resume as JSON
 * (a cookie session's writes must be same-origin JSON; see checkCookieWrite in http.ts).
 *
 * Hooks: `tr[data-trigger]`, `[data-trigger-state]`, `button[data-trigger-action=pause|resume]`, `.trigger-outcome`.
 */
export function triggersTable(list: TriggerInfo[], canPause: boolean): Html {
  if (!list.length) return html`<p class="empty">No triggers. Add <code>triggers:</code> to a workflow (docs/triggers.md).</p>`;
  return html`<table class="triggers"><thead><tr><th>Trigger</th><th>Starts on</th><th>State</th><th>Last</th>${canPause ? html`<th></th>` : ''}</tr></thead><tbody>
${list.map(
  (t) => html`<tr data-trigger="${t.id}">
  <td><code>${t.id}</code><br><span class="muted">runs of ${t.workflow}, started by ${t.principal}</span></td>
  <td>${what(t)}</td>
  <td data-trigger-state="${t.id}">${
    t.paused
      ? html`<span class="badge s-needs_attention">paused</span><br><span class="muted">by ${t.pausedBy ?? '?'}</span>`
      : html`<span class="badge s-running">active</span>${t.nextTick !== undefined ? html`<br><span class="muted">next <time datetime="${isoTime(t.nextTick)}">${isoTime(t.nextTick)}</time></span>` : ''}`
  }</td>
  <td>${last(t)}</td>
  ${
    canPause
      ? html`<td><button type="button" data-trigger-action="${t.paused ? 'resume' : 'pause'}" class="${t.paused ? 'approve' : 'deny'}">${t.paused ? 'Resume' : 'Pause'}</button><div class="trigger-outcome muted"></div></td>`
      : ''
  }
</tr>`,
)}</tbody></table>`;
}

/** The buttons' side of the page: the API answers, then the page is read again. */
export const TRIGGER_SCRIPT = String.raw`
document.addEventListener('click', async (ev) => {
  const btn = ev.target instanceof Element ? ev.target.closest('button[data-trigger-action]') : null;
  if (!btn) return;
  const row = btn.closest('tr[data-trigger]');
  const out = row.querySelector('.trigger-outcome');
  btn.disabled = true;
  try {
    const res = await fetch('/api/v1/triggers/' + encodeURIComponent(row.dataset.trigger) + '/' + btn.dataset.triggerAction, {
      method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}',
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.message) || (res.status + ' ' + res.statusText));
    location.reload();
  } catch (err) {
    out.className = 'trigger-outcome error';
    out.textContent = String(err && err.message ? err.message : err);
    btn.disabled = false;
  }
});
`;
