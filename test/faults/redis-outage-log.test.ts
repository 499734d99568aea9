import { pino } from 'pino';
import { describe, expect, it, test, vi } from 'vitest';
import { Redis } from 'ioredis';
import { InterlockError } from '../../src/errors.ts';
import { OutageLog } from '../../src/logger.ts';
import { isRedisUnreachable, redisUnavailable } from '../../src/runs/redis-unavailable.ts';
import { freePort } from '../helpers/redis.ts';
import { httpStatus } from '../../src/server/status.ts';

type Line = { level: number; msg: string; downSeconds?: number; errorsSinceLastLog?: number };

/** `story`: an OutageLog writing to `lines` under fake timers (real ones again after the test). */
const storyTest = test.extend<{ story: { lines: Line[]; log: OutageLog } }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
  story: async ({}, use) => {
    vi.useFakeTimers({ now: 1_000_000 });
    const lines: Line[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
    try {
      await use({ lines, log: new OutageLog(logger, 'Redis (test)', 30_000) });
    } finally {
      vi.useRealTimers();
    }
  },
});

describe('OutageLog: one outage is one story in the log', () => {
  storyTest('logs the start once, a reminder every 30 s with the errors folded into it, and the end once', ({ story }) => {
    const { lines, log } = story;
    for (let i = 0; i < 120; i++) {
      log.fail('connect ECONNREFUSED');
      vi.advanceTimersByTime(100);
    }
    // 12 s of errors at 10 a second: only the start.
    expect(lines.map((l) => l.msg)).toEqual(['Redis (test) is unavailable']);
    expect(log.down).toBe(true);
    for (let i = 0; i < 200; i++) {
      log.fail('connect ECONNREFUSED');
      vi.advanceTimersByTime(100);
    }
    expect(lines.map((l) => l.msg)).toEqual(['Redis (test) is unavailable', 'Redis (test) is still unavailable']);
    expect(lines[1].downSeconds).toBe(30);
    expect(lines[1].errorsSinceLastLog).toBe(300);
    log.recovered();
    log.recovered();
    expect(lines.map((l) => l.msg).slice(2)).toEqual(['Redis (test) is available again']);
    expect(lines[2].level).toBe(40);
    expect(log.down).toBe(false);
    // A new outage is a new story.
    log.fail('connection closed');
    expect(lines.map((l) => l.msg).slice(3)).toEqual(['Redis (test) is unavailable']);
  });
});

describe('which errors mean Redis is unavailable', () => {
  it('maps what a real ioredis client without offline queue rejects with to REDIS_UNAVAILABLE, and nothing else', async () => {
    // Nothing listens on this port: the errors are the ones ioredis really gives.
    const client = new Redis(await freePort(), '127.0.0.1', {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    const offline = await client.get('k').catch((e: unknown) => e);
    expect(redisUnavailable(offline)?.code).toBe('REDIS_UNAVAILABLE');
    expect(httpStatus(redisUnavailable(offline)!)).toBe(503);
    client.disconnect();

    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', syscall: 'connect' });
    // A refused connection to a connector is not Redis being away; on a Redis connection's own 'error' event it is.
    expect(redisUnavailable(refused)).toBeUndefined();
    expect(isRedisUnreachable(refused, { socketErrors: true })).toBe(true);
    expect(redisUnavailable(new InterlockError('CONNECTOR_UNAVAILABLE', 'stripe did not answer'))).toBeUndefined();
    expect(redisUnavailable(new Error('boom'))).toBeUndefined();
  });
});
