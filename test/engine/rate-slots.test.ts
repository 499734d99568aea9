import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../../src/runs/store.ts';
import { TestRedis } from '../helpers/redis.ts';

// The Redis side of rate limits: one script takes a slot in every window that applies to a call,
// or in none of them.

describe('taking rate slots in several windows at once', () => {
  const redis = new TestRedis();
  let client: Redis;
  let store: RunStore;
  const minute = 60_000;

  beforeAll(async () => {
    await redis.start();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    store = new RunStore(client, 'rs');
  });

  afterAll(async () => {
    client?.disconnect();
    await redis.stop();
  });

  const zcard = (connector: string, part = '') => client.zcard(store.keys.rateLimit(connector, part));

  it('takes a slot in every window when all have room', async () => {
    expect(await store.takeRateSlots('a', [{ key: '', max: 2, perMs: minute }, { key: 'tool:x', max: 1, perMs: minute }])).toBe(0);
    expect(await zcard('a')).toBe(1);
    expect(await zcard('a', 'tool:x')).toBe(1);
  });

  it('takes no slot at all when one window is full, and says how long until it has room', async () => {
    expect(await store.takeRateSlots('b', [{ key: 'by:c:1', max: 1, perMs: 500 }])).toBe(0);
    const wait = await store.takeRateSlots('b', [{ key: '', max: 5, perMs: minute }, { key: 'by:c:1', max: 1, perMs: 500 }]);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(501);
    // The connector window, which had room, was left alone: a waiting call holds no slot anywhere.
    expect(await zcard('b')).toBe(0);
    // Another value of the argument is another window, with room.
    expect(await store.takeRateSlots('b', [{ key: '', max: 5, perMs: minute }, { key: 'by:c:2', max: 1, perMs: 500 }])).toBe(0);
    expect(await zcard('b')).toBe(1);
  });

  it('waits for the window that frees up last', async () => {
    expect(await store.takeRateSlots('c', [{ key: 'short', max: 1, perMs: 200 }, { key: 'long', max: 1, perMs: minute }])).toBe(0);
    const wait = await store.takeRateSlots('c', [{ key: 'short', max: 1, perMs: 200 }, { key: 'long', max: 1, perMs: minute }]);
    expect(wait).toBeGreaterThan(200);
  });

  it('counts the connector-wide window in the key takeRateSlot has always used, so both share it', async () => {
    expect(await store.takeRateSlots('d', [{ key: '', max: 1, perMs: minute }])).toBe(0);
    expect(await store.takeRateSlot('d', 1, minute)).toBeGreaterThan(0);
    expect(store.keys.rateLimit('d', '')).toBe(store.keys.rateLimit('d'));
  });

  it('keeps every window of a connector under its hash tag, one Cluster slot for the one script', () => {
    for (const part of ['', 'tool:post_message', 'tool:post_message:by:channel:0123456789abcdef']) {
      expect(store.keys.rateLimit('slack', part)).toMatch(/^rs:rate:\{slack\}(:|$)/);
    }
  });

  it('lets windows expire with their length', async () => {
    await store.takeRateSlots('e', [{ key: 'x', max: 1, perMs: 5000 }]);
    const ttl = await client.pttl(store.keys.rateLimit('e', 'x'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5000);
  });
});
