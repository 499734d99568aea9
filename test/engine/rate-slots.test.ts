import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { RunStore } from '../../src/runs/store.ts';
import { test } from '../helpers/fixtures.ts';

// The Redis side of rate limits: one script takes a slot in every window that applies to a call,
// or in none of them; a slot counts while its call is in flight and for `per` after its answer.

const it = test.extend<{ client: Redis; store: RunStore; zcard: (connector: string, part?: string) => Promise<number> }>({
  client: [
    async ({ redis }, use) => {
      const client = new Redis(redis.url, { maxRetriesPerRequest: null });
      try {
        await use(client);
      } finally {
        client.disconnect();
      }
    },
    { scope: 'file' },
  ],
  store: [async ({ client }, use) => use(new RunStore(client, 'rs')), { scope: 'file' }],
  zcard: async ({ client, store }, use) => use((connector, part = '') => client.zcard(store.keys.rateLimit(connector, part))),
});

describe('taking rate slots in several windows at once', () => {
  const minute = 60_000;
  const HOLD = 30_000;
  let n = 0;
  const member = () => `test-${n++}`;

  it('takes a slot in every window when all have room', async ({ store, zcard }) => {
    expect(
      await store.takeRateSlots(
        'a',
        [
          { key: '', max: 2, perMs: minute },
          { key: 'tool:x', max: 1, perMs: minute },
        ],
        member(),
        HOLD,
      ),
    ).toBe(0);
    expect(await zcard('a')).toBe(1);
    expect(await zcard('a', 'tool:x')).toBe(1);
  });

  it('takes no slot at all when one window is full, and says how long to wait', async ({ store, zcard }) => {
    const m = member();
    const w1 = [{ key: 'by:c:1', max: 1, perMs: 500 }];
    expect(await store.takeRateSlots('b', w1, m, HOLD)).toBe(0);
    await store.releaseRateSlots('b', w1, m);
    const wait = await store.takeRateSlots(
      'b',
      [
        { key: '', max: 5, perMs: minute },
        { key: 'by:c:1', max: 1, perMs: 500 },
      ],
      member(),
      HOLD,
    );
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(501);
    // The connector window, which had room, was left alone: a waiting call holds no slot anywhere.
    expect(await zcard('b')).toBe(0);
    // Another value of the argument is another window, with room.
    expect(
      await store.takeRateSlots(
        'b',
        [
          { key: '', max: 5, perMs: minute },
          { key: 'by:c:2', max: 1, perMs: 500 },
        ],
        member(),
        HOLD,
      ),
    ).toBe(0);
    expect(await zcard('b')).toBe(1);
  });

  it('holds the slot of a call in flight past `per`, and counts `per` from its answer', async ({ store }) => {
    const w = [{ key: '', max: 1, perMs: 200 }];
    const m = member();
    expect(await store.takeRateSlots('c', w, m, HOLD)).toBe(0);
    await sleep(300);
    // Still in flight after a whole window: the call may not have reached the server yet.
    expect(await store.takeRateSlots('c', w, member(), HOLD)).toBeGreaterThan(0);
    await store.releaseRateSlots('c', w, m);
    const wait = await store.takeRateSlots('c', w, member(), HOLD);
    expect(wait).toBeGreaterThan(150);
    expect(wait).toBeLessThanOrEqual(201);
    await sleep(wait);
    expect(await store.takeRateSlots('c', w, member(), HOLD)).toBe(0);
  });

  it('frees the slot of a call that never answers once its hold has passed', async ({ store }) => {
    const w = [{ key: '', max: 1, perMs: 100 }];
    expect(await store.takeRateSlots('d', w, member(), 150)).toBe(0);
    expect(await store.takeRateSlots('d', w, member(), 150)).toBeGreaterThan(0);
    await sleep(300);
    expect(await store.takeRateSlots('d', w, member(), 150)).toBe(0);
  });

  it('keeps every window of a connector under its hash tag, one Cluster slot for the one script', ({ store }) => {
    expect(store.keys.rateLimit('d', '')).toBe(store.keys.rateLimit('d'));
    for (const part of ['', 'tool:post_message', 'tool:post_message:by:channel:0123456789abcdef']) {
      expect(store.keys.rateLimit('slack', part)).toMatch(/^rs:rate:\{slack\}(:|$)/);
    }
  });

  it('lets windows expire after the longest hold and window', async ({ client, store }) => {
    await store.takeRateSlots('e', [{ key: 'x', max: 1, perMs: 5000 }], member(), 1000);
    const ttl = await client.pttl(store.keys.rateLimit('e', 'x'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(6000);
  });
});
