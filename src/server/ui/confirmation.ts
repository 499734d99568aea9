import { moneyWords, quorumState, verdictWords } from '../../policy/words.ts';
import type { ConfirmationRecord } from '../../runs/records.ts';
import { type Html, age, html, isoTime, jsonText, statusBadge } from './html.ts';

/** Who decided a confirmation, on which channel and when: `by <who> (<channel>) at <time>`. */
export function decidedBy(c: ConfirmationRecord): Html {
  const channel = c.channel ? ` (${c.channel})` : '';
  return html`by ${c.decidedBy ?? 'unknown'}${channel}${c.decidedAt ? html` at ${isoTime(c.decidedAt)}` : ''}`;
}

/**
 * One paused write with everything a person needs to decide: which tool on which connector,
 * what the tool says it does, its annotations, the exact JSON it will send, the argumentsHash the
 * approval is bound to, and what it promises to return. The Approve button sends back the hash
 * rendered here, so a payload that changed since the page was drawn is refused (409), never
 * approved blind.
 *
 * Stable hooks for tests and scripts: `.confirmation[data-id][data-run][data-hash]`,
 * `pre.arguments` (the JSON), `button[data-action=approve|deny]`, `input[name=remember]`.
 */
export function confirmationCard(
  c: ConfirmationRecord,
  opts: { canDecide: boolean; now?: number; viewer?: string; actions?: Html },
): Html {
  // Remembering is for one's own session only (see Engine.approve); another token's run can only be decided once.
  const canRemember = opts.canDecide && (!c.owner || c.owner === opts.viewer);
  const a = c.annotations;
  const hints = [
    a.readOnlyHint === true
      ? html`<span class="badge">readOnlyHint</span>`
      : html`<span class="badge hint-write">write (no readOnlyHint)</span>`,
    a.destructiveHint !== undefined ? html`<span class="badge">destructiveHint: ${String(a.destructiveHint)}</span>` : '',
    a.idempotentHint !== undefined ? html`<span class="badge">idempotentHint: ${String(a.idempotentHint)}</span>` : '',
    a.openWorldHint !== undefined ? html`<span class="badge">openWorldHint: ${String(a.openWorldHint)}</span>` : '',
    c.loosened?.length
      ? html`<span class="badge hint-write loosened">loosened by tools.overrides: ${c.loosened.join(', ')} (the server does not declare ${c.loosened.length > 1 ? 'these' : 'this'})</span>`
      : '',
  ];
  const pending = c.status === 'pending';
  // A quorum is for its group's approvers, never the run's own trigger; one person cannot remember it.
  const quorum = c.policy?.kind === 'rule' ? c.policy.require : undefined;
  return html`<article class="card confirmation" id="conf-${c.id}" data-id="${c.id}" data-run="${c.runId}" data-hash="${c.argumentsHash}"
  data-connector="${c.connector}" data-tool="${c.tool}" data-status="${c.status}">
  <h3><code>${c.connector}.${c.tool}</code>${c.title ? html` — ${c.title}` : ''} ${statusBadge(c.status)}</h3>
  <div class="meta">run <a href="/ui/runs/${encodeURIComponent(c.runId)}">${c.runId}</a> · workflow <b>${c.workflow}</b> · step <b>${c.stepId}</b>
    · session <code>${c.session}</code> · asked <time datetime="${isoTime(c.createdAt)}">${age(c.createdAt, opts.now)}</time>
    · expires <time datetime="${isoTime(c.expiresAt)}">${isoTime(c.expiresAt)}</time></div>
  <dl>
    <dt>Description</dt><dd>${c.description ?? html`<span class="empty">the tool gives none</span>`}</dd>
    <dt>Annotations</dt><dd class="annotations">${hints}</dd>
    <dt>Why it asks</dt><dd>${c.reason === 'always' ? 'the workflow says confirm: always' : 'this tool is a write'}</dd>
    ${policyRows(c)}
    <dt>argumentsHash</dt><dd><code class="arguments-hash">${c.argumentsHash}</code></dd>
  </dl>
  <div class="muted">Arguments it will send (JSON)</div>
  <pre class="arguments">${jsonText(c.arguments)}</pre>
  <details${c.outputSchema ? ' open' : ''}><summary class="muted">Expected output schema</summary>
    ${c.outputSchema ? html`<pre class="output-schema">${jsonText(c.outputSchema)}</pre>` : html`<p class="empty">the tool declares no output schema</p>`}
  </details>
  ${
    pending && opts.actions
      ? opts.actions
      : pending
        ? html`<div class="actions">
      <button type="button" class="approve" data-action="approve"${opts.canDecide ? '' : ' disabled'}>Approve</button>
      <button type="button" class="deny" data-action="deny"${opts.canDecide ? '' : ' disabled'}>Deny</button>
      <label><input type="checkbox" name="remember"${canRemember && !quorum ? '' : ' disabled'}> remember for this session (<code>${c.connector}.${c.tool}</code> in session <code>${c.session}</code>)${
        opts.canDecide && !canRemember
          ? html` <span class="muted">— only <b>${c.owner}</b>, who started the run, can remember for its session</span>`
          : ''
      }</label>
      <span class="outcome" role="status"></span>
    </div>
    ${opts.canDecide ? '' : html`<p class="notice">Your token has no <code>confirm</code> scope: you can look, not decide.</p>`}`
        : html`<p class="outcome">${c.status} ${decidedBy(c)}${c.remember ? ' (remembered for the session)' : ''}</p>`
  }
</article>`;
}

/** The amount in currency, the rule that applies and, for a quorum, who approved so far. */
function policyRows(c: ConfirmationRecord): Html | string {
  const v = c.policy;
  if (!v) return '';
  const money = moneyWords(v.money);
  const q = v.kind === 'rule' ? v.require : undefined;
  return html`${money ? html`<dt>Amount</dt><dd class="money">${v.money?.text}</dd>` : ''}
    <dt>Policy</dt><dd class="policy-rule" data-rule="${v.kind === 'rule' ? v.rule : ''}">${verdictWords(v)}</dd>
    ${
      q
        ? html`<dt>Quorum</dt><dd class="quorum" data-approvals="${String(c.approvals?.length ?? 0)}" data-need="${String(q.approvers)}">${quorumState(q, c.approvals ?? [])}${
            c.owner ? html` <b>${c.owner}</b> started the run and cannot approve it.` : ''
          }</dd>`
        : ''
    }`;
}
