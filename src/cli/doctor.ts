import type { App } from '../app.ts';
import { READY_GRACE_MS, reconcileEveryMs } from '../worker/reconciler.ts';
import { type Diagnosis, diagnose } from '../worker/doctor.ts';
import { bold, green, red } from './format.ts';

/**
 * `interlock doctor [--repair] [--json]`: every run stuck by a rule the doctor knows, each named
 * with why; with --repair, what could be repaired safely was. Exit code 1 while any finding is
 * left unrepaired (a step in doubt always is: a person decides it).
 */
export async function doctorCommand(app: App, o: { repair?: boolean; json?: boolean }): Promise<number> {
  const d = await diagnose(app.store, app.queues, { repair: !!o.repair, boundMs: reconcileEveryMs() + READY_GRACE_MS });
  if (o.json) console.log(JSON.stringify(d, null, 2));
  else console.log(formatDiagnosis(d));
  return d.findings.some((f) => !f.repaired) ? 1 : 0;
}

export function formatDiagnosis(d: Diagnosis): string {
  const lines = [
    `checked ${d.checked} run${d.checked === 1 ? '' : 's'}: ${d.findings.length ? red(`${d.findings.length} stuck`) : green('nothing stuck')}`,
  ];
  for (const f of d.findings) {
    lines.push(`${bold(f.runId)}${f.stepId ? ` step ${f.stepId}` : ''}  ${f.kind}: ${f.why}`);
    if (f.repaired) lines.push(`  ${green('repaired')}: ${f.repaired}`);
    else lines.push(`  ${f.repair ? `--repair would ${f.repair}` : 'needs a person'}`);
  }
  return lines.join('\n');
}
