import { type Html, html } from './html.ts';

/**
 * Shown on a step in doubt: the operator checks the other system, then sends the write again,
 * records it as done with the output they found, or fails the run. The buttons call
 * POST /api/v1/runs/{id}/steps/{step}/resolve, which checks the scope itself.
 *
 * Hooks: `.resolve[data-run][data-step]`, `button[data-resolve=retry|done|fail]`,
 * `textarea[name=output]`, `.resolve-outcome`.
 */
export function resolvePanel(runId: string, stepId: string): Html {
  return html`<div class="resolve" data-run="${runId}" data-step="${stepId}">
  <p class="notice">Nobody knows whether this write reached the server. Check there, then choose:</p>
  <button type="button" data-resolve="retry">Send it again (same idempotency key)</button>
  <button type="button" data-resolve="fail">It did not happen: fail the run</button>
  <label>It happened; its output as JSON <textarea name="output" rows="3">{}</textarea></label>
  <button type="button" data-resolve="done">Mark done with this output</button>
  <span class="resolve-outcome" role="status"></span>
</div>`;
}

/** Appended to the pages' one inline script; answers come back as text, never markup. */
export const RESOLVE_SCRIPT = String.raw`
(() => {
  'use strict';
  document.addEventListener('click', async (ev) => {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-resolve]') : null;
    if (!btn) return;
    const box = btn.closest('.resolve');
    const out = box.querySelector('.resolve-outcome');
    const action = btn.dataset.resolve;
    const payload = { action };
    if (action === 'done') {
      try {
        payload.output = JSON.parse(box.querySelector('textarea[name=output]').value);
      } catch (err) {
        out.className = 'resolve-outcome error';
        out.textContent = 'The output is not JSON: ' + err.message;
        return;
      }
    }
    const controls = box.querySelectorAll('button, textarea');
    controls.forEach((b) => { b.disabled = true; });
    out.className = 'resolve-outcome';
    out.textContent = 'Resolving…';
    try {
      const res = await fetch('/api/v1/runs/' + encodeURIComponent(box.dataset.run) + '/steps/' + encodeURIComponent(box.dataset.step) + '/resolve', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload),
      });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error((data.error && data.error.message) || (res.status + ' ' + res.statusText));
      out.textContent = 'Resolved (' + action + '): the run is ' + data.status + '.';
    } catch (err) {
      out.className = 'resolve-outcome error';
      out.textContent = String(err && err.message ? err.message : err);
      controls.forEach((b) => { b.disabled = false; });
    }
  });
})();`;
