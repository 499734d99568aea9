/**
 * Loaded into a worker child with `--import bench/lib/trace.ts` (before the probe) to see where a
 * chain step's time goes inside the worker, without touching its code: it timestamps what crosses
 * the process's sockets. Redis is the socket to BENCH_REDIS_PORT; an MCP server over stdio is a
 * pipe (a socket without a remote port: the server's stdin out, its stdout in).
 *
 * One step run in place, one chain at a time, is then always the same four crossings: the server's
 * answer comes in on the pipe, the commit goes out to Redis, Redis's answer comes in, the next call
 * goes out on the pipe, with nothing else crossing in between. On SIGUSR2 it prints, before the
 * probe's line, `BENCH_TRACE {"steps", "answerToCommitMs", "commitRoundTripMs", "replyToCallMs"}`
 * (each a list of the steps seen since the last SIGUSR2, in ms) and starts a new window.
 *
 * A job's own first step (a step a person just approved, say) starts elsewhere: BullMQ's blocking
 * connection (the one that sent BZPOPMIN) is woken, and the call goes out after the worker's Redis
 * round trips on its other connections (taking the job, loading the step, starting it). For every
 * call out on the pipe with no pipe traffic since the first such wake, `wakes` gives the time from
 * the wake to the call, how much of it the worker spent waiting on Redis (the union of the times
 * a connection had a command out and no answer yet), and how many such waits there were.
 */
import { Socket } from 'node:net';

type Kind = 'redisOut' | 'redisIn' | 'pipeOut' | 'pipeIn';
const port = Number(process.env.BENCH_REDIS_PORT ?? 0);
const MAX = 200_000;
let times: number[] = [];
let kinds: Kind[] = [];
/** per event: which socket (a number per socket), and whether it is BullMQ's blocking connection */
let socks: number[] = [];
let blocking: boolean[] = [];
let woke: boolean[] = [];
const sockIds = new WeakMap<Socket, number>();
let lastSockId = 0;
const blockers = new WeakSet<Socket>();

function kindOf(s: Socket, out: boolean): Kind | undefined {
  if (port && s.remotePort === port) return out ? 'redisOut' : 'redisIn';
  if (s.remotePort === undefined && s.remoteAddress === undefined) return out ? 'pipeOut' : 'pipeIn';
  return undefined;
}

function note(s: Socket, out: boolean, chunk?: unknown): void {
  const k = kindOf(s, out);
  if (!k || times.length >= MAX) return;
  if (k === 'redisOut' && !blockers.has(s) && startsWithBzpopmin(chunk)) blockers.add(s);
  let id = sockIds.get(s);
  if (id === undefined) sockIds.set(s, (id = ++lastSockId));
  times.push(performance.now());
  kinds.push(k);
  socks.push(id);
  // On the blocking connection, an answer that popped a marker: a job came (a timeout answers nil).
  blocking.push(blockers.has(s));
  woke.push(k === 'redisIn' && blockers.has(s) && !isNil(chunk));
}

/** A RESP nil answer (`*-1` or `$-1`): BZPOPMIN timed out. */
function isNil(chunk: unknown): boolean {
  const head = typeof chunk === 'string' ? chunk.slice(0, 3) : Buffer.isBuffer(chunk) ? chunk.toString('latin1', 0, 3) : '';
  return head === '*-1' || head === '$-1' || head === '_\r\n';
}

/** A RESP command whose name is BZPOPMIN (BullMQ's wait for a job, on its blocking connection). */
function startsWithBzpopmin(chunk: unknown): boolean {
  // `*<n>\r\n$8\r\n…`: only a command whose name has eight letters is looked at further, so the
  // check costs the worker next to nothing on its other writes.
  if (typeof chunk === 'string' ? chunk.charCodeAt(5) !== 56 : !Buffer.isBuffer(chunk) || chunk[5] !== 56) return false;
  const head = typeof chunk === 'string' ? chunk.slice(0, 24) : Buffer.isBuffer(chunk) ? chunk.toString('latin1', 0, 24) : '';
  return head.toLowerCase().includes('bzpopmin');
}

if (process.env.BENCH_TRACE === '1') {
  type Write = Socket['write'];
  const write: Write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, ...args: Parameters<Write>): boolean {
    note(this, true, args[0]);
    return write.apply(this, args);
  } as Write;
  type Emit = Socket['emit'];
  const emit: Emit = Socket.prototype.emit;
  Socket.prototype.emit = function (this: Socket, ...args: Parameters<Emit>): boolean {
    if ((args[0] as string | symbol) === 'data') note(this, false, (args as unknown[])[1]);
    return emit.apply(this, args);
  } as Emit;
  process.on('SIGUSR2', () => {
    process.stderr.write(`BENCH_TRACE ${JSON.stringify(steps())}\n`);
    times = [];
    kinds = [];
    socks = [];
    blocking = [];
    woke = [];
  });
}

export interface TraceSteps {
  steps: number;
  answerToCommitMs: number[];
  commitRoundTripMs: number[];
  replyToCallMs: number[];
  wakes: { wakeToCallMs: number[]; redisWaitMs: number[]; waits: number[] };
}

/** Every pipeIn, redisOut, redisIn, pipeOut in a row: one step run in place. */
function steps(): TraceSteps {
  const out: TraceSteps = {
    steps: 0,
    answerToCommitMs: [],
    commitRoundTripMs: [],
    replyToCallMs: [],
    wakes: wakes(),
  };
  for (let i = 0; i + 3 < kinds.length; i++) {
    if (kinds[i] !== 'pipeIn' || kinds[i + 1] !== 'redisOut' || kinds[i + 2] !== 'redisIn' || kinds[i + 3] !== 'pipeOut')
      continue;
    out.steps++;
    out.answerToCommitMs.push(times[i + 1] - times[i]);
    out.commitRoundTripMs.push(times[i + 2] - times[i + 1]);
    out.replyToCallMs.push(times[i + 3] - times[i + 2]);
    i += 3;
  }
  return out;
}

/** Each call out that follows a wake of the blocking connection with no pipe traffic in between. */
function wakes(): TraceSteps['wakes'] {
  const out: TraceSteps['wakes'] = { wakeToCallMs: [], redisWaitMs: [], waits: [] };
  let wake = -1;
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i];
    // The first wake since the last pipe traffic: BullMQ may wake again (another marker) while
    // this job's step is on its way.
    if (woke[i] && wake < 0) wake = i;
    else if (k === 'pipeIn') wake = -1;
    else if (k === 'pipeOut') {
      if (wake >= 0) {
        const { waitMs, waits } = redisWaits(wake + 1, i);
        out.wakeToCallMs.push(times[i] - times[wake]);
        out.redisWaitMs.push(waitMs);
        out.waits.push(waits);
      }
      wake = -1;
    }
  }
  return out;
}

/**
 * Between events `from` and `to`: the union of the spans in which some connection other than the
 * blocking one had a command out and no answer yet (answers that come together count once).
 */
function redisWaits(from: number, to: number): { waitMs: number; waits: number } {
  const since = new Map<number, number>();
  let waitMs = 0;
  let waits = 0;
  let openAt = -1;
  for (let i = from; i < to; i++) {
    if (blocking[i]) continue;
    if (kinds[i] === 'redisOut' && !since.has(socks[i])) {
      since.set(socks[i], times[i]);
      if (openAt < 0) openAt = times[i];
    } else if (kinds[i] === 'redisIn' && since.delete(socks[i]) && since.size === 0 && openAt >= 0) {
      waitMs += times[i] - openAt;
      waits++;
      openAt = -1;
    }
  }
  return { waitMs, waits };
}
