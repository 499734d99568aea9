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
 */
import { Socket } from 'node:net';

type Kind = 'redisOut' | 'redisIn' | 'pipeOut' | 'pipeIn';
const port = Number(process.env.BENCH_REDIS_PORT ?? 0);
const MAX = 200_000;
let times: number[] = [];
let kinds: Kind[] = [];

function kindOf(s: Socket, out: boolean): Kind | undefined {
  if (port && s.remotePort === port) return out ? 'redisOut' : 'redisIn';
  if (s.remotePort === undefined && s.remoteAddress === undefined) return out ? 'pipeOut' : 'pipeIn';
  return undefined;
}

function note(s: Socket, out: boolean): void {
  const k = kindOf(s, out);
  if (!k || times.length >= MAX) return;
  times.push(performance.now());
  kinds.push(k);
}

if (process.env.BENCH_TRACE === '1') {
  type Write = Socket['write'];
  const write: Write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, ...args: Parameters<Write>): boolean {
    note(this, true);
    return write.apply(this, args);
  } as Write;
  type Emit = Socket['emit'];
  const emit: Emit = Socket.prototype.emit;
  Socket.prototype.emit = function (this: Socket, ...args: Parameters<Emit>): boolean {
    if ((args[0] as string | symbol) === 'data') note(this, false);
    return emit.apply(this, args);
  } as Emit;
  process.on('SIGUSR2', () => {
    process.stderr.write(`BENCH_TRACE ${JSON.stringify(steps())}\n`);
    times = [];
    kinds = [];
  });
}

export interface TraceSteps {
  steps: number;
  answerToCommitMs: number[];
  commitRoundTripMs: number[];
  replyToCallMs: number[];
}

/** Every pipeIn, redisOut, redisIn, pipeOut in a row: one step run in place. */
function steps(): TraceSteps {
  const out: TraceSteps = { steps: 0, answerToCommitMs: [], commitRoundTripMs: [], replyToCallMs: [] };
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
