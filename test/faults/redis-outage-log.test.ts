import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OutageLog } from '../../src/logger.ts';

describe('OutageLog: one outage is one story in the log', () => {
  let lines: Array<{ level: number; msg: string; downSeconds?: number; errorsSinceLastLog?: number }>;
  let log: OutageLog;
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    lines = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
    log = new OutageLog(logger, 'Redis (test)', 30_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs the start once, a reminder every 30 s with the errors folded into it, and the end once', () => {
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
