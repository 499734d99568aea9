/**
 * Issue 14's property: over every HTTP route and every MCP facade tool, with each of the four
 * token kinds (ops: every scope; chat: read + trigger; viewer: read; approver: read + confirm),
 * in a random order, no write reaches Slack unless a principal with `confirm` decided it (or a
 * grant such a principal made, for runs of that session's owner), and every decision names the
 * principal and the channel. The Slack sandbox is the witness of what was sent.
 */
import { describe, expect } from 'vitest';
import { openApiDocument } from '../../src/server/openapi.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { type TestClient, approve, connectClient } from '../server/mcp/helpers.ts';
import { CONFIRMERS, TOKENS, type TokenName, attackTest, cookieFrom, raw } from './approver-fixture.ts';

const KINDS: TokenName[] = ['ops', 'chat', 'viewer', 'approver'];

/** mulberry32: a seeded generator, so a failure replays with the seed it prints. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** an MCP client for each token kind, approving every elicitation it is shown */
const it = attackTest.extend<{ clients: Map<TokenName, TestClient> }>({
  clients: [
    async ({ attack }, use) => {
      const clients = new Map<TokenName, TestClient>();
      try {
        for (const k of KINDS)
          clients.set(k, await connectClient(`${attack.url}/mcp`, { token: TOKENS[k], elicit: approve(true) }));
        await use(clients);
      } finally {
        for (const c of clients.values()) await c.close().catch(() => {});
      }
    },
    { scope: 'file' },
  ],
});

