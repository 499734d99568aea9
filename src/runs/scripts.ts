import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** Transition scripts; the file suffix is the number of keys, as in BullMQ's commands. */
const NAMES = ['startStep', 'commitStep', 'failStep', 'openGate', 'decide', 'cancelRun', 'resolveStep', 'pinTool', 'approveTool', 'blockStep', 'unblockStep'] as const;
export type ScriptName = (typeof NAMES)[number];

const SOURCES: Record<ScriptName, string> = Object.fromEntries(
  NAMES.map((n) => [n, readFileSync(new URL(`./scripts/${n}-2.lua`, import.meta.url), 'utf8')]),
) as Record<ScriptName, string>;

type ScriptFn = (k1: string, k2: string, ...argv: string[]) => Promise<unknown>;

/** Registers the scripts on a client (EVALSHA with EVAL fallback, which survives a Redis restart). */
export function defineScripts(redis: Redis): Record<ScriptName, ScriptFn> {
  const out = {} as Record<ScriptName, ScriptFn>;
  for (const name of NAMES) {
    const cmd = `il_${name}`;
    redis.defineCommand(cmd, { numberOfKeys: 2, lua: SOURCES[name] });
    const fn = (redis as unknown as Record<string, ScriptFn>)[cmd];
    out[name] = fn.bind(redis);
  }
  return out;
}
