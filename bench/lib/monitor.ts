/**
 * Counts Redis commands by where they came from, using MONITOR on its own connection. Scripts are
 * named: EVALSHA's sha is matched against Interlock's transition scripts and BullMQ's commands
 * (ioredis's defineCommand sends sha1 of the exact source). Commands a script runs show up in
 * MONITOR right after it with the source `lua`, so they are charged to that script.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { scriptSources } from '../../src/runs/scripts.ts';
import { ROOT } from './procs.ts';

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

export async function scriptNames(): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const { name, lua } of scriptSources()) names.set(sha1(lua), `il.${name}`);
  const bull = join(ROOT, 'node_modules/bullmq/dist/esm/scripts');
  for (const f of readdirSync(bull).filter((n) => /-\d+\.js$/.test(n))) {
    const mod = (await import(pathToFileURL(join(bull, f)).href)) as Record<string, { name?: string; content?: string }>;
    for (const v of Object.values(mod)) if (v?.content && v.name) names.set(sha1(v.content), `bull.${v.name}`);
  }
  return names;
}

export interface MonitorEntry {
  /** seconds, with microseconds, as Redis reports them */
  time: number;
  /** local port of the client connection, or 0 for commands run inside a script */
  port: number;
  label: string;
  /** commands the entry ran inside Redis (a script's own calls), 0 for plain commands */
  inner: number;
  innerLabels: string[];
}

export class CommandMonitor {
  readonly entries: MonitorEntry[] = [];
  private conn: Redis | undefined;
  private closer: (() => void) | undefined;
  private marks = 0;
  private readonly names: Map<string, string>;
  private readonly url: string;

  constructor(url: string, names: Map<string, string>) {
    this.url = url;
    this.names = names;
  }

  async start(): Promise<void> {
    this.conn = new Redis(this.url, { maxRetriesPerRequest: null });
    this.conn.on('error', () => {});
    const mon = await this.conn.monitor();
    mon.on('monitor', (time: string, args: string[], source: string) => this.add(Number(time), args, source));
    this.closer = () => mon.disconnect();
    // MONITOR echoes nothing of its own start; a PING from another client marks that it is live.
    const ping = new Redis(this.url);
    ping.on('error', () => {});
    const before = this.entries.length;
    for (let i = 0; i < 50 && this.entries.length === before; i++) {
      await ping.ping();
      await new Promise((r) => setTimeout(r, 10));
    }
    ping.disconnect();
    this.entries.length = 0;
  }

  stop(): void {
    this.closer?.();
    this.conn?.disconnect();
  }

  private add(time: number, args: string[], source: string): void {
    const cmd = (args[0] ?? '').toUpperCase();
    if (source === 'lua') {
      const last = this.entries[this.entries.length - 1];
      if (last) {
        last.inner++;
        last.innerLabels.push(cmd);
      }
      return;
    }
    let label = cmd;
    if (cmd === 'ECHO') label = `ECHO ${args[1] ?? ''}`;
    else if (cmd === 'EVALSHA') label = this.names.get(args[1] ?? '') ?? `EVALSHA ${String(args[1]).slice(0, 8)}`;
    else if (cmd === 'EVAL') label = this.names.get(sha1(args[1] ?? '')) ?? 'EVAL ?';
    const port = Number(/:(\d+)$/.exec(source)?.[1] ?? 0);
    this.entries.push({ time, port, label, inner: 0, innerLabels: [] });
  }

  /**
   * The index just past everything Redis ran before now. MONITOR lines arrive asynchronously, so
   * a sentinel ECHO is sent on `via` (a connection no tally counts) and awaited in the feed.
   */
  async mark(via: Redis): Promise<number> {
    const token = `bench-mark-${++this.marks}`;
    await via.echo(token);
    for (let i = 0; i < 500; i++) {
      for (let j = this.entries.length - 1; j >= 0; j--) {
        if (this.entries[j].label === `ECHO ${token}`) return j + 1;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error('MONITOR feed did not show the sentinel');
  }
}

export interface Tally {
  /** commands sent by clients, by label */
  commands: Record<string, number>;
  total: number;
  /** commands run inside scripts, by the script that ran them */
  inner: Record<string, number>;
  innerTotal: number;
}

/** Counts entries [from, to) whose port is in `ports`. */
export function tally(entries: MonitorEntry[], from: number, to: number, ports: Set<number>): Tally {
  const t: Tally = { commands: {}, total: 0, inner: {}, innerTotal: 0 };
  for (const e of entries.slice(from, to)) {
    if (!ports.has(e.port)) continue;
    t.commands[e.label] = (t.commands[e.label] ?? 0) + 1;
    t.total++;
    if (e.inner) {
      t.inner[e.label] = (t.inner[e.label] ?? 0) + e.inner;
      t.innerTotal += e.inner;
    }
  }
  return t;
}

/** a − b·k, label by label, divided by n; what one unit of work costs after the idle background. */
export function perUnit(a: Tally, idle: Tally, idleScale: number, n: number): Tally {
  const sub = (x: Record<string, number>, y: Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      const v = ((x[k] ?? 0) - (y[k] ?? 0) * idleScale) / n;
      if (Math.abs(v) >= 0.005) out[k] = Math.round(v * 100) / 100;
    }
    return out;
  };
  return {
    commands: sub(a.commands, idle.commands),
    total: Math.round(((a.total - idle.total * idleScale) / n) * 100) / 100,
    inner: sub(a.inner, idle.inner),
    innerTotal: Math.round(((a.innerTotal - idle.innerTotal * idleScale) / n) * 100) / 100,
  };
}
