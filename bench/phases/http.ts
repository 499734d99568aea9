/**
 * Trigger over HTTP to the first tool call: POST /api/v1/workflows/one/runs on the real server
 * (src/server/serve.ts, in the bench process, without its own workers) while the worker child
 * takes the step; the clock stops when the call reaches the MCP test server.
 */
import { silentLogger } from '../../src/logger.ts';
import type { BenchContext } from '../lib/context.ts';
import { summarize, wallNow, type Summary } from '../lib/stats.ts';

export type HttpResult =
  | { available: true; requests: number; triggerToCallMs: Summary; responseMs: Summary }
  | { available: false; reason: string };

interface ServeModule {
  startServer(app: BenchContext['app'], opts: { host?: string; port?: number; workers?: boolean; logger?: ReturnType<typeof silentLogger>; onNotice?: (m: string) => void }):
    Promise<{ url: string; close(): Promise<void> }>;
}

export async function measureHttp(ctx: BenchContext, n: number, spacingMs: number): Promise<HttpResult> {
  let mod: Partial<ServeModule>;
  try {
    // A variable specifier: the server is built by another engineer and may not exist in every checkout.
    const specifier = '../../src/server/serve.ts';
    mod = (await import(specifier)) as Partial<ServeModule>;
  } catch (err) {
    return { available: false, reason: `src/server/serve.ts could not be loaded: ${(err as Error).message.split('\n')[0]}` };
  }
  if (typeof mod.startServer !== 'function') return { available: false, reason: 'src/server/serve.ts has no startServer' };
  const server = await mod.startServer(ctx.app, { host: '127.0.0.1', port: 0, workers: false, logger: silentLogger(), onNotice: () => {} });
  try {
    const post = async (text: string): Promise<{ t0: number; ms: number }> => {
      const t0 = wallNow();
      const res = await fetch(`${server.url}/api/v1/workflows/one/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: { text } }),
      });
      const ms = wallNow() - t0;
      if (res.status !== 202) throw new Error(`POST runs answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
      return { t0, ms };
    };
    for (let i = 0; i < 10; i++) await post(`http-warm-${i}`);
    const sent: { text: string; t0: number; ms: number }[] = [];
    for (let i = 0; i < n; i++) {
      const text = `http-${i}`;
      sent.push({ text, ...(await post(text)) });
      await new Promise((r) => setTimeout(r, spacingMs));
    }
    const names = new Set(sent.map((s) => s.text));
    await ctx.log.until((calls) => calls.filter((c) => c.tool === 'echo' && names.has(String(c.args.text))).length >= sent.length, 30_000);
    return {
      available: true,
      requests: n,
      triggerToCallMs: summarize(sent.map((s) => (ctx.log.timesFor('echo', 'text', s.text)[0] ?? Number.NaN) - s.t0)),
      responseMs: summarize(sent.map((s) => s.ms)),
    };
  } catch (err) {
    return { available: false, reason: `the HTTP server did not accept a trigger: ${(err as Error).message.split('\n')[0]}` };
  } finally {
    await server.close();
  }
}
