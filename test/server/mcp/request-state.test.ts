import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { Keys } from '../../../src/runs/keys.ts';
import { createRequestStates, RequestStateError } from '../../../src/server/mcp/request-state.ts';
import { test } from '../../helpers/fixtures.ts';

const payload = { cid: 'c-1', hash: 'a'.repeat(64), runId: 'r-1', conversation: 'conv-1' };
/** `connect(url)`: an ioredis client of this test's, disconnected after the file */
const it = test.extend<{ connect: (url: string) => Redis }>({
  connect: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
    async ({}, use) => {
      const clients: Redis[] = [];
      try {
        await use((url) => {
          const r = new Redis(url);
          clients.push(r);
          return r;
        });
      } finally {
        for (const c of clients) c.disconnect();
      }
    },
    { scope: 'file' },
  ],
});

async function refused(p: Promise<unknown>): Promise<RequestStateError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RequestStateError);
  return err as RequestStateError;
}

describe('MCP 2026-07-28 request states', () => {
  it('round-trips once for the principal it was minted for', async ({ redis, connect }) => {
    const states = createRequestStates({ redis: connect(redis.url), keys: new Keys('rs1') });
    const s = await states.mint(payload, 'alice');
    expect(await states.redeem(s, 'alice')).toEqual(payload);
    const again = await refused(states.redeem(s, 'alice'));
    expect(again.fault).toBe('replayed');
    expect(again.code).toBe('REQUEST_REPLAYED');
    expect(again.message).toMatch(/already answered once.*Nothing was decided/);
  });

  it('refuses a changed body, a changed signature, garbage, another principal and an expired state', async ({
    redis,
    connect,
  }) => {
    let clock = 1_800_000_000_000;
    const states = createRequestStates({ redis: connect(redis.url), keys: new Keys('rs2'), ttlSeconds: 60, now: () => clock });
    const s = await states.mint(payload, 'alice');
    const [pre, body, sig] = s.split('.') as [string, string, string];
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), hash: 'b'.repeat(64) }),
    ).toString('base64url');
    expect((await refused(states.redeem(`${pre}.${forged}.${sig}`, 'alice'))).fault).toBe('signature');
    const flipped = Buffer.from(sig, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect((await refused(states.redeem(`${pre}.${body}.${flipped.toString('base64url')}`, 'alice'))).fault).toBe('signature');
    expect((await refused(states.redeem('not-a-state', 'alice'))).fault).toBe('malformed');
    expect((await refused(states.redeem(s, 'mallory'))).fault).toBe('principal');
    clock += 61_000;
    expect((await refused(states.redeem(s, 'alice'))).fault).toBe('expired');
  });

  it('shares one generated key between processes through Redis, and a configured key differs from it', async ({
    redis,
    connect,
  }) => {
    const one = createRequestStates({ redis: connect(redis.url), keys: new Keys('rs3') });
    const two = createRequestStates({ redis: connect(redis.url), keys: new Keys('rs3') });
    expect(await two.redeem(await one.mint(payload, 'alice'), 'alice')).toEqual(payload);
    const own = createRequestStates({ redis: connect(redis.url), keys: new Keys('rs3'), key: 'k'.repeat(32) });
    expect((await refused(own.redeem(await one.mint(payload, 'alice'), 'alice'))).fault).toBe('signature');
    expect(() => createRequestStates({ redis: connect(redis.url), keys: new Keys('rs3'), key: 'short' })).toThrow(/32 bytes/);
  });
});
