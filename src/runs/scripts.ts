import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis.ts';

/**
 * Transition scripts by name and number of keys; the file is `scripts/<name>-<keys>.lua`, as in
 * BullMQ's commands. `n`: any number of keys, and the call passes that number first (the run
 * scripts take their index keys only on a single Redis; see includes/ready.lua).
 */
const SCRIPTS = {
  startStep: 'n',
  commitStep: 'n',
  failStep: 'n',
  openGate: 'n',
  decide: 'n',
  cancelRun: 'n',
  resolveStep: 'n',
  blockStep: 'n',
  unblockStep: 'n',
  createRun: 'n',
  markReady: 'n',
  dropReady: 'n',
  dropReadyEntry: 1,
  releaseLock: 1,
  pinTool: 2,
  approveTool: 2,
  takeRateSlots: 'n',
  releaseRateSlots: 'n',
  loadStep: 3,
  useGrant: 2,
  decideAuto: 'n',
  startItem: 'n',
  commitItem: 'n',
  waitStep: 'n',
} as const;
export type ScriptName = keyof typeof SCRIPTS;

type ScriptFn = (...keysThenArgv: string[]) => Promise<unknown>;

/** A script's text with each `--@include <name>` line replaced by scripts/includes/<name>.lua. */
function scriptText(file: string): string {
  const read = (f: string) => readFileSync(new URL(`./scripts/${f}`, import.meta.url), 'utf8');
  return read(file).replace(/^--@include (\w+)$/gm, (_, name: string) => read(`includes/${name}.lua`));
}

/** Every script by name with the text Redis runs (includes expanded), for tools that name scripts by their SHA. */
export function scriptSources(): Array<{ name: ScriptName; lua: string }> {
  return (Object.entries(SCRIPTS) as Array<[ScriptName, number | 'n']>).map(([name, keys]) => ({
    name,
    lua: scriptText(`${name}-${keys}.lua`),
  }));
}

/** Registers the scripts on a client (EVALSHA with EVAL fallback, which survives a Redis restart). */
export function defineScripts(redis: RedisClient): Record<ScriptName, ScriptFn> {
  const out = {} as Record<ScriptName, ScriptFn>;
  for (const [name, keys] of Object.entries(SCRIPTS) as Array<[ScriptName, number | 'n']>) {
    const cmd = `il_${name}`;
    const lua = scriptText(`${name}-${keys}.lua`);
    redis.defineCommand(cmd, keys === 'n' ? { lua } : { numberOfKeys: keys, lua });
    const fn = (redis as unknown as Record<string, ScriptFn>)[cmd];
    out[name] = fn.bind(redis);
  }
  return out;
}
