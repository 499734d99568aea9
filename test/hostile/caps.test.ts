/**
 * Issue 14, "a read-only token can lock everyone out": a viewer token asks for 1,000 MCP sessions
 * and 1,000 SSE streams; its own cap answers 429, ops still gets in, and the streams share one
 * Redis reader instead of holding a connection each.
 */
import { describe, expect } from 'vitest';
import { DEFAULT_MAX_SESSIONS_PER_PRINCIPAL } from '../../src/server/mcp/http.ts';
import { DEFAULT_MAX_STREAMS_PER_PRINCIPAL } from '../../src/server/sse.ts';
import { connectClient, initializeBody } from '../server/mcp/helpers.ts';
import { type Attack, TOKENS, attackTest as it } from './approver-fixture.ts';

/** Runs `fn` over 0..n-1 with at most `width` in flight. */
async function inBatches<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

const count = (xs: number[]) => xs.reduce<Record<number, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});

async function redisClients(attack: Attack): Promise<number> {
  return String(await attack.app.redis.client.client('LIST'))
    .trim()
    .split('\n').length;
}

describe('limits per principal (issue 14)', () => {
  it('1,000 MCP sessions from a read-only token: its cap answers 429, ops still connects and works', async ({ attack }) => {
    const statuses = await inBatches(1000, 50, async () => {
      const res = await fetch(`${attack.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TOKENS.viewer}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify(initializeBody),
      });
      const body = await res.text();
      if (res.status === 429) expect(body).toContain("Token 'viewer' already holds");
      return res.status;
    });
    expect(count(statuses)).toEqual({ 200: DEFAULT_MAX_SESSIONS_PER_PRINCIPAL, 429: 1000 - DEFAULT_MAX_SESSIONS_PER_PRINCIPAL });
    expect(attack.server.mcp.sessions).toBe(DEFAULT_MAX_SESSIONS_PER_PRINCIPAL);

    const ops = await connectClient(`${attack.url}/mcp`, { token: TOKENS.ops });
    try {
      const listed = await ops.client.callTool({ name: 'list_workflows', arguments: {} });
      expect(listed.isError).toBeFalsy();
    } finally {
      await ops.close();
    }
  }, 120_000);

  it('1,000 SSE streams from a read-only token: its cap answers 429, the open ones share one Redis reader, ops still streams', async ({
    attack,
  }) => {
    const run = await attack.trigger('ops', 'sse cap');
    await attack.pendingOf(run.id);
    const before = await redisClients(attack);
    const aborts: AbortController[] = [];
    // Held on purpose: undici cancels the body of a Response that is garbage-collected unread,
    // which would close streams behind the test's back and free their places.
    const open: Response[] = [];
    try {
      const statuses = await inBatches(1000, 50, async () => {
        const ac = new AbortController();
        const res = await fetch(`${attack.url}/api/v1/runs/${run.id}/events`, {
          headers: { authorization: `Bearer ${TOKENS.viewer}` },
          signal: ac.signal,
        });
        if (res.status === 200) {
          aborts.push(ac);
          open.push(res);
        } else {
          expect((await res.json()) as unknown).toMatchObject({ error: { code: 'TOO_MANY_REQUESTS' } });
          expect(res.headers.get('retry-after')).toBe('30');
        }
        return res.status;
      });
      expect(count(statuses)).toEqual({ 200: DEFAULT_MAX_STREAMS_PER_PRINCIPAL, 429: 1000 - DEFAULT_MAX_STREAMS_PER_PRINCIPAL });
      // One shared blocking reader for all of them, not one connection per stream.
      expect((await redisClients(attack)) - before).toBeLessThanOrEqual(2);

      // Ops is not affected, and its stream hears the run move on when someone decides.
      const ac = new AbortController();
      aborts.push(ac);
      const res = await fetch(`${attack.url}/api/v1/runs/${run.id}/events`, {
        headers: { authorization: `Bearer ${TOKENS.ops}` },
        signal: ac.signal,
      });
      expect(res.status).toBe(200);
      const conf = await attack.pendingOf(run.id);
      await attack.api(`/api/v1/confirmations/${conf.id}/approve`, {
        method: 'POST',
        token: 'approver',
        json: { argumentsHash: conf.argumentsHash },
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!text.includes('stream.end')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain('confirmation.approved');
      expect(text).toContain(`"type":"stream.end","runId":"${run.id}","status":"succeeded"`);
    } finally {
      for (const ac of aborts) ac.abort();
      open.length = 0;
    }
    // The viewer's slots come back once its streams are gone.
    await expect
      .poll(
        async () =>
          (await fetch(`${attack.url}/api/v1/runs/${run.id}/events`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } }))
            .status,
        { timeout: 10_000 },
      )
      .toBe(200);
  }, 120_000);

  it('live page feeds (/ui/live) are capped per token the same way', async ({ attack }) => {
    const held: Array<{ ac: AbortController; res: Response }> = [];
    const open = async (token: keyof typeof TOKENS) => {
      const ac = new AbortController();
      const res = await fetch(`${attack.url}/ui/live`, {
        headers: { authorization: `Bearer ${TOKENS[token]}` },
        signal: ac.signal,
      });
      held.push({ ac, res });
      return res.status;
    };
    try {
      const statuses = await inBatches(DEFAULT_MAX_STREAMS_PER_PRINCIPAL + 20, 20, () => open('viewer'));
      expect(count(statuses)).toEqual({ 200: DEFAULT_MAX_STREAMS_PER_PRINCIPAL, 429: 20 });
      expect(await open('ops')).toBe(200);
    } finally {
      for (const h of held) h.ac.abort();
    }
  }, 60_000);
});
