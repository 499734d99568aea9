import { describe, expect, it } from 'vitest';
import { MISSING_VALUE, rateLimitsFor } from '../../src/worker/rate-limits.ts';
import type { RateLimitRule } from '../../src/workflows/types.ts';

const rule = (over: Partial<RateLimitRule>): RateLimitRule => ({
  max: 1,
  durationMs: 1000,
  pos: { line: 1, col: 1 },
  keyPos: {},
  ...over,
});
const connector = (...rules: RateLimitRule[]) => ({ rateLimits: rules });

describe('which rate-limit windows a call takes a slot in', () => {
  it('takes none when the connector has no limits', () => {
    expect(rateLimitsFor({}, 'post_message', { channel: 'C1' })).toEqual([]);
    expect(rateLimitsFor(undefined, 'post_message', {})).toEqual([]);
  });

  it('keeps the connector-wide limit in the connector key', () => {
    expect(rateLimitsFor(connector(rule({ max: 20, durationMs: 1000 })), 'anything', {})).toEqual([
      { key: '', max: 20, durationMs: 1000 },
    ]);
  });

  it('applies a tool limit to that tool only, and every matching limit in config order', () => {
    const c = connector(
      rule({ max: 20 }),
      rule({ tool: 'post_message', max: 5, durationMs: 60_000 }),
      rule({ tool: 'list_channels', max: 2 }),
    );
    expect(rateLimitsFor(c, 'post_message', {})).toEqual([
      { key: '', max: 20, durationMs: 1000 },
      { key: 'tool:post_message', max: 5, durationMs: 60_000 },
    ]);
    expect(rateLimitsFor(c, 'get_user', {}).map((s) => s.key)).toEqual(['']);
  });

  it('gives each value of the by argument its own window, and the same value the same one', () => {
    const c = connector(rule({ tool: 'post_message', by: 'channel' }));
    const [a] = rateLimitsFor(c, 'post_message', { channel: 'C1', text: 'one' });
    const [b] = rateLimitsFor(c, 'post_message', { channel: 'C2', text: 'one' });
    const [a2] = rateLimitsFor(c, 'post_message', { channel: 'C1', text: 'two' });
    expect(a.key).toMatch(/^tool:post_message:by:channel:[0-9a-f]{16}$/);
    expect(b.key).not.toBe(a.key);
    expect(a2.key).toBe(a.key);
  });

  it('tells values apart by their JSON: "1" and 1 are two windows, key order in an object is not', () => {
    const c = connector(rule({ by: 'x' }));
    const key = (x: unknown) => rateLimitsFor(c, 't', { x })[0].key;
    expect(key('1')).not.toBe(key(1));
    expect(key({ a: 1, b: 2 })).toBe(key({ b: 2, a: 1 }));
    expect(key([1, 2])).not.toBe(key([2, 1]));
  });

  it('puts calls without the argument (or with null) into one shared window, apart from every value', () => {
    const c = connector(rule({ tool: 'post_message', by: 'channel' }));
    const missing = rateLimitsFor(c, 'post_message', { text: 'hi' })[0].key;
    expect(missing).toBe(`tool:post_message:by:channel:${MISSING_VALUE}`);
    expect(rateLimitsFor(c, 'post_message', { channel: null })[0].key).toBe(missing);
    expect(rateLimitsFor(c, 'post_message', { channel: MISSING_VALUE })[0].key).not.toBe(missing);
    expect(rateLimitsFor(c, 'post_message', { channel: '' })[0].key).not.toBe(missing);
  });

  it('reads only the argument itself, not inherited properties', () => {
    const c = connector(rule({ by: 'toString' }));
    expect(rateLimitsFor(c, 't', {})[0].key).toBe(`by:toString:${MISSING_VALUE}`);
  });

  it('applies a by limit without a tool to every tool of the connector, across tools', () => {
    const c = connector(rule({ by: 'channel' }));
    const post = rateLimitsFor(c, 'post_message', { channel: 'C1' })[0].key;
    expect(rateLimitsFor(c, 'reply_in_thread', { channel: 'C1' })[0].key).toBe(post);
    expect(post).toMatch(/^by:channel:[0-9a-f]{16}$/);
  });

  it('keeps keys short and free of the value, whatever the value holds', () => {
    const c = connector(rule({ tool: 'post_message', by: 'channel' }));
    for (const hostile of [
      'x'.repeat(1_000_000),
      '}{il}:run:{r1}',
      'a:b:c',
      '\u0000\n*',
      { deep: [{ deeper: 'x'.repeat(10_000) }] },
    ]) {
      const [slot] = rateLimitsFor(c, 'post_message', { channel: hostile });
      expect(slot.key).toMatch(/^tool:post_message:by:channel:[0-9a-f]{16}$/);
    }
  });

  it('escapes names from the config so they cannot run into the other parts of the key, and hashes long ones', () => {
    const [odd] = rateLimitsFor(connector(rule({ tool: 'ns:post', by: 'a:b{c}' })), 'ns:post', { 'a:b{c}': 1 });
    expect(odd.key).toMatch(/^tool:ns%3Apost:by:a%3Ab%7Bc%7D:[0-9a-f]{16}$/);
    const long = 'p'.repeat(500);
    const [slot] = rateLimitsFor(connector(rule({ by: long })), 't', { [long]: 1 });
    expect(slot.key).toMatch(/^by:#[0-9a-f]{16}:[0-9a-f]{16}$/);
  });
});
