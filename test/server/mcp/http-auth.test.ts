import { describe, expect } from 'vitest';
import { callLogPath } from '../../helpers/app.ts';
import { TOKENS, approve, connectClient, facadeYaml, initializeBody, postWithHost, rawPost, routeTest } from './helpers.ts';

const callPay = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'pay', arguments: { name: 'eve', amount: 1 } } };

const it = routeTest(facadeYaml({ log: callLogPath(), tokens: true })).extend<{ runCount: () => Promise<number> }>({
  runCount: async ({ app }, use) => {
    await use(async () => (await app.store.listRuns({ limit: 500 })).runs.length);
  },
});

describe('MCP facade over HTTP: who may connect, list, and run', () => {
  it('refuses a foreign Origin and a foreign Host (DNS rebinding) before looking at anything else', async ({ srv, runCount }) => {
    const before = await runCount();
    const auth = { authorization: `Bearer ${TOKENS.chat}` };
    const badOrigin = await rawPost(srv.url, initializeBody, { ...auth, origin: 'https://evil.example' });
    expect(badOrigin.status).toBe(403);
    expect(await badOrigin.json()).toMatchObject({
      jsonrpc: '2.0',
      error: { code: -32000, message: expect.stringContaining('origin') },
    });
    const badHost = await postWithHost(srv.url, 'evil.example', initializeBody, auth);
    expect(badHost.status).toBe(403);
    expect(badHost.body).toContain('DNS rebinding');
    const localOrigin = await rawPost(srv.url, initializeBody, { ...auth, origin: srv.origin });
    expect(localOrigin.status).toBe(200);
    expect(await runCount()).toBe(before);
    expect(srv.route.sessions).toBeGreaterThan(0);
  });

  it('refuses a missing or unknown token with 401 and a Bearer challenge', async ({ srv }) => {
    const missing = await rawPost(srv.url, initializeBody);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const wrong = await rawPost(srv.url, initializeBody, { authorization: 'Bearer not-a-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
    expect(JSON.stringify(await wrong.json())).not.toContain('not-a-token');
    await expect(connectClient(srv.url)).rejects.toThrow();
  });

  it('lets a token without trigger list and read, but not run', async ({ srv, runCount }) => {
    const before = await runCount();
    const c = await connectClient(srv.url, { token: TOKENS.reader });
    try {
      const names = (await c.client.listTools()).tools.map((t) => t.name).sort();
      expect(names).toEqual(['get_run', 'list_workflows']);
      for (const [tool, args] of [
        ['run_workflow', { workflow: 'pay', inputs: { name: 'x', amount: 1 } }],
        ['pay', { name: 'x', amount: 1 }],
      ] as const) {
        const { result } = await c.call(tool, args);
        expect(result.isError).toBe(true);
        expect(JSON.stringify(result.content)).toContain("lacks the 'trigger' scope");
      }
      expect((await c.client.callTool({ name: 'list_workflows', arguments: {} })).isError).toBeFalsy();
      expect(await runCount()).toBe(before);
    } finally {
      await c.close();
    }
  });

  it('answers an unknown session id with 404 and JSON-RPC error -32001, and runs nothing', async ({ srv, runCount }) => {
    const before = await runCount();
    const res = await rawPost(srv.url, callPay, {
      authorization: `Bearer ${TOKENS.chat}`,
      'mcp-session-id': 'no-such-session',
      'mcp-protocol-version': '2025-06-18',
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      jsonrpc: '2.0',
      error: { code: -32001, message: expect.stringContaining('Session not found') },
      id: null,
    });
    const noSession = await rawPost(srv.url, callPay, { authorization: `Bearer ${TOKENS.chat}` });
    expect(noSession.status).toBe(400);
    expect(await runCount()).toBe(before);
  });

  it("does not let another token use a session's id", async ({ srv, runCount }) => {
    const c = await connectClient(srv.url, { token: TOKENS.chat });
    try {
      const before = await runCount();
      const res = await rawPost(srv.url, callPay, {
        authorization: `Bearer ${TOKENS.other}`,
        'mcp-session-id': c.transport.sessionId ?? '',
        'mcp-protocol-version': '2025-06-18',
      });
      expect(res.status).toBe(404);
      expect(await runCount()).toBe(before);
    } finally {
      await c.close();
    }
  });

  it('ends the session on DELETE: its remembered approvals are gone and its id is unknown from then on', async ({ app, srv }) => {
    const c = await connectClient(srv.url, { token: TOKENS.ops, elicit: approve(true) });
    const sid = c.transport.sessionId ?? '';
    const { view } = await c.call('pay', { name: 'fay', amount: 5 });
    expect(view.status).toBe('succeeded');
    expect(await app.store.getGrant(`mcp-${sid}`, 'test', 'record', 'ops')).toMatchObject({
      decision: 'approve',
      by: 'ops',
      owner: 'ops',
      channel: 'mcp-elicitation',
    });
    await c.transport.terminateSession();
    expect(await app.store.getGrant(`mcp-${sid}`, 'test', 'record', 'ops')).toBeUndefined();
    const res = await rawPost(srv.url, callPay, {
      authorization: `Bearer ${TOKENS.chat}`,
      'mcp-session-id': sid,
      'mcp-protocol-version': '2025-06-18',
    });
    expect(res.status).toBe(404);
    await c.close();
  });
});
