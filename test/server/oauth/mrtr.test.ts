import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { SignJWT, importJWK } from 'jose';
import { describe, expect } from 'vitest';
import { readCalls, waitForStatus } from '../../helpers/app.ts';
import { type IssuerRig, issuerTest, issuerYaml } from './helpers.ts';
import { type ExternalIssuer, READER, ROBOT, startExternalIssuer } from './issuer.ts';

// /mcp stays an OAuth-protected resource on protocol 2026-07-28: the 401 and its challenge, the
// token checks and the scopes come before the request reaches the 2026 server, as for 2025 clients.

const it = issuerTest(startExternalIssuer, issuerYaml);
type Rig = IssuerRig<ExternalIssuer>;

interface Exchange {
  method: string | undefined;
  status: number;
  challenge: string | null;
}

/** A v2 client pinned to 2026-07-28; every HTTP exchange it makes is recorded. */
async function connect(rig: Rig, token: string | undefined, autoFulfill = true) {
  const seen: Exchange[] = [];
  const recording = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const res = await fetch(input, init);
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { method?: string }) : undefined;
    seen.push({ method: body?.method, status: res.status, challenge: res.headers.get('www-authenticate') });
    return res;
  };
  const client = new Client(
    { name: 'oauth-2026', version: '1.0.0' },
    {
      capabilities: { elicitation: { form: {} } },
      versionNegotiation: { mode: { pin: '2026-07-28' } },
      inputRequired: { autoFulfill },
    },
  );
  client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { decision: 'approve' } }));
  const transport = new StreamableHTTPClientTransport(new URL(rig.resource), {
    fetch: recording,
    ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
  });
  const connected = client.connect(transport).then(
    () => undefined,
    (err: unknown) => err,
  );
  return { client, seen, failed: await connected };
}

/** A token the issuer would issue (signed with its key), for scopes its client-credentials grant does not hand out. */
async function issuerToken(rig: Rig, subject: string, scope: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope })
    .setProtectedHeader({ alg: 'RS256', kid: 'external-1' })
    .setIssuer(rig.idp.issuer)
    .setAudience(rig.resource)
    .setSubject(subject)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(await importJWK(rig.idp.privateJwk, 'RS256'));
}

const writes = (rig: Rig) => readCalls(rig.h.log).filter((x) => x.tool === 'record').length;

describe('MCP 2026-07-28 on the OAuth-protected /mcp', () => {
  it('answers a 2026-07-28 client without a token with 401 and a challenge naming the resource metadata', async ({ rig }) => {
    const c = await connect(rig, undefined);
    expect(c.failed).toBeDefined();
    expect(c.seen[0]).toMatchObject({ method: 'server/discover', status: 401 });
    expect(c.seen[0]?.challenge).toContain(`resource_metadata="${rig.h.url}/.well-known/oauth-protected-resource/mcp"`);
    expect(c.seen[0]?.challenge).toContain('scope="mcp:read mcp:run"');
  });

  it('refuses a token for another resource (401 invalid_token) and one with neither read nor trigger (403 insufficient_scope)', async ({
    rig,
  }) => {
    const other = await rig.idp.token(ROBOT, 'https://other.example/mcp', 'mcp:read mcp:run');
    const wrong = await connect(rig, other);
    expect(wrong.failed).toBeDefined();
    expect(wrong.seen[0]?.status).toBe(401);
    expect(wrong.seen[0]?.challenge).toContain('error="invalid_token"');
    const confirmOnly = await connect(rig, await issuerToken(rig, 'approver-0', 'confirm'));
    expect(confirmOnly.failed).toBeDefined();
    expect(confirmOnly.seen[0]?.status).toBe(403);
    expect(confirmOnly.seen[0]?.challenge).toContain('error="insufficient_scope"');
  });

  it('runs a read for a token of that issuer, with the subject as the run owner; without confirm a write waits', async ({
    rig,
  }) => {
    const c = await connect(rig, await rig.idp.token(ROBOT, rig.resource, 'mcp:read mcp:run'));
    expect(c.failed).toBeUndefined();
    try {
      expect(c.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      expect(c.seen.every((e) => e.status === 200)).toBe(true);
      const read = await c.client.callTool({ name: 'greet', arguments: { text: 'from 2026' } });
      const run = await waitForStatus(rig.h.app, (read.structuredContent as { runId: string }).runId, ['succeeded']);
      expect(run.owner).toBe(ROBOT.id);
      const before = writes(rig);
      const write = await c.client.callTool({ name: 'pay', arguments: { name: 'robo', amount: 3 } });
      expect(write.structuredContent).toMatchObject({ status: 'awaiting_confirmation' });
      expect(writes(rig)).toBe(before);
    } finally {
      await c.client.close();
    }
  });

  it('lets a read-only token list and read on 2026-07-28, but not run', async ({ rig }) => {
    const c = await connect(rig, await rig.idp.token(READER, rig.resource, 'mcp:read'));
    try {
      expect((await c.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['get_run', 'list_workflows']);
      const r = await c.client.callTool({ name: 'run_workflow', arguments: { workflow: 'greet', inputs: { text: 'x' } } });
      expect(r.isError).toBe(true);
      expect(JSON.stringify(r.content)).toContain("lacks the 'trigger' scope");
    } finally {
      await c.client.close();
    }
  });

  it('approves over MRTR with a confirm token, recorded as its subject; another subject cannot use that state', async ({
    rig,
  }) => {
    const before = writes(rig);
    const ann = await connect(rig, await issuerToken(rig, 'approver-ann', 'mcp:read mcp:run confirm'), false);
    const bob = await connect(rig, await issuerToken(rig, 'approver-bob', 'mcp:read mcp:run confirm'), false);
    try {
      const first = (await ann.client.callTool(
        { name: 'pay', arguments: { name: 'ann', amount: 6 } },
        { allowInputRequired: true },
      )) as unknown as { resultType?: string; requestState: string };
      expect(first.resultType).toBe('input_required');
      const answer = (client: Client) =>
        client.callTool({
          name: 'pay',
          arguments: { name: 'ann', amount: 6 },
          inputResponses: { decision: { action: 'accept', content: { decision: 'approve' } } },
          requestState: first.requestState,
        } as never);
      const stolen = await answer(bob.client).then(
        () => undefined,
        (e: unknown) => e as { message: string; data?: { reason?: string } },
      );
      expect(stolen?.data?.reason).toBe('principal');
      expect(writes(rig)).toBe(before);
      const done = await answer(ann.client);
      const view = done.structuredContent as { status: string; runId: string };
      expect(view.status).toBe('succeeded');
      const run = await rig.h.app.store.requireRun(view.runId);
      expect(run.owner).toBe('approver-ann');
      const conf = await rig.h.app.store.requireConfirmation(String(run.steps.write?.confirmationId));
      expect(conf).toMatchObject({ status: 'approved', channel: 'mcp-elicitation', decidedBy: 'approver-ann' });
      expect(writes(rig)).toBe(before + 1);
    } finally {
      await ann.client.close();
      await bob.client.close();
    }
  });
});
