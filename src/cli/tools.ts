import type { App } from '../app.ts';
import { formatDiff } from '../runs/tool-pins.ts';
import { InterlockError } from '../errors.ts';
import type { ToolReview } from '../runs/pins.ts';
import { bold, green, red } from './format.ts';

export function formatReview(r: ToolReview): string {
  if (!r.pending)
    return `${bold(`${r.connector}.${r.tool}`)}: ${r.pin ? `pinned (${r.pin.hash.slice(0, 12)}), no change` : 'not pinned yet'}`;
  return [
    `${bold(`${r.connector}.${r.tool}`)} ${red('changed since it was pinned — disabled until approved')}`,
    `pinned ${r.pin?.hash ?? '?'}${r.pin?.approvedBy ? ` (approved by ${r.pin.approvedBy})` : ''}`,
    `now    ${r.pending.hash}`,
    formatDiff(r.changes),
  ].join('\n');
}

/** `interlock connectors changes`: every tool whose definition changed, with its diff. */
export async function listChanges(a: App): Promise<void> {
  const changed = await a.store.pins.changed();
  if (!changed.length) console.log(green('no tool changed since it was pinned'));
  for (const r of changed) console.log(`${formatReview(r)}\n`);
}

/** `interlock connectors approve-tool <id> <tool>`: shows the diff, then accepts the definition shown (or --hash). */
export async function approveTool(a: App, connector: string, tool: string, hash?: string): Promise<void> {
  const review = await a.store.pins.review(connector, tool);
  console.log(formatReview(review));
  if (!review.pending) throw new InterlockError('NOT_FOUND', `Tool ${connector}.${tool} has no change waiting for review`);
  const { resumed } = await a.engine.approveTool(connector, tool, hash ?? review.pending.hash, 'cli');
  console.log(
    green(
      `approved the new definition of ${connector}.${tool}; ${resumed.length} paused run${resumed.length === 1 ? '' : 's'} continue${resumed.length === 1 ? 's' : ''}`,
    ),
  );
}
