/**
 * The one inline script of the pages (allowed by the CSP nonce). It decides confirmations with
 * fetch (the session cookie authenticates; SameSite=Strict and the Origin check stop other
 * sites), and keeps the page current: list pages follow GET /ui/live, a run page follows the
 * run's own event stream and re-reads its server-rendered fragment. Markup it inserts comes from
 * the server, already escaped; text it makes up itself (outcomes, errors) goes in as textContent.
 */
import { RESOLVE_SCRIPT } from './resolve.ts';
import { TRIGGER_SCRIPT } from './triggers.ts';

export const CLIENT_SCRIPT =
  String.raw`(() => {
  'use strict';
  const body = document.body;

  function syncCards(list) {
    const box = document.getElementById('confirmations');
    if (!box) return;
    const want = new Set(list.map((x) => x.id));
    for (const el of box.querySelectorAll('.confirmation')) {
      // A card being decided or decided in this tab keeps showing its outcome; others leave
      // once no longer pending (the live update can arrive before the POST's answer does).
      if (!want.has(el.dataset.id) && !el.dataset.decided && !el.dataset.deciding) el.remove();
    }
    for (const x of list) {
      if (!document.getElementById('conf-' + x.id)) box.insertAdjacentHTML('beforeend', x.html);
    }
    const empty = document.getElementById('no-confirmations');
    if (empty) empty.hidden = box.querySelectorAll('.confirmation').length > 0;
  }

  // Revoking a grant and approving a plan: one request each, the answer's words shown in place.
  document.addEventListener('click', async (ev) => {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-revoke], button[data-plan-approve]') : null;
    if (!btn) return;
    const out = btn.parentElement.querySelector('.outcome');
    btn.disabled = true;
    try {
      const revoke = btn.dataset.revoke;
      const res = revoke
        ? await fetch('/api/v1/grants/' + encodeURIComponent(revoke), {
            method: 'DELETE', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}',
          })
        : await fetch('/api/v1/runs/' + encodeURIComponent(btn.dataset.run) + '/plan/approve', {
            method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ planHash: btn.dataset.planApprove }),
          });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error((data.error && data.error.message) || (res.status + ' ' + res.statusText));
      out.className = 'outcome';
      out.textContent = revoke ? 'Revoked: ' + data.words : 'Plan approved: its writes run without asking while they match it.';
    } catch (err) {
      out.className = 'outcome error';
      out.textContent = String(err && err.message ? err.message : err);
      btn.disabled = false;
    }
  });

  // Connect on the connectors page: the API starts the login, the browser follows its URL to the
  // authorization server, which sends it back to /oauth/callback.
  document.addEventListener('click', async (ev) => {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-connect]') : null;
    if (!btn) return;
    const out = btn.parentElement.querySelector('.outcome');
    btn.disabled = true;
    out.textContent = 'Starting the login…';
    try {
      const res = await fetch('/api/v1/connectors/' + encodeURIComponent(btn.dataset.connect) + '/login', {
        method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}',
      });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error((data.error && data.error.message) || (res.status + ' ' + res.statusText));
      if (data.authorizationUrl) { window.location.assign(data.authorizationUrl); return; }
      out.textContent = 'Connected.';
    } catch (err) {
      out.className = 'outcome error';
      out.textContent = String(err.message || err);
      btn.disabled = false;
    }
  });

  document.addEventListener('click', async (ev) => {
    const btn = ev.target instanceof Element ? ev.target.closest('button[data-action]') : null;
    if (!btn) return;
    const card = btn.closest('.confirmation');
    const out = card.querySelector('.outcome');
    const action = btn.dataset.action;
    const box = card.querySelector('input[name=remember]');
    const remember = !!(box && box.checked);
    const payload = action === 'approve' ? { argumentsHash: card.dataset.hash } : {};
    if (remember) {
      const scope = card.querySelector('input[name=scope]:checked');
      const r = { scope: scope ? scope.value : 'payload' };
      if (r.scope === 'arguments') r.fields = [...card.querySelectorAll('input[name=field]:checked')].map((f) => f.value);
      const ttl = card.querySelector('select[name=ttl]');
      if (ttl && ttl.value) r.ttl = ttl.value;
      const uses = card.querySelector('input[name=uses]');
      if (uses && uses.value) r.uses = Number(uses.value);
      payload.remember = r;
    }
    const controls = card.querySelectorAll('button, input');
    controls.forEach((b) => { b.disabled = true; });
    card.dataset.deciding = action;
    out.className = 'outcome';
    out.textContent = action === 'approve' ? 'Approving…' : 'Denying…';
    try {
      const res = await fetch('/api/v1/confirmations/' + encodeURIComponent(card.dataset.id) + '/' + action, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload),
      });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error((data.error && data.error.message) || (res.status + ' ' + res.statusText));
      card.dataset.decided = action;
      card.dataset.status = data.status;
      const badge = card.querySelector('h3 .badge');
      if (badge && typeof data.status === 'string') {
        badge.textContent = data.status;
        badge.className = 'badge s-' + data.status;
      }
      // One approval toward a quorum leaves the write pending: say how many are still needed.
      const quorum = data.policy && data.policy.require;
      if (action === 'approve' && data.status === 'pending' && quorum) {
        const n = (data.approvals || []).length;
        out.textContent = 'Approval recorded: ' + n + ' of ' + quorum.approvers + ' from group "' + quorum.group + '"; the write waits for the rest.';
        const q = card.querySelector('.quorum');
        if (q) q.textContent = n + ' of ' + quorum.approvers + ' approvals so far (' + (data.approvals || []).map((a) => a.by).join(', ') + ').';
      } else {
        out.textContent = (action === 'approve' ? 'Approved' : 'Denied') + (data.grantMade ? ' and remembered as grant ' + data.grantMade : '') +
          (action === 'approve' ? ': the run continues.' : ': the tool was not called.');
      }
    } catch (err) {
      out.className = 'outcome error';
      out.textContent = String(err && err.message ? err.message : err);
      controls.forEach((b) => { b.disabled = false; });
    } finally {
      delete card.dataset.deciding;
    }
  });

  if (body.dataset.live === 'home') {
    const es = new EventSource('/ui/live');
    es.onmessage = (m) => {
      const d = JSON.parse(m.data);
      const rows = document.getElementById('run-rows');
      if (rows && typeof d.runs === 'string') rows.innerHTML = d.runs;
      if (Array.isArray(d.confirmations)) syncCards(d.confirmations);
    };
  }

  if (body.dataset.live === 'run') {
    const id = body.dataset.run;
    let busy = false;
    let again = false;
    let lastTimeline = document.getElementById('timeline').innerHTML;
    const refresh = async () => {
      if (busy) { again = true; return; }
      busy = true;
      try {
        const r = await fetch('/ui/runs/' + encodeURIComponent(id) + '/fragment', { credentials: 'same-origin' });
        if (r.ok) {
          const d = await r.json();
          document.getElementById('run-header').innerHTML = d.header;
          const timeline = document.getElementById('timeline');
          // Redraw only what changed, and keep what a person is typing into a resolve panel
          // (the output of a step in doubt) when the timeline is redrawn under them.
          if (d.timeline !== lastTimeline) {
            const typed = new Map();
            for (const t of timeline.querySelectorAll('.resolve textarea')) {
              const box = t.closest('.resolve');
              typed.set(box.dataset.run + '/' + box.dataset.step + '/' + t.name, {
                value: t.value, focused: document.activeElement === t, from: t.selectionStart, to: t.selectionEnd, dir: t.selectionDirection,
              });
            }
            timeline.innerHTML = d.timeline;
            lastTimeline = d.timeline;
            for (const t of timeline.querySelectorAll('.resolve textarea')) {
              const box = t.closest('.resolve');
              const kept = typed.get(box.dataset.run + '/' + box.dataset.step + '/' + t.name);
              if (!kept) continue;
              t.value = kept.value;
              // The caret and selection go back where they were: focus() alone puts the caret at the
              // start, and the next keystroke would land in front of what was typed.
              if (kept.focused) {
                t.focus();
                t.setSelectionRange(kept.from, kept.to, kept.dir);
              }
            }
          }
          syncCards(d.confirmations);
        }
      } finally {
        busy = false;
        if (again) { again = false; void refresh(); }
      }
    };
    const es = new EventSource('/api/v1/runs/' + encodeURIComponent(id) + '/events');
    es.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.type === 'stream.end') es.close();
      void refresh();
    };
  }
})();` +
  RESOLVE_SCRIPT +
  TRIGGER_SCRIPT;
