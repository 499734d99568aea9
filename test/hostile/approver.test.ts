/**
 * Issue 14's reproductions, each against a real `interlock serve`, a real Redis and the Slack
 * connector posting to the Slack sandbox: the sandbox's messages say what was really sent.
 */
import { describe, expect } from 'vitest';
import type { ConfirmationRecord, RunRecord } from '../../src/runs/records.ts';
import { approve, connectClient } from '../server/mcp/helpers.ts';
import { TOKENS, attackTest, cookieFrom, raw } from './approver-fixture.ts';

/** ops' cookie session, and a chat run paused at its gate for the CSRF attempts to aim at. */
interface CsrfTarget {
  cookie: string;
  run: RunRecord;
  conf: ConfirmationRecord;
}

const it = attackTest.extend<{ target: CsrfTarget }>({
  target: [
    async ({ attack }, use) => {
      const cookie = cookieFrom(await raw(`${attack.url}/ui?token=${TOKENS.ops}`));
      const run = await attack.trigger('chat', 'csrf target');
      await use({ cookie, run, conf: await attack.pendingOf(run.id) });
    },
    { scope: 'file' },
  ],
});

describe('only an approver approves (issue 14)', () => {
  it("a grant cannot be borrowed: a session id of another principal's run is only a label for the chat token", async ({
    attack,
  }) => {
    // Ops runs R and approves its post with "remember for this session".
    const r = await attack.trigger('ops', 'R by ops');
    const conf = await attack.pendingOf(r.id);
    const ok = await attack.api(`/api/v1/confirmations/${conf.id}/approve`, {
      method: 'POST',
      token: 'ops',
      json: { argumentsHash: conf.argumentsHash, remember: { scope: 'arguments', fields: ['channel'] } },
    });
    expect(ok.status).toBe(200);
    await attack.waitRun(r.id, ['succeeded']);
    expect(attack.posted()).toContain('R by ops');

    // The chat token names R's session, which it can read: the run gets its own session and waits.
    const borrowed = await attack.trigger('chat', 'borrowed post', r.session);
    await attack.waitRun(borrowed.id, ['awaiting_confirmation', 'succeeded']);
    expect(attack.posted()).not.toContain('borrowed post');
    expect((await attack.app.store.requireRun(borrowed.id)).status).toBe('awaiting_confirmation');
    expect(borrowed).toMatchObject({ owner: 'chat', label: r.session, session: `run-${borrowed.id}` });

    // Even the grant's own Redis key, reached under its session, is ops' and not chat's.
    expect(await attack.app.store.getGrant(r.session, 'slack', 'post_message', 'chat')).toBeUndefined();
    expect(await attack.app.store.getGrant(r.session, 'slack', 'post_message', 'ops')).toMatchObject({
      decision: 'approve',
      by: 'ops',
      owner: 'ops',
      channel: 'api',
    });

    // Ops itself continues its session: the grant covers it, and the audit names who granted.
    const again = await attack.trigger('ops', 'ops again', r.session);
    expect(again.session).toBe(r.session);
    await attack.waitRun(again.id, ['succeeded']);
    expect(attack.posted()).toContain('ops again');
    const events = await attack.app.store.readEvents(again.id);
    expect(events.find((e) => e.type === 'confirmation.remembered')?.data).toMatchObject({ grantedBy: 'ops', channel: 'api' });
    await attack.api(`/api/v1/runs/${borrowed.id}/cancel`, { method: 'POST', token: 'ops', json: {} });
  });

  it("an approver decides a chat run once: remembering for the chat token's session is refused, so the next chat write asks again", async ({
    attack,
  }) => {
    const first = await attack.trigger('chat', 'chat first');
    const conf = await attack.pendingOf(first.id);
    const remembered = await attack.api(`/api/v1/confirmations/${conf.id}/approve`, {
      method: 'POST',
      token: 'approver',
      json: { argumentsHash: conf.argumentsHash, remember: 'session' },
    });
    expect(remembered.status).toBe(403);
    expect(JSON.parse(remembered.body).error.message).toContain("Only 'chat', who started run");
    expect((await attack.app.store.requireConfirmation(conf.id)).status).toBe('pending');
    const once = await attack.api(`/api/v1/confirmations/${conf.id}/approve`, {
      method: 'POST',
      token: 'approver',
      json: { argumentsHash: conf.argumentsHash },
    });
    expect(JSON.parse(once.body)).toMatchObject({ status: 'approved', decidedBy: 'approver', channel: 'api', owner: 'chat' });
    await attack.waitRun(first.id, ['succeeded']);
    expect(attack.posted()).toContain('chat first');

    const second = await attack.trigger('chat', 'chat second', first.session);
    expect(second.session).toBe(first.session);
    await attack.waitRun(second.id, ['awaiting_confirmation', 'succeeded']);
    expect(attack.posted()).not.toContain('chat second');
    // ops naming the chat token's session gets a session of its own.
    const other = await attack.trigger('ops', 'ops in chat session', first.session);
    expect(other).toMatchObject({ session: `run-${other.id}`, label: first.session });
    await attack.waitRun(other.id, ['awaiting_confirmation', 'succeeded']);
    expect(attack.posted()).not.toContain('ops in chat session');
    for (const r of [second, other]) await attack.api(`/api/v1/runs/${r.id}/cancel`, { method: 'POST', token: 'ops', json: {} });
  });

  it('MCP elicitation approves nothing for a token without confirm: the answer is the pending write and where to approve it', async ({
    attack,
  }) => {
    const c = await connectClient(`${attack.url}/mcp`, { token: TOKENS.chat, elicit: approve(true) });
    try {
      const { view } = await c.call('notify', { text: 'elicited by chat' });
      expect(attack.posted()).not.toContain('elicited by chat');
      expect(c.asked).toHaveLength(0);
      expect(view.status).toBe('awaiting_confirmation');
      expect(view.confirmation).toMatchObject({
        connector: 'slack',
        tool: 'post_message',
        arguments: { channel: '#billing', text: 'elicited by chat' },
      });
      expect(view.confirmation?.approveUrl).toContain(`/ui/confirmations/${view.confirmation?.id}`);
      expect(view.next).toContain("lacks the 'confirm' scope");
      expect(attack.posted()).not.toContain('elicited by chat');
      // An approver decides; the record names them and the channel.
      const res = await attack.api(`/api/v1/confirmations/${view.confirmation?.id}/approve`, {
        method: 'POST',
        token: 'approver',
        json: { argumentsHash: view.confirmation?.argumentsHash },
      });
      expect(JSON.parse(res.body)).toMatchObject({ status: 'approved', decidedBy: 'approver', channel: 'api' });
      await attack.waitRun(view.runId, ['succeeded']);
      expect(attack.posted()).toContain('elicited by chat');
    } finally {
      await c.close();
    }
  });

  it('MCP elicitation by a token with confirm decides, recorded as that token and the mcp-elicitation channel', async ({
    attack,
  }) => {
    const c = await connectClient(`${attack.url}/mcp`, { token: TOKENS.ops, elicit: approve(false) });
    try {
      const { view } = await c.call('notify', { text: 'elicited by ops' });
      expect(c.asked).toHaveLength(1);
      expect(view.status).toBe('succeeded');
      const run = await attack.app.store.requireRun(view.runId);
      const conf = await attack.app.store.requireConfirmation(run.steps.post.confirmationId ?? '');
      expect(conf).toMatchObject({ decidedBy: 'ops', channel: 'mcp-elicitation', owner: 'ops' });
      expect(attack.posted()).toContain('elicited by ops');
    } finally {
      await c.close();
    }
  });

  describe('CSRF on cookie sessions', () => {
    it('a page on another loopback port cannot deny with an empty no-cors POST, nor cancel with a text/plain form', async ({
      attack,
      target,
    }) => {
      const { cookie, run, conf } = target;
      const port = Number(new URL(attack.url).port);
      const foreign = `http://localhost:${port + 1}`;
      const deny = await raw(`${attack.url}/api/v1/confirmations/${conf.id}/deny`, {
        method: 'POST',
        headers: { cookie, origin: foreign, 'sec-fetch-site': 'same-site' },
      });
      expect(deny.status).toBe(403);
      const cancel = await raw(`${attack.url}/api/v1/runs/${run.id}/cancel`, {
        method: 'POST',
        body: 'x=1',
        headers: { cookie, origin: foreign, 'content-type': 'text/plain' },
      });
      expect(cancel.status).toBe(403);
      // Same origin but no JSON (a same-origin form or an empty body) is refused too.
      const plain = await raw(`${attack.url}/api/v1/runs/${run.id}/cancel`, {
        method: 'POST',
        body: '',
        headers: { cookie, origin: attack.url },
      });
      expect(plain.status).toBe(403);
      expect((await attack.app.store.requireConfirmation(conf.id)).status).toBe('pending');
      expect((await attack.app.store.requireRun(run.id)).status).toBe('awaiting_confirmation');
    });

    it('the page itself (exact origin or Sec-Fetch-Site: same-origin, JSON) may decide; bearer requests are unaffected', async ({
      attack,
      target,
    }) => {
      const { cookie, conf } = target;
      const json = { cookie, 'content-type': 'application/json' };
      const viaFetchSite = await raw(`${attack.url}/api/v1/confirmations/${conf.id}/deny`, {
        method: 'POST',
        body: '{}',
        headers: { ...json, 'sec-fetch-site': 'same-origin' },
      });
      expect(viaFetchSite.status).toBe(200);
      expect(JSON.parse(viaFetchSite.body)).toMatchObject({ status: 'denied', decidedBy: 'ops', channel: 'ui' });
      const other = await attack.trigger('chat', 'csrf bearer');
      const c2 = await attack.pendingOf(other.id);
      const bearer = await raw(`${attack.url}/api/v1/runs/${other.id}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.chat}`, origin: `http://localhost:${Number(new URL(attack.url).port) + 1}` },
      });
      expect(bearer.status).toBe(200);
      expect((await attack.app.store.requireConfirmation(c2.id)).status).toBe('cancelled');
      expect(attack.posted()).not.toContain('csrf target');
    });
  });

  it('looks names up as own properties only: __proto__ and constructor are unknown, never a 500', async ({ attack }) => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const run = await attack.api(`/api/v1/workflows/${name}/runs`, { method: 'POST', token: 'ops', json: { inputs: {} } });
      expect(run.status, name).toBe(404);
      expect(JSON.parse(run.body).error).toMatchObject({
        code: 'WORKFLOW_NOT_FOUND',
        message: expect.stringContaining(`No workflow named '${name}'`),
      });
      const tools = await attack.api(`/api/v1/connectors/${name}/tools`, { token: 'ops' });
      expect(tools.status, name).toBe(404);
      expect(JSON.parse(tools.body).error).toMatchObject({
        code: 'CONNECTOR_NOT_FOUND',
        message: expect.stringContaining(`'${name}'`),
      });
    }
    const c = await connectClient(`${attack.url}/mcp`, { token: TOKENS.chat });
    try {
      for (const workflow of ['__proto__', 'constructor']) {
        const { result } = await c.call('run_workflow', { workflow, inputs: {} });
        expect(result.isError).toBe(true);
        expect(JSON.stringify(result.content)).toContain(`No workflow named '${workflow}'`);
      }
    } finally {
      await c.close();
    }
  });

  it('refuses JSON nested 2,000+ levels with 400 on the API and the MCP endpoint', async ({ attack }) => {
    const deep = `${'['.repeat(2500)}${']'.repeat(2500)}`;
    const deepObject = `${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}`;
    for (const body of [`{"inputs":{"text":${deep}}}`, `{"inputs":${deepObject}}`, deepObject]) {
      const res = await attack.api('/api/v1/workflows/notify/runs', {
        method: 'POST',
        token: 'ops',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.message).toContain('levels deep');
    }
    const mcp = await raw(`${attack.url}/mcp`, {
      method: 'POST',
      body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":${deep}}`,
      headers: {
        authorization: `Bearer ${TOKENS.chat}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
    });
    expect(mcp.status).toBe(400);
    expect(JSON.parse(mcp.body).error.code).toBe(-32700);
  });
});
