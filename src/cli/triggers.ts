import type { App } from '../app.ts';
import type { TriggerInfo } from '../triggers/triggers.ts';
import { bold, dim, green, yellow } from './format.ts';

/** One line per trigger: id, what starts it, paused or not, its next tick and what it last did. */
export function formatTrigger(t: TriggerInfo): string {
  const what =
    t.kind === 'webhook'
      ? `webhook ${t.webhook} POST ${t.path}${t.events?.length ? ` on ${t.events.join(', ')}` : ''}`
      : `${t.cron !== undefined ? `cron "${t.cron}"${t.timezone ? ` ${t.timezone}` : ''}` : `every ${t.everyMs} ms`} (missed: ${t.missed})`;
  const state = t.paused ? yellow(`paused by ${t.pausedBy}`) : green('active');
  const next = t.nextTick !== undefined ? ` · next ${new Date(t.nextTick).toISOString()}` : '';
  const last = t.last
    ? dim(
        ` · last ${t.last.outcome}${t.last.runId ? ` ${t.last.runId}` : ''}${t.last.reason ? ` (${t.last.reason})` : ''} at ${new Date(t.last.at).toISOString()}`,
      )
    : '';
  return `${bold(t.id)}  ${what}  ${state}${next}${last}`;
}

export async function listTriggers(a: App): Promise<void> {
  const all = await a.triggers.list();
  if (!all.length) console.log('no triggers: add triggers: to a workflow (see docs/triggers.md)');
  for (const t of all) console.log(formatTrigger(t));
}

export async function pauseTrigger(a: App, id: string): Promise<void> {
  console.log(formatTrigger(await a.triggers.pause(id, 'cli')));
}

export async function resumeTrigger(a: App, id: string): Promise<void> {
  console.log(formatTrigger(await a.triggers.resume(id)));
}
