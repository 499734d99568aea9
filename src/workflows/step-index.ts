import type { StepDef } from './types.ts';

/**
 * Where each step id sits in a definition's step list, worked out once per list: a long chain
 * looks its steps up at every step, and a search of a hundred ids each time adds up.
 */
const indexes = new WeakMap<readonly StepDef[], Map<string, number>>();

/** The position of step `id` in `steps`, or -1. The list is a definition's, never changed once loaded. */
export function stepIndex(steps: readonly StepDef[], id: string): number {
  let m = indexes.get(steps);
  if (!m) {
    m = new Map(steps.map((s, i) => [s.id, i]));
    indexes.set(steps, m);
  }
  return m.get(id) ?? -1;
}
