/**
 * What the secret suites read for leaks: every place a secret could end up, gathered as text. A
 * trace-level logger (unredacted: a secret must never be handed to a logger at all), each thing the
 * test saw (`saw(where, text)`), and all of Redis.
 */
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { App } from '../../src/app.ts';
import { waitForStatus } from '../helpers/app.ts';
import { test } from '../helpers/fixtures.ts';

export interface Seen {
  where: string;
  text: string;
}

export interface Witness {
  /** give this to the app: it writes every line, at trace level, to `logs` */
  logger: Logger;
  logs: string[];
  seen: Seen[];
  saw(where: string, text: string): void;
}

function witness(): Witness {
  const logs: string[] = [];
  const seen: Seen[] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      logs.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ level: 'trace' }, sink), logs, seen, saw: (where, text) => void seen.push({ where, text }) };
}

/**
 * The base `test` of the secret suites: `witness` for the file, and its parts by name so a test
 * writes `async ({ app, saw, seen, logs }) => …`.
 */
export const witnessTest = test.extend<{ witness: Witness; logs: string[]; seen: Seen[]; saw: Witness['saw'] }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
  witness: [async ({}, use) => use(witness()), { scope: 'file' }],
  logs: async ({ witness }, use) => use(witness.logs),
  seen: async ({ witness }, use) => use(witness.seen),
  saw: async ({ witness }, use) => use(witness.saw),
});

/** Every value in Redis, whatever its type: run records, events, confirmations, pins, BullMQ jobs and their failure stacks. */
export async function dumpRedis(app: App): Promise<string> {
  const r = app.redis.client;
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'COUNT', 500);
    cursor = next;
    for (const k of keys) {
      const type = await r.type(k);
      out.push(k);
      if (type === 'string') out.push(String(await r.get(k)));
      else if (type === 'hash') out.push(JSON.stringify(await r.hgetall(k)));
      else if (type === 'list') out.push(JSON.stringify(await r.lrange(k, 0, -1)));
      else if (type === 'set') out.push(JSON.stringify(await r.smembers(k)));
      else if (type === 'zset') out.push(JSON.stringify(await r.zrange(k, 0, -1)));
      else if (type === 'stream') out.push(JSON.stringify(await r.xrange(k, '-', '+')));
    }
  } while (cursor !== '0');
  return out.join('\n');
}

/**
 * What an OAuth client does with its token in the canaries: greet (a read) and pay (a write, left
 * waiting), through `client`; the witness sees the tool answers, both run records and their events.
 */
export async function witnessGreetAndPay(client: Client, app: App, saw: Witness['saw']): Promise<void> {
  const greet = await client.callTool({ name: 'greet', arguments: { text: 'canary' } });
  const pay = await client.callTool({ name: 'pay', arguments: { name: 'eve', amount: 2 } });
  saw('tool answers', JSON.stringify([greet, pay, await client.listTools()]));
  for (const r of [greet, pay]) {
    const runId = (r.structuredContent as { runId: string }).runId;
    const run = await waitForStatus(app, runId, ['succeeded', 'awaiting_confirmation']);
    saw(`run ${runId}`, JSON.stringify(run));
    saw(`events ${runId}`, JSON.stringify(await app.store.readEvents(runId)));
  }
}
