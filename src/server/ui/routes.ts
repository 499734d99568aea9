import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import type { ConfirmationRecord, RunRecord } from '../../runs/records.ts';
import { type Principal, hasScope, requireScope } from '../auth.ts';
import { PerPrincipalLimit } from '../limits.ts';
import type { Ctx, ServerEnv } from '../request.ts';
import type { RunQueries, ServerServices } from '../services.ts';
import { DEFAULT_MAX_STREAMS_PER_PRINCIPAL } from '../sse.ts';
import { confirmationCard } from './confirmation.ts';
import { connectorsTable } from './connectors.ts';
import { type Html, html } from './html.ts';
import { page } from './layout.ts';
import { grantsTable, planSection } from './grants.ts';
import type { HomeSnapshot, LiveFeed } from './live.ts';
import { runHeader, runTimeline } from './run.ts';
import { runRows, runsTable } from './runs.ts';
import { triggersTable } from './triggers.ts';

export const UI_PATH = '/ui';

function securityHeaders(c: Ctx, nonce: string): void {
  c.header(
    'Content-Security-Policy',
    `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
  );
  c.header('Referrer-Policy', 'no-referrer');
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Cache-Control', 'no-store');
}

function cards(list: ConfirmationRecord[], p: Principal | undefined, now = Date.now()): { id: string; html: string }[] {
  return list.map((c) => ({
    id: c.id,
    html: confirmationCard(c, { canDecide: hasScope(p, 'confirm'), now, ...(p ? { viewer: p.name } : {}) }).value,
  }));
}

function confirmationsSection(list: ConfirmationRecord[], p: Principal | undefined): Html {
  const now = Date.now();
  return html`<div id="confirmations">${list.map((c) => confirmationCard(c, { canDecide: hasScope(p, 'confirm'), now, ...(p ? { viewer: p.name } : {}) }))}</div>
<p id="no-confirmations" class="empty"${list.length ? ' hidden' : ''}>Nothing is waiting for a decision.</p>`;
}

async function runConfirmations(queries: RunQueries, run: RunRecord): Promise<Map<string, ConfirmationRecord>> {
  const ids = Object.values(run.steps)
    .map((s) => s.confirmationId)
    .filter((x): x is string => !!x);
  const recs = await Promise.all(ids.map((id) => queries.getConfirmation(id)));
  return new Map(recs.filter((c): c is ConfirmationRecord => !!c).map((c) => [c.id, c]));
}

/**
 * What a policy rule decided for a step, in the rule's words (`step.approved_by_rule`): such a
 * write has no confirmation to show it. The events are read a page at a time, at most a few.
 */
async function ruleDecisions(queries: RunQueries, run: RunRecord): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let after = '0';
  for (let page = 0; page < 4; page++) {
    const events = await queries.readEvents(run.id, after, { count: 500 });
    for (const e of events)
      if (e.type === 'step.approved_by_rule' && e.stepId && typeof e.data.message === 'string') out.set(e.stepId, e.data.message);
    if (events.length < 500) break;
    after = events[events.length - 1].id;
  }
  return out;
}

/**
 * Server-rendered pages: the runs list with pending confirmations (/ui), the confirmations
 * page, one confirmation, and a run's timeline. Reading needs `read`; the Approve and Deny
 * buttons call the API, which checks `confirm` itself. Authentication is the caller's (bearer
 * header or the session cookie set by the `?token=` exchange in http.ts).
 */
export function uiRoutes(
  queries: RunQueries,
  feed: LiveFeed,
  more: Pick<ServerServices, 'grants' | 'plans' | 'triggers' | 'catalog' | 'oauth' | 'config'>,
): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  const liveLimit = new PerPrincipalLimit(DEFAULT_MAX_STREAMS_PER_PRINCIPAL, 'live page feeds');
  const render = (c: Ctx, title: string, body: Html, live: Parameters<typeof page>[0]['live']) => {
    const nonce = randomBytes(16).toString('base64');
    securityHeaders(c, nonce);
    return c.html(page({ title, body, nonce, principal: c.get('principal'), live }).value);
  };

  r.get('/ui', async (c) => {
    const p = requireScope(c.get('principal'), 'read');
    const snap = await feed.snapshot();
    return render(
      c,
      'Runs',
      html`
${hasScope(p, 'confirm') ? '' : html`<p class="notice">Signed in as <b>${p.name}</b> without the <code>confirm</code> scope: confirmations are shown, not decidable.</p>`}
<h1>Waiting for you</h1>
${confirmationsSection(snap.confirmations, p)}
<h2>Recent runs</h2>
${runsTable(snap.runs)}`,
      { kind: 'home' },
    );
  });

  r.get('/ui/connectors', async (c) => {
    const p = requireScope(c.get('principal'), 'read');
    const status = new Map(more.catalog.pool.status().map((s) => [s.id, s.state]));
    const accounts = await more.oauth.accounts();
    const views = Object.values(more.config().connectors).map((config) => ({
      config,
      state: status.get(config.id) ?? 'idle',
      account: accounts.get(config.id),
    }));
    const admin = hasScope(p, 'admin');
    return render(
      c,
      'Connectors',
      html`<h1>Connectors</h1>
${admin ? '' : html`<p class="notice">Connecting a connector needs the <code>admin</code> scope.</p>`}
${connectorsTable(views, admin)}`,
      { kind: 'none' },
    );
  });

  r.get('/ui/confirmations', async (c) => {
    const p = requireScope(c.get('principal'), 'read');
    const { confirmations } = await queries.listConfirmations({ status: 'pending', limit: 100 });
    return render(c, 'Confirmations', html`<h1>Pending confirmations</h1>${confirmationsSection(confirmations, p)}`, {
      kind: 'home',
    });
  });

  r.get('/ui/triggers', async (c) => {
    const p = requireScope(c.get('principal'), 'read');
    const list = await more.triggers.list();
    return render(c, 'Triggers', html`<h1>Schedules and webhooks</h1>${triggersTable(list, hasScope(p, 'admin'))}`, {
      kind: 'none',
    });
  });

  r.get('/ui/confirmations/:id', async (c) => {
    const p = requireScope(c.get('principal'), 'read');
    const conf = await queries.requireConfirmation(c.req.param('id'));
    const list = conf.status === 'pending' ? [conf] : [];
    return render(
      c,
      `Confirmation ${conf.id}`,
      html`<h1>Confirmation</h1>${list.length ? confirmationsSection(list, p) : confirmationCard(conf, { canDecide: false })}`,
      { kind: 'run', runId: conf.runId },
    );
  });

  r.get('/ui/grants', async (c) => {
    const p = requireScope(c.get('principal'), 'read');
    const grants = await more.grants.list({ all: c.req.query('all') === 'true' });
    return render(
      c,
      'Grants',
      html`<h1>Remembered decisions</h1>
<p class="muted">Each lets writes through without asking, only within what it covers. <a href="/ui/grants?all=true">Show revoked, expired and used-up ones too</a>.</p>
${grantsTable(grants, { canRevoke: hasScope(p, 'confirm') || hasScope(p, 'admin') })}`,
      { kind: 'none' },
    );
  });

  r.get('/ui/runs/:id', async (c) => {
    const p = requireScope(c.get('principal'), 'read');
    const run = await queries.requireRun(c.req.param('id'));
    const confs = await runConfirmations(queries, run);
    const pending = [...confs.values()].filter((x) => x.status === 'pending');
    // The plan is worth showing while writes wait, or once one was approved.
    const plan =
      run.status === 'awaiting_confirmation' || run.plan ? await more.plans.current(run.id).catch(() => undefined) : undefined;
    return render(
      c,
      `Run ${run.id}`,
      html`<div id="run-header">${runHeader(run)}</div>
${confirmationsSection(pending, p)}
${plan ? planSection(run.id, plan, { canApprove: hasScope(p, 'confirm') }) : ''}
<h2>Timeline</h2><div id="timeline">${runTimeline(run, confs, await ruleDecisions(queries, run))}</div>`,
      { kind: 'run', runId: run.id },
    );
  });

  r.get('/ui/runs/:id/fragment', async (c) => {
    const p = requireScope(c.get('principal'), 'read');
    const run = await queries.requireRun(c.req.param('id'));
    const confs = await runConfirmations(queries, run);
    c.header('Cache-Control', 'no-store');
    return c.json({
      header: runHeader(run).value,
      timeline: runTimeline(run, confs, await ruleDecisions(queries, run)).value,
      confirmations: cards(
        [...confs.values()].filter((x) => x.status === 'pending'),
        p,
      ),
    });
  });

  r.get('/ui/live', (c) => {
    const p = requireScope(c.get('principal'), 'read');
    const release = liveLimit.take(p.name);
    const enc = new TextEncoder();
    let unsubscribe = (): void => {};
    let heartbeat: NodeJS.Timeout | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        const send = (s: string) => {
          try {
            controller.enqueue(enc.encode(s));
          } catch {
            // The tab went away and its stream closed under us: stop feeding it.
            unsubscribe();
          }
        };
        const push = (snap: HomeSnapshot) =>
          send(`data: ${JSON.stringify({ runs: runRows(snap.runs).value, confirmations: cards(snap.confirmations, p) })}\n\n`);
        const unsub = feed.subscribe(push);
        unsubscribe = () => {
          unsub();
          release();
        };
        heartbeat = setInterval(() => send(': keep-alive\n\n'), 15_000);
        heartbeat.unref();
        c.req.raw.signal.addEventListener(
          'abort',
          () => {
            unsubscribe();
            clearInterval(heartbeat);
            try {
              controller.close();
            } catch {
              // already closed
            }
          },
          { once: true },
        );
        send('retry: 2000\n\n');
      },
      cancel: () => {
        unsubscribe();
        clearInterval(heartbeat);
      },
    });
    return new Response(body, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
    });
  });

  return r;
}
