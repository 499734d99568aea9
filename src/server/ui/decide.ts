import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import type { Engine } from '../../engine/engine.ts';
import { InterlockError } from '../../errors.ts';
import type { DecideLinks } from '../../runs/decide-links.ts';
import { type PlanState, planGateLines, planWorthShowing } from '../../plans/words.ts';
import type { ConfirmationRecord } from '../../runs/records.ts';
import type { Ctx, ServerEnv } from '../request.ts';
import { confirmationCard } from './confirmation.ts';
import { type Html, html } from './html.ts';
import { messagePage } from './layout.ts';

export const DECIDE_PATH = '/ui/decide';

export interface DecidePageDeps {
  links: Pick<DecideLinks, 'peek' | 'take'>;
  confirmations: { getConfirmation(cid: string): Promise<ConfirmationRecord | undefined> };
  decisions: Pick<Engine, 'approve' | 'deny'>;
  /** the run's plan, shown below the write (engine/plans.ts); absent: the page shows the write alone */
  plans?: { current(runId: string): Promise<PlanState> };
}

/** The writes the run will make after this one, in the words every front end uses (plans/words.ts). */
async function planPart(d: DecidePageDeps, conf: ConfirmationRecord): Promise<Html | string> {
  const plan = d.plans ? await d.plans.current(conf.runId).catch(() => undefined) : undefined;
  if (!plan || !planWorthShowing(plan)) return '';
  return html`<section class="plan" data-plan-hash="${plan.plan.planHash}"><h2>The run's plan</h2>
<pre class="plan-words">${planGateLines(plan, { runId: conf.runId }).join('\n')}</pre></section>`;
}

export function decideUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${DECIDE_PATH}/${token}`;
}

function headers(c: Ctx, nonce: string): void {
  c.header(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'nonce-${nonce}'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
  );
  // The token is in the path: no Referer may carry it to another site, and no cache may keep it.
  // (same-origin, not no-referrer: under no-referrer a browser sends the form's POST with
  // `Origin: null`, which the origin guard rightly refuses.)
  c.header('Referrer-Policy', 'same-origin');
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Cache-Control', 'no-store');
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
pre{background:#f4f6fa;padding:.75rem;overflow:auto;border-radius:6px}dt{font-weight:600}.badge{border:1px solid #ccd;border-radius:4px;padding:0 .3rem;margin-right:.3rem;font-size:.85em}
.actions button{font-size:1rem;padding:.4rem 1.2rem;margin-right:.6rem}.approve{background:#1b7f3b;color:#fff;border:0}pre.plan-words{white-space:pre-wrap}.deny{background:#b42318;color:#fff;border:0}.muted{color:#667}`;

function render(c: Ctx, title: string, body: Html, status: 200 | 409 | 410 = 200) {
  const nonce = randomBytes(16).toString('base64');
  headers(c, nonce);
  return c.html(
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Interlock</title><link rel="icon" href="data:,"><style nonce="${nonce}">${STYLE}</style></head><body>${body}</body></html>`
      .value,
    status,
  );
}

const gone = (c: Ctx) => {
  headers(c, 'none');
  return c.html(
    messagePage(
      'This link cannot decide anything',
      'It was used already, it expired, or it was never valid. Nothing was decided by opening it. Ask again from your MCP client, or decide on the Interlock pages.',
    ).value,
    410,
  );
};

/**
 * The page an MCP client sends a person to (URL-mode elicitation): the write rendered in full, and
 * a plain form (no script) that approves exactly the hash shown or denies. The link decides one
 * confirmation once, as the identity it was minted for; opening it decides nothing.
 */
export function decideRoutes(d: DecidePageDeps): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  r.get(`${DECIDE_PATH}/:token`, async (c) => {
    const link = await d.links.peek(c.req.param('token'));
    const conf = link && (await d.confirmations.getConfirmation(link.confirmationId));
    if (!link || !conf) return gone(c);
    const actions = html`<form class="actions" method="post">
  <input type="hidden" name="argumentsHash" value="${conf.argumentsHash}">
  <p>You decide as <b>${link.by}</b>. Approve calls the tool once with exactly the JSON above.</p>
  <button type="submit" class="approve" name="decision" value="approve" data-action="approve">Approve</button>
  <button type="submit" class="deny" name="decision" value="deny" data-action="deny">Deny</button>
  ${link.mayRemember ? html`<label><input type="checkbox" name="remember" value="session"> remember for this conversation</label>` : ''}
</form>`;
    return render(
      c,
      `Approve ${conf.connector}.${conf.tool}?`,
      html`<h1>Approve a write?</h1>${confirmationCard(conf, { canDecide: true, viewer: link.by, actions })}${await planPart(d, conf)}`,
    );
  });

  r.post(`${DECIDE_PATH}/:token`, async (c) => {
    const form = await c.req.parseBody();
    const decision = form.decision;
    if (decision !== 'approve' && decision !== 'deny')
      throw new InterlockError('BAD_REQUEST', 'decision must be approve or deny');
    const link = await d.links.take(c.req.param('token'));
    if (!link) return gone(c);
    const opts = {
      by: link.by,
      channel: link.channel,
      ...(link.mayRemember && form.remember === 'session' ? { remember: 'session' as const } : {}),
    };
    try {
      const conf =
        decision === 'approve'
          ? await d.decisions.approve(link.confirmationId, typeof form.argumentsHash === 'string' ? form.argumentsHash : '', opts)
          : await d.decisions.deny(link.confirmationId, opts);
      return render(
        c,
        `${conf.status}`,
        html`<h1 class="outcome" data-status="${conf.status}">${conf.status === 'approved' ? 'Approved' : 'Denied'}</h1>
<p><code>${conf.connector}.${conf.tool}</code> was ${conf.status} by <b>${link.by}</b>. You can close this page; your MCP client has been told.</p>`,
      );
    } catch (err) {
      if (!(err instanceof InterlockError)) throw err;
      return render(
        c,
        'Not decided',
        html`<h1 class="outcome" data-status="refused">Nothing was decided</h1><p>${err.message}</p>`,
        409,
      );
    }
  });
  return r;
}
