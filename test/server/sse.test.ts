import { describe, expect } from 'vitest';
import type { RunEvent, RunRecord } from '../../src/runs/records.ts';
import { harnessTest } from './helpers.ts';
import { waitForStatus } from '../helpers/app.ts';

interface SseMessage {
  id?: string;
  data: { type: string } & Partial<Omit<RunEvent, 'type'>> & Record<string, unknown>;
}

/** Reads SSE messages from a response until `until` says stop or the stream ends. */
async function readSse(
  res: Response,
  until: (m: SseMessage) => boolean,
  timeoutMs = 15_000,
): Promise<{ messages: SseMessage[]; ended: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  const messages: SseMessage[] = [];
  let buf = '';
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { messages, ended: true };
      buf += dec.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const lines = frame.split('\n').filter((l) => !l.startsWith(':'));
        const data = lines
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        if (!data) continue;
        const id = lines.find((l) => l.startsWith('id: '))?.slice(4);
        const m: SseMessage = { ...(id ? { id } : {}), data: JSON.parse(data) as SseMessage['data'] };
        messages.push(m);
        if (until(m)) {
          await reader.cancel();
          return { messages, ended: false };
        }
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

function streamIdAfter(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am > bm || (am === bm && as > bs);
}

/** `h` with TOKENS, and `startPay`, which starts a `pay` run (it pauses before its write) as the trigger token. */
const it = harnessTest({ tokens: true }).extend<{ startPay: (name: string) => Promise<RunRecord> }>({
  startPay: async ({ h }, use) =>
    use(async (name) => {
      const res = await h.call('/api/v1/workflows/pay/runs', {
        method: 'POST',
        token: 'trigger',
        json: { inputs: { name, amount: 3 } },
      });
      return (await res.json()) as RunRecord;
    }),
});

describe('GET /api/v1/runs/{id}/events (Server-Sent Events)', () => {
  it('streams the run events with the Redis stream id as SSE id, and resumes after Last-Event-ID', async ({ h, startPay }) => {
    const run = await startPay('sse');
    const first = await h.call(`/api/v1/runs/${run.id}/events`, { token: 'reader' });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toContain('text/event-stream');
    const a = await readSse(first, (m) => m.data.type === 'confirmation.requested');
    const types = a.messages.map((m) => m.data.type);
    expect(types[0]).toBe('run.created');
    expect(types).toContain('confirmation.requested');
    const stored = await h.app.store.readEvents(run.id, '0');
    expect(a.messages.map((m) => m.id)).toEqual(stored.slice(0, a.messages.length).map((e) => e.id));
    for (const m of a.messages) expect(m.data.id).toBe(m.id);
    const lastSeen = a.messages[a.messages.length - 1].id as string;

    const paused = await waitForStatus(h.app, run.id, ['awaiting_confirmation']);
    const conf = await h.app.store.requireConfirmation(paused.steps.write.confirmationId as string);
    await h.call(`/api/v1/confirmations/${conf.id}/approve`, {
      method: 'POST',
      token: 'approver',
      json: { argumentsHash: conf.argumentsHash },
    });
    await waitForStatus(h.app, run.id, ['succeeded']);

    const resumed = await h.call(`/api/v1/runs/${run.id}/events`, { token: 'reader', headers: { 'last-event-id': lastSeen } });
    const b = await readSse(resumed, () => false);
    expect(b.ended).toBe(true);
    const all = await h.app.store.readEvents(run.id, '0');
    const after = all.filter((e) => streamIdAfter(e.id, lastSeen));
    const sent = b.messages.filter((m) => m.id);
    expect(sent.map((m) => m.id)).toEqual(after.map((e) => e.id));
    expect(sent.map((m) => m.data.type)).toContain('confirmation.approved');
    expect(sent[sent.length - 1].data.type).toBe('run.succeeded');
    expect(b.messages[b.messages.length - 1].data).toMatchObject({ type: 'stream.end', status: 'succeeded' });
  });

  it('accepts ?lastEventId= for clients that cannot set headers, and ends at once for an ended run', async ({ h }) => {
    const res = await h.call('/api/v1/workflows/greet/runs', {
      method: 'POST',
      token: 'trigger',
      json: { inputs: { text: 'done' } },
    });
    const run = (await res.json()) as RunRecord;
    await waitForStatus(h.app, run.id, ['succeeded']);
    const all = await h.app.store.readEvents(run.id, '0');
    const last = all[all.length - 1].id;
    const s = await h.call(`/api/v1/runs/${run.id}/events?lastEventId=${encodeURIComponent(last)}`, { token: 'reader' });
    const { messages, ended } = await readSse(s, () => false);
    expect(ended).toBe(true);
    expect(messages).toEqual([{ data: { type: 'stream.end', runId: run.id, status: 'succeeded' } }]);
  });

  it('delivers events that happen while the client is connected', async ({ h, startPay }) => {
    const run = await startPay('live');
    await waitForStatus(h.app, run.id, ['awaiting_confirmation']);
    const res = await h.call(`/api/v1/runs/${run.id}/events`, { token: 'reader' });
    const reading = readSse(res, (m) => m.data.type === 'stream.end');
    const conf = (await h.app.store.listConfirmations({ status: 'pending', limit: 500 })).confirmations.find(
      (c) => c.runId === run.id,
    );
    await h.call(`/api/v1/confirmations/${conf?.id}/deny`, { method: 'POST', token: 'approver' });
    const { messages } = await reading;
    expect(messages.map((m) => m.data.type)).toEqual(expect.arrayContaining(['confirmation.denied', 'run.denied', 'stream.end']));
  });

  it('answers 404 for an unknown run, 400 for a malformed Last-Event-ID, 401 without a token', async ({ h, startPay }) => {
    expect((await h.call('/api/v1/runs/rnope/events', { token: 'reader' })).status).toBe(404);
    const run = await startPay('errors');
    const bad = await h.call(`/api/v1/runs/${run.id}/events`, { token: 'reader', headers: { 'last-event-id': 'yesterday' } });
    expect(bad.status).toBe(400);
    expect((await h.call(`/api/v1/runs/${run.id}/events`)).status).toBe(401);
  });
});
