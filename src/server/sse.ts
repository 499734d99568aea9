import { InterlockError, errorMessage } from '../errors.ts';
import { TERMINAL_RUN_STATUSES, type RunEvent } from '../runs/records.ts';
import { EventHub } from './event-hub.ts';
import { PerPrincipalLimit } from './limits.ts';
import type { Ctx } from './request.ts';
import type { ServerServices } from './services.ts';

/** The message a stream sends after the run's last event, just before it closes. */
export const END_EVENT_TYPE = 'stream.end';
const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
/** open event streams one token may hold; a browser tab holds one or two */
export const DEFAULT_MAX_STREAMS_PER_PRINCIPAL = 100;

/**
 * GET /api/v1/runs/{id}/events as Server-Sent Events, read from the run's Redis stream.
 *
 * Each message's `id:` is the Redis stream id and its `data:` the RunEvent as JSON (its `type`
 * inside). A client resumes with `Last-Event-ID` (EventSource sends it by itself on reconnect)
 * or `?lastEventId=`, and gets exactly the events after that id. Once the run has ended and
 * every event was sent, the stream says `stream.end` and closes, so a reconnecting client does
 * not wait forever on a run that will never change again.
 *
 * Streams read with plain XREADs on the shared command connection and wait for more in one
 * EventHub, whose single blocking reader serves every open stream. A principal (token) may hold
 * at most `maxPerPrincipal` streams; one more answers 429, so a read-only token cannot exhaust
 * the server for everyone else. `close()` ends them all.
 */
export class RunEventStreams {
  private readonly svc: Pick<ServerServices, 'queries' | 'events' | 'logger'>;
  private readonly heartbeatMs: number;
  private readonly limit: PerPrincipalLimit;
  private readonly open = new Set<() => void>();
  private readonly hub: EventHub;

  constructor(
    svc: Pick<ServerServices, 'queries' | 'events' | 'logger'>,
    opts: { heartbeatMs?: number; maxPerPrincipal?: number } = {},
  ) {
    this.svc = svc;
    this.heartbeatMs = opts.heartbeatMs ?? 15_000;
    this.limit = new PerPrincipalLimit(opts.maxPerPrincipal ?? DEFAULT_MAX_STREAMS_PER_PRINCIPAL, 'event streams');
    this.hub = new EventHub(svc);
  }

  get size(): number {
    return this.open.size;
  }

  async handle(c: Ctx, runId: string): Promise<Response> {
    await this.svc.queries.requireRun(runId);
    const from = c.req.header('last-event-id') ?? c.req.query('lastEventId') ?? '0';
    if (from !== '0' && !STREAM_ID.test(from)) {
      throw new InterlockError(
        'BAD_REQUEST',
        `Last-Event-ID must be an event id this stream sent (like 1712345678901-0), got '${from}'`,
      );
    }
    let release: () => void;
    try {
      release = this.limit.take(c.get('principal')?.name ?? 'anonymous');
    } catch (err) {
      c.header('Retry-After', '30');
      throw err;
    }
    const enc = new TextEncoder();
    const abort = new AbortController();
    let stopped = false;
    let stop = (): void => {};
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        stop = () => {
          if (stopped) return;
          stopped = true;
          this.open.delete(stop);
          release();
          abort.abort();
          try {
            controller.close();
          } catch {
            // already closed by the client going away
          }
        };
        this.open.add(stop);
        c.req.raw.signal.addEventListener('abort', stop, { once: true });
        const send = (chunk: string): void => {
          if (!stopped) controller.enqueue(enc.encode(chunk));
        };
        // The client sees the stream end and resumes with Last-Event-ID; the log says why it ended.
        void this.pump(runId, from, abort.signal, send, () => stopped)
          .catch((err: unknown) => this.svc.logger.debug({ runId, err: errorMessage(err) }, 'event stream ended early'))
          .finally(stop);
      },
      cancel: () => stop(),
    });
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      },
    });
  }

  private async pump(
    runId: string,
    from: string,
    signal: AbortSignal,
    send: (s: string) => void,
    stopped: () => boolean,
  ): Promise<void> {
    let last = from;
    send('retry: 2000\n\n');
    for (;;) {
      // Status first, then events: a run that is terminal now has all its events in the stream
      // already (each transition writes status and event in one script), so draining them and
      // then ending loses nothing. Events found while draining may have ended the run after the
      // status was read, so the status is read again before waiting for more.
      const run = await this.svc.queries.getRun(runId);
      const ended = !run || TERMINAL_RUN_STATUSES.has(run.status);
      let sent = 0;
      let events: RunEvent[];
      do {
        events = await this.svc.queries.readEvents(runId, last, { count: 200 });
        for (const e of events) {
          send(format(e));
          last = e.id;
        }
        sent += events.length;
      } while (events.length > 0 && !stopped());
      if (stopped()) return;
      if (ended) {
        send(`data: ${JSON.stringify({ type: END_EVENT_TYPE, runId, status: run?.status ?? 'missing' })}\n\n`);
        return;
      }
      if (sent > 0) continue;
      const waited = Date.now();
      await this.hub.wait(runId, last, this.heartbeatMs, signal);
      if (stopped()) return;
      const more = await this.svc.queries.readEvents(runId, last, { count: 200 });
      for (const e of more) {
        send(format(e));
        last = e.id;
      }
      if (more.length === 0 && Date.now() - waited >= this.heartbeatMs) send(': keep-alive\n\n');
    }
  }

  async close(): Promise<void> {
    for (const stop of [...this.open]) stop();
    await this.hub.close();
  }
}

function format(e: RunEvent): string {
  return `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`;
}
