/**
 * Issue 14's reproductions, each against a real `interlock serve`, a real Redis and the Slack
 * connector posting to the Slack sandbox: the sandbox's messages say what was really sent.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConfirmationRecord, RunRecord } from '../../src/runs/records.ts';
import { approve, connectClient } from '../server/mcp/helpers.ts';
import { type Attack, TOKENS, cookieFrom, raw, useAttack } from './approver-fixture.ts';

describe('only an approver approves (issue 14)', () => {
  const attack = useAttack();
  let a: Attack;
  beforeAll(() => {
    a = attack();
  });

  it("a grant cannot be borrowed: a session id of another principal's run is only a label for the chat token", async () => {
    // Ops runs R and approves its post with "remember for this session".
    const r = await a.trigger('ops', 'R by ops');
    const conf = await a.pendingOf(r.id);
    const ok = await a.api(`/api/v1/confirmations/${conf.id}/approve`, {
      method: 'POST',
      token: 'ops',
      json: { argumentsHash: conf.argumentsHash, remember: { scope: 'arguments', fields: ['channel'] } },
    });
    expect(ok.status).toBe(200);
    await a.waitRun(r.id, ['succeeded']);
    expect(a.posted()).toContain('R by ops');

    // The chat token names R's session, which it can read: the run gets its own session and waits.
    const borrowed = await a.trigger('chat', 'borrowed post', r.session);
    await a.waitRun(borrowed.id, ['awaiting_confirmation', 'succeeded']);
    expect(a.posted()).not.toContain('borrowed post');
    expect((await a.app.store.requireRun(borrowed.id)).status).toBe('awaiting_confirmation');
    expect(borrowed).toMatchObject({ owner: 'chat', label: r.session, session: `run-${borrowed.id}` });

    // Even the grant's own Redis key, reached under its session, is ops' and not chat's.
    expect(await a.app.store.getGrant(r.session, 'slack', 'post_message', 'chat')).toBeUndefined();
    expect(await a.app.store.getGrant(r.session, 'slack', 'post_message', 'ops')).toMatchObject({
      decision: 'approve',
      by: 'ops',
      owner: 'ops',
      channel: 'api',
    });

    // Ops itself continues its session: the grant covers it, and the audit names who granted.
    const again = await a.trigger('ops', 'ops again', r.session);
    expect(again.session).toBe(r.session);
    await a.waitRun(again.id, ['succeeded']);
    expect(a.posted()).toContain('ops again');
    const events = await a.app.store.readEvents(again.id);
    expect(events.find((e) => e.type === 'confirmation.remembered')?.data).toMatchObject({ grantedBy: 'ops', channel: 'api' });
    await a.api(`/api/v1/runs/${borrowed.id}/cancel`, { method: 'POST', token: 'ops', json: {} });
  });

  it("an approver decides a chat run once: remembering for the chat token's session is refused, so the next chat write asks again", async () => {
    const first = await a.trigger('chat', 'chat first');
    const conf = await a.pendingOf(first.id);
    const remembered = await a.api(`/api/v1/confirmations/${conf.id}/approve`, {
      method: 'POST',
      token: 'approver',
      json: { argumentsHash: conf.argumentsHash, remember: 'session' },
    });
    expect(remembered.status).toBe(403);
    expect(JSON.parse(remembered.body).error.message).toContain("Only 'chat', who started run");
    expect((await a.app.store.requireConfirmation(conf.id)).status).toBe('pending');
    const once = await a.api(`/api/v1/confirmations/${conf.id}/approve`, {
      method: 'POST',
      token: 'approver',
      json: { argumentsHash: conf.argumentsHash },
    });
    expect(JSON.parse(once.body)).toMatchObject({ status: 'approved', decidedBy: 'approver', channel: 'api', owner: 'chat' });
    await a.waitRun(first.id, ['succeeded']);
    expect(a.posted()).toContain('chat first');

    const second = await a.trigger('chat', 'chat second', first.session);
    expect(second.session).toBe(first.session);
    await a.waitRun(second.id, ['awaiting_confirmation', 'succeeded']);
    expect(a.posted()).not.toContain('chat second');
    // ops naming the chat token's session gets a session of its own.
    const other = await a.trigger('ops', 'ops in chat session', first.session);
    expect(other).toMatchObject({ session: `run-${other.id}`, label: first.session });
    await a.waitRun(other.id, ['awaiting_confirmation', 'succeeded']);
    expect(a.posted()).not.toContain('ops in chat session');
    for (const r of [second, other]) await a.api(`/api/v1/runs/${r.id}/cancel`, { method: 'POST', token: 'ops', json: {} });
  });

  it('MCP elicitation approves nothing for a token without confirm: the answer is the pending write and where to approve it', async () => {
    const c = await connectClient(`${a.url}/mcp`, { token: TOKENS.chat, elicit: approve(true) });
    try {
      const { view } = await c.call('notify', { text: 'elicited by chat' });
      expect(a.posted()).not.toContain('elicited by chat');
      expect(c.asked).toHaveLength(0);
      expect(view.status).toBe('awaiting_confirmation');
      expect(view.confirmation).toMatchObject({
        connector: 'slack',
        tool: 'post_message',
        arguments: { channel: '#billing', text: 'elicited by chat' },
      });
      expect(view.confirmation?.approveUrl).toContain(`/ui/confirmations/${view.confirmation?.id}`);
      expect(view.next).toContain("lacks the 'confirm' scope");
      expect(a.posted()).not.toContain('elicited by chat');
      // An approver decides; the record names them and the channel.
      const res = await a.api(`/api/v1/confirmations/${view.confirmation?.id}/approve`, {
        method: 'POST',
        token: 'approver',
        json: { argumentsHash: view.confirmation?.argumentsHash },
      });
      expect(JSON.parse(res.body)).toMatchObject({ status: 'approved', decidedBy: 'approver', channel: 'api' });
      await a.waitRun(view.runId, ['succeeded']);
      expect(a.posted()).toContain('elicited by chat');
    } finally {
      await c.close();
    }
  });

  it('MCP elicitation by a token with confirm decides, recorded as that token and the mcp-elicitation channel', async () => {
    const c = await connectClient(`${a.url}/mcp`, { token: TOKENS.ops, elicit: approve(false) });
    try {
      const { view } = await c.call('notify', { text: 'elicited by ops' });
      expect(c.asked).toHaveLength(1);
      expect(view.status).toBe('succeeded');
      const run = await a.app.store.requireRun(view.runId);
      const conf = await a.app.store.requireConfirmation(run.steps.post.confirmationId ?? '');
      expect(conf).toMatchObject({ decidedBy: 'ops', channel: 'mcp-elicitation', owner: 'ops' });
      expect(a.posted()).toContain('elicited by ops');
    } finally {
      await c.close();
    }
  });

  describe('CSRF on cookie sessions', () => {
    let cookie: string;
    let conf: ConfirmationRecord;
    let run: RunRecord;
    beforeAll(async () => {
      cookie = cookieFrom(await raw(`${a.url}/ui?token=${TOKENS.ops}`));
      run = await a.trigger('chat', 'csrf target');
      conf = await a.pendingOf(run.id);
    });

    it('a page on another loopback port cannot deny with an empty no-cors POST, nor cancel with a text/plain form', async () => {
      const port = Number(new URL(a.url).port);
      const foreign = `http://localhost:${port + 1}`;
      const deny = await raw(`${a.url}/api/v1/confirmations/${conf.id}/deny`, {
        method: 'POST',
        headers: { cookie, origin: foreign, 'sec-fetch-site': 'same-site' },
      });
      expect(deny.status).toBe(403);
      const cancel = await raw(`${a.url}/api/v1/runs/${run.id}/cancel`, {
        method: 'POST',
        body: 'x=1',
        headers: { cookie, origin: foreign, 'content-type': 'text/plain' },
      });
      expect(cancel.status).toBe(403);
      // Same origin but no JSON (a same-origin form or an empty body) is refused too.
      const plain = await raw(`${a.url}/api/v1/runs/${run.id}/cancel`, {
        method: 'POST',
        body: '',
        headers: { cookie, origin: a.url },
      });
      expect(plain.status).toBe(403);
      expect((await a.app.store.requireConfirmation(conf.id)).status).toBe('pending');
      expect((await a.app.store.requireRun(run.id)).status).toBe('awaiting_confirmation');
    });

    it('the page itself (exact origin or Sec-Fetch-Site: same-origin, JSON) may decide; bearer requests are unaffected', async () => {
      const json = { cookie, 'content-type': 'application/json' };
      const viaFetchSite = await raw(`${a.url}/api/v1/confirmations/${conf.id}/deny`, {
        method: 'POST',
        body: '{}',
        headers: { ...json, 'sec-fetch-site': 'same-origin' },
      });
      expect(viaFetchSite.status).toBe(200);
      expect(JSON.parse(viaFetchSite.body)).toMatchObject({ status: 'denied', decidedBy: 'ops', channel: 'ui' });
      const other = await a.trigger('chat', 'csrf bearer');
      const c2 = await a.pendingOf(other.id);
      const bearer = await raw(`${a.url}/api/v1/runs/${other.id}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.chat}`, origin: `http://localhost:${Number(new URL(a.url).port) + 1}` },
      });
      expect(bearer.status).toBe(200);
      expect((await a.app.store.requireConfirmation(c2.id)).status).toBe('cancelled');
      expect(a.posted()).not.toContain('csrf target');
    });
  });

  it('looks names up as own properties only: __proto__ and constructor are unknown, never a 500', async () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const run = await a.api(`/api/v1/workflows/${name}/runs`, { method: 'POST', token: 'ops', json: { inputs: {} } });
      expect(run.status, name).toBe(404);
      expect(JSON.parse(run.body).error).toMatchObject({
        code: 'WORKFLOW_NOT_FOUND',
        message: expect.stringContaining(`No workflow named '${name}'`),
      });
      const tools = await a.api(`/api/v1/connectors/${name}/tools`, { token: 'ops' });
      expect(tools.status, name).toBe(404);
      expect(JSON.parse(tools.body).error).toMatchObject({
        code: 'CONNECTOR_NOT_FOUND',
        message: expect.stringContaining(`'${name}'`),
      });
    }
    const c = await connectClient(`${a.url}/mcp`, { token: TOKENS.chat });
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

  it('refuses JSON nested 2,000+ levels with 400 on the API and the MCP endpoint', async () => {
    const deep = `${'['.repeat(2500)}${']'.repeat(2500)}`;
    const deepObject = `${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}`;
    for (const body of [`{"inputs":{"text":${deep}}}`, `{"inputs":${deepObject}}`, deepObject]) {
      const res = await a.api('/api/v1/workflows/notify/runs', {
        method: 'POST',
        token: 'ops',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.message).toContain('levels deep');
    }
    const mcp = await raw(`${a.url}/mcp`, {
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
