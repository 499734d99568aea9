/**
 * Named fail points on the step path, for tests that crash a real process exactly between a Redis
 * write and what follows it (etcd's gofail, TiKV's fail-rs). Inert unless INTERLOCK_FAILPOINTS
 * names them; then the process kills itself with SIGKILL at the point, so no handler, flush or
 * `finally` runs, as in a real crash.
 *
 *   INTERLOCK_FAILPOINTS=after-decide            dies at the first hit
 *   INTERLOCK_FAILPOINTS=after-decide@20         holds each hit until the 20th, then dies: twenty
 *                                                hand-offs left exactly at the point at once
 *   INTERLOCK_FAILPOINTS=after-commit,after-decide   several points
 */
export const FAIL_POINTS = [
  'after-create-run',
  'after-decide',
  'after-resolve',
  'after-unblock',
  'after-commit',
  'after-open-gate',
] as const;
export type FailPoint = (typeof FAIL_POINTS)[number];

interface Armed {
  at: number;
  hits: number;
}

function parse(spec: string | undefined): Map<FailPoint, Armed> {
  const out = new Map<FailPoint, Armed>();
  for (const part of (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, count] = part.split('@');
    if (!(FAIL_POINTS as readonly string[]).includes(name)) {
      throw new Error(`INTERLOCK_FAILPOINTS: unknown fail point '${name}' (known: ${FAIL_POINTS.join(', ')})`);
    }
    const at = count === undefined ? 1 : Number(count);
    if (!Number.isInteger(at) || at < 1) throw new Error(`INTERLOCK_FAILPOINTS: '${part}' needs a whole number ≥ 1 after @`);
    out.set(name as FailPoint, { at, hits: 0 });
  }
  return out;
}

const armed = parse(process.env.INTERLOCK_FAILPOINTS);

/** Whether the point is armed in this process (callers that batch work unbatch it then). */
export function isArmed(name: FailPoint): boolean {
  return armed.size > 0 && armed.has(name);
}

/**
 * Passes at once unless the point is armed. Armed: the Nth hit kills the process; earlier hits
 * never return, so each of them stays exactly at the point until the process dies.
 */
export function failPoint(name: FailPoint): Promise<void> | undefined {
  if (armed.size === 0) return undefined;
  const a = armed.get(name);
  if (!a) return undefined;
  a.hits++;
  if (a.hits >= a.at) {
    process.stderr.write(`fail point ${name} reached (hit ${a.hits}): SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  }
  return new Promise<void>(() => {});
}
