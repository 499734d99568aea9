/**
 * Trigger over HTTP to the first tool call: POST /api/v1/workflows/one/runs on the real server
 * (src/server/serve.ts, in the bench process, without its own workers) while the worker child
 * takes the step; the clock stops when the call reaches the MCP test server. Any answer but 202,
 * or a call that never arrives, fails the phase (and so the bench).
 */
import { silentLogger } from '../../src/logger.ts';
import { startServer } from '../../src/server/serve.ts';
import type { BenchContext } from '../lib/context.ts';
import { summarize, wallNow, type Summary } from '../lib/stats.ts';

export interface HttpResult {
  requests: number;
  triggerToCallMs: Summary;
  responseMs: Summary;
}

/** The HTTP API as `interlock serve` mounts it, open on loopback, for as long as `fn` runs. */
export async function withApi<T>(ctx: BenchContext, fn: (url: string) => Promise<T>): Promise<T> {
  const server = await startServer(ctx.app, {
    host: '127.0.0.1',
    port: 0,
    workers: false,
    logger: silentLogger(),
    onNotice: () => {},
  });
  try {
    return await fn(server.url);
  } finally {
    await server.close();
  }
}

export async function measureHttp(
  ctx: BenchContext,
  apiUrl: string,
  n: number,
  spacingMs: number,
  tag: string,
): Promise<HttpResult> {
  const post = async (text: string): Promise<{ t0: number; ms: number }> => {
    const t0 = wallNow();
    const res = await fetch(`${apiUrl}/api/v1/workflows/one/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { text } }),
    });
    const ms = wallNow() - t0;
    if (res.status !== 202) throw new Error(`POST runs answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
    return { t0, ms };
  };
  for (let i = 0; i < 10; i++) await post(`${tag}-warm-${i}`);
  const sent: { text: string; t0: number; ms: number }[] = [];
  for (let i = 0; i < n; i++) {
    const text = `${tag}-${i}`;
    sent.push({ text, ...(await post(text)) });
    await new Promise((r) => setTimeout(r, spacingMs));
  }
  const names = new Set(sent.map((s) => s.text));
  await ctx.log.until(
    (calls) => calls.filter((c) => c.tool === 'echo' && names.has(String(c.args.text))).length >= sent.length,
    30_000,
  );
  return {
    requests: n,
    triggerToCallMs: summarize(sent.map((s) => (ctx.log.timesFor('echo', 'text', s.text)[0] ?? Number.NaN) - s.t0)),
    responseMs: summarize(sent.map((s) => s.ms)),
  };
}