describe('no write without an approver, over every route and tool (issue 14)', () => {
  it('holds for a random mix of every route and tool with every token kind', async ({ attack, clients }) => {
    const seed = Number(process.env.PROPERTY_SEED ?? Date.now() % 100_000);
    console.log(`approver property seed ${seed} (PROPERTY_SEED=${seed} replays it)`);
    const rand = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const runs: RunRecord[] = [];
    const statuses: number[] = [];
    let n = 0;
    const text = () => `msg-${seed}-${n++}`;
    const cookies = new Map<TokenName, string>();
    for (const k of KINDS) cookies.set(k, cookieFrom(await raw(`${attack.url}/ui?token=${TOKENS[k]}`)));
    const pending = async () => (await attack.app.store.listConfirmations({ status: 'pending', limit: 100 })).confirmations;

    // Something to act on: a few runs of each token that may trigger, paused at the gate.
    for (const k of ['chat', 'ops'] as const) for (let i = 0; i < 3; i++) runs.push(await attack.trigger(k, text()));
    for (const r of runs) await attack.pendingOf(r.id);

    /** One request to an OpenAPI route with the parameters and body it takes, as `token` (bearer) or, now and then, its cookie. */
    const callRoute = async (method: string, path: string, token: TokenName): Promise<void> => {
      const confs = await pending();
      const conf = confs.length ? pick(confs) : undefined;
      const run = pick(runs);
      const id = path.includes('/confirmations/') ? (conf?.id ?? 'c_rnone_1') : path.includes('/connectors/') ? 'slack' : run.id;
      const url = path
        .replace('{name}', 'notify')
        .replace('{id}', id)
        .replace('{stepId}', 'post')
        .replace('{tool}', 'post_message');
      const bodies: Record<string, unknown> = {
        runs: { inputs: { text: text() }, ...(rand() < 0.6 ? { session: pick(runs).session } : {}) },
        approve: path.includes('/confirmations/')
          ? { argumentsHash: conf?.argumentsHash ?? 'x', ...(rand() < 0.6 ? { remember: 'session' } : {}) }
          : { hash: 'x' },
        deny: rand() < 0.3 ? { remember: 'session' } : {},
        resolve: { action: pick(['retry', 'fail']) },
        tools: { enabled: true },
      };
      const last = url.split('/').pop() ?? '';
      const json = method === 'get' ? undefined : (bodies[last] ?? (method === 'patch' ? bodies.tools : {}));
      const viaCookie = method !== 'get' && rand() < 0.3;
      const headers: Record<string, string> = viaCookie
        ? {
            cookie: cookies.get(token) ?? '',
            origin: pick([attack.url, `http://localhost:${Number(new URL(attack.url).port) + 1}`]),
            'content-type': pick(['application/json', 'text/plain']),
          }
        : { authorization: `Bearer ${TOKENS[token]}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) };
      if (last === 'events') {
        const ac = new AbortController();
        const res = await fetch(`${attack.url}${url}`, {
          headers: { authorization: `Bearer ${TOKENS[token]}` },
          signal: ac.signal,
        });
        statuses.push(res.status);
        ac.abort();
        return;
      }
      const res = await raw(`${attack.url}${url}`, {
        method: method.toUpperCase(),
        headers,
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
      });
      statuses.push(res.status);
      if (last === 'runs' && method === 'post' && res.status === 202) runs.push(JSON.parse(res.body) as RunRecord);
    };

    const callTool = async (token: TokenName): Promise<void> => {
      const c = clients.get(token) as TestClient;
      const tool = pick(['run_workflow', 'notify', 'get_run', 'list_workflows']);
      const args =
        tool === 'run_workflow'
          ? {
              workflow: 'notify',
              inputs: { text: text() },
              ...(rand() < 0.5 ? { session: pick(['a', 'b', pick(runs).session.replace(/[^A-Za-z0-9_.-]/g, '')]) } : {}),
            }
          : tool === 'notify'
            ? { text: text() }
            : tool === 'get_run'
              ? { runId: pick(runs).id }
              : {};
      const { result } = await c.call(tool, args);
      const view = result.structuredContent as { runId?: string } | undefined;
      if (view?.runId && (tool === 'run_workflow' || tool === 'notify')) runs.push(await attack.app.store.requireRun(view.runId));
    };

    // Every route and every tool with every token kind, then a random mix of them all.
    const routes = Object.entries(openApiDocument(attack.url).paths as Record<string, Record<string, unknown>>).flatMap(
      ([p, ops]) => Object.keys(ops).map((m) => [m, p] as const),
    );
    for (const k of KINDS) {
      for (const [m, p] of routes) await callRoute(m, p, k);
      for (let i = 0; i < 4; i++) await callTool(k);
    }
    for (let i = 0; i < 120; i++) {
      const k = pick(KINDS);
      if (rand() < 0.7) {
        const [m, p] = pick(routes.filter(([m2]) => m2 !== 'get' || rand() < 0.2));
        await callRoute(m, p, k);
      } else await callTool(k);
    }
    expect(statuses.filter((s) => s >= 500)).toEqual([]);

    // Settle: nothing may be on its way to Slack when the witness is read.
    const settled = await Promise.all(
      runs.map((r) =>
        attack.waitRun(r.id, ['awaiting_confirmation', 'succeeded', 'failed', 'denied', 'cancelled', 'needs_attention']),
      ),
    );
    const posted = attack.posted();
    const sent = settled.filter((r) => r.steps.post.status === 'succeeded');
    expect(sent.length).toBeGreaterThan(0);
    // Every message came from a run of ours, and each run that sent one sent exactly one.
    expect(posted.slice().sort()).toEqual(sent.map((r) => r.inputs.text as string).sort());

    const audit: string[] = [];
    for (const r of sent) {
      const cid = r.steps.post.confirmationId;
      const conf = cid ? await attack.app.store.getConfirmation(cid) : undefined;
      const events = await attack.app.store.readEvents(r.id);
      const remembered = events.find((e) => e.type === 'confirmation.remembered');
      if (conf?.status === 'approved' && r.steps.post.approvedHash === conf.argumentsHash) {
        expect(CONFIRMERS.has(conf.decidedBy ?? ''), `run ${r.id} approved by ${conf.decidedBy}`).toBe(true);
        expect(['api', 'ui', 'mcp-elicitation']).toContain(conf.channel);
        audit.push(`${conf.decidedBy}/${conf.channel}`);
      } else {
        expect(remembered, `run ${r.id} sent without an approval or a grant`).toBeDefined();
        const by = String(remembered?.data.grantedBy);
        expect(CONFIRMERS.has(by), `run ${r.id} sent on a grant by ${by}`).toBe(true);
        // The grant lives in the run's own session and was made for runs of the run's owner.
        const grant = await attack.app.store.getGrant(r.session, 'slack', 'post_message', r.owner);
        expect(grant, `run ${r.id}: no grant of its owner ${r.owner} in ${r.session}`).toMatchObject({
          decision: 'approve',
          owner: r.owner,
          by: r.owner,
        });
        expect(CONFIRMERS.has(grant?.by ?? '')).toBe(true);
        audit.push(`grant:${by}`);
      }
    }
    // Every decision of any kind names who made it and where.
    for (const c of (await attack.app.store.listConfirmations({ limit: 500 })).confirmations) {
      if (c.status === 'approved' || c.status === 'denied') {
        expect(CONFIRMERS.has(c.decidedBy ?? ''), `${c.id} ${c.status} by ${c.decidedBy}`).toBe(true);
        expect(c.channel).toBeDefined();
      }
    }
    console.log(
      `approver property: ${statuses.length} requests, ${runs.length} runs, ${sent.length} sent (${[...new Set(audit)].join(', ')})`,
    );
  }, 240_000);
});
