import { describe, expect, it } from 'vitest';
import { ConnectorPlaces } from '../../src/worker/places.ts';

/* A connector's places in one process (src/worker/places.ts): its own jobs wait for one, a job running its step in place takes one only if free. */
describe('connector places', () => {
  it('lets no more than the connector’s concurrency hold a place, and hands a freed one to the first job waiting', async () => {
    const p = new ConnectorPlaces();
    p.resize(new Map([['stripe', 2]]));
    const a = await p.acquire('stripe');
    const b = p.tryAcquire('stripe');
    expect(b).toBeDefined();
    expect(p.tryAcquire('stripe')).toBeUndefined();
    const order: string[] = [];
    const first = p.acquire('stripe').then((r) => (order.push('first'), r));
    const second = p.acquire('stripe').then((r) => (order.push('second'), r));
    expect(p.waited('stripe')).toBe(true);
    a();
    a(); // a second call of the same release frees nothing more
    const r1 = await first;
    expect(order).toEqual(['first']);
    expect(p.tryAcquire('stripe')).toBeUndefined();
    b?.();
    const r2 = await second;
    expect(order).toEqual(['first', 'second']);
    expect(p.waited('stripe')).toBe(false);
    r1();
    r2();
    expect(p.tryAcquire('stripe')).toBeDefined();
  });

  it('serves only the connectors it was given, follows a reload, and never waits for one it does not serve', async () => {
    const p = new ConnectorPlaces();
    p.resize(new Map([['slack', 1]]));
    expect(p.serves('slack')).toBe(true);
    expect(p.serves('stripe')).toBe(false);
    expect(p.tryAcquire('stripe')).toBeUndefined();
    (await p.acquire('stripe'))();
    const held = p.tryAcquire('slack');
    const waiting = p.acquire('slack');
    // A reload that raises the concurrency lets the waiting job in at once.
    p.resize(new Map([['slack', 2]]));
    const got = await waiting;
    expect(p.tryAcquire('slack')).toBeUndefined();
    held?.();
    got();
    p.resize(new Map());
    expect(p.serves('slack')).toBe(false);
  });
});
