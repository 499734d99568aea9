import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis.ts';

/**
 * Transition scripts by name and number of keys; the file is `scripts/<name>-<keys>.lua`, as in
 * BullMQ's commands. `n`: any number of keys, and the call passes that number first.
 */
const SCRIPTS = {
  startStep: 2, commitStep: 2, failStep: 2, openGate: 2, decide: 2, cancelRun: 2, resolveStep: 2,
  pinTool: 2, approveTool: 2, blockStep: 2, unblockStep: 2, takeRateSlots: 'n', releaseRateSlots: 'n', loadStep: 3,
} as const;
export type ScriptName = keyof typeof SCRIPTS;

type ScriptFn = (...keysThenArgv: string[]) => Promise<unknown>;

/** Registers the scripts on a client (EVALSHA with EVAL fallback, which survives a Redis restart). */
export function defineScripts(redis: RedisClient): Record<ScriptName, ScriptFn> {
  const out = {} as Record<ScriptName, ScriptFn>;
  for (const [name, keys] of Object.entries(SCRIPTS) as Array<[ScriptName, number | 'n']>) {
    const cmd = `il_${name}`;
    const lua = readFileSync(new URL(`./scripts/${name}-${keys}.lua`, import.meta.url), 'utf8');
    redis.defineCommand(cmd, keys === 'n' ? { lua } : { numberOfKeys: keys, lua });
    const fn = (redis as unknown as Record<string, ScriptFn>)[cmd];
    out[name] = fn.bind(redis);
  }
  return out;
}
