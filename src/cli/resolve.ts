import { InterlockError } from '../errors.ts';
import type { StepResolution } from '../runs/store.ts';

/** Exactly one of --retry, --done-output or --fail; the output must be JSON. */
export function resolutionFromFlags(o: {
  retry?: boolean;
  doneOutput?: string;
  fail?: boolean;
  reason?: string;
}): StepResolution {
  const chosen = [o.retry, o.doneOutput !== undefined, o.fail].filter(Boolean).length;
  if (chosen !== 1) throw new InterlockError('BAD_REQUEST', 'Give exactly one of --retry, --done-output <json> or --fail');
  const extra = { by: 'cli', ...(o.reason ? { reason: o.reason } : {}) };
  if (o.retry) return { action: 'retry', ...extra };
  if (o.fail) return { action: 'fail', ...extra };
  let output: unknown;
  try {
    output = JSON.parse(o.doneOutput ?? '');
  } catch (err) {
    throw new InterlockError(
      'BAD_REQUEST',
      `--done-output must be JSON (the step's output as the tool would have answered): ${(err as Error).message}`,
    );
  }
  return { action: 'done', output, ...extra };
}
