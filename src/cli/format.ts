import { type PlanState, planGateLines } from '../plans/words.ts';
import { confirmationPolicyLines } from '../policy/words.ts';
import { currencyOf, fieldChoices } from '../grants/constraints.ts';
import type { ConfirmationRecord, RunEvent, RunRecord } from '../runs/records.ts';

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const c = (code: string) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = c('1');
export const dim = c('2');
export const red = c('31');
export const green = c('32');
export const yellow = c('33');
export const cyan = c('36');

export function indent(text: string, by = '    '): string {
  return text
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}

/** A pending write shown the way ChatGPT's developer mode expands one: tool, what it does, the exact JSON. */
export function formatConfirmation(conf: ConfirmationRecord, opts: { uiUrl?: string; currency?: string } = {}): string {
  const a = conf.annotations;
  const hints = [
    a.destructiveHint ? red('destructive') : '',
    a.idempotentHint ? 'idempotent' : '',
    a.openWorldHint ? 'open world' : '',
  ]
    .filter(Boolean)
    .join(', ');
  const lines = [
    bold(yellow(`⏸  Confirmation needed: ${conf.connector}.${conf.tool}`) + (conf.title ? ` — ${conf.title}` : '')),
    `   run ${conf.runId} · step ${conf.stepId} · workflow ${conf.workflow} · session ${conf.session}`,
    conf.description ? `   ${dim(conf.description.split('\n')[0])}` : '',
    `   kind: ${conf.reason === 'write' ? 'write' : 'confirm: always'}${hints ? ` (${hints})` : ''}`,
    conf.loosened?.length
      ? `   ${yellow(`annotations loosened by tools.overrides: ${conf.loosened.join(', ')} (the server does not declare them)`)}`
      : '',
    ...confirmationPolicyLines(conf).map((l) => `   ${yellow(l)}`),
    `   arguments (exact JSON that will be sent):`,
    indent(JSON.stringify(conf.arguments, null, 2), '     '),
    `   argumentsHash: ${conf.argumentsHash}`,
  ];
  if (conf.outputSchema) lines.push(`   expected output:`, ...summarizeSchema(conf.outputSchema).map((l) => `     ${l}`));
  lines.push(`   expires: ${new Date(conf.expiresAt).toISOString()}`);
  const quorum = conf.policy?.kind === 'rule' ? conf.policy.require : undefined;
  if (quorum) {
    lines.push(
      `   approve: ${cyan(`npx interlock approve ${conf.id} --as <approver>`)}   (each of ${quorum.approvers} approvers from group "${quorum.group}")`,
    );
  } else {
    lines.push(`   approve: ${cyan(`npx interlock approve ${conf.id}`)}`);
    lines.push(`   remember: --remember (this exact payload again in session ${conf.session}), or --fields with some of:`);
    for (const c of fieldChoices(conf.arguments, currencyOf(conf.arguments, opts.currency ?? conf.currency)))
      lines.push(`     ${c.field.padEnd(24)} → ${c.words}`);
    lines.push(`     (then ${conf.connector}.${conf.tool} within those fields; add --for 10m and --uses 3 to limit it)`);
  }
  lines.push(`   deny:    ${cyan(`npx interlock deny ${conf.id}`)}`);
  if (opts.uiUrl) lines.push(`   or open ${opts.uiUrl}`);
  return lines.filter((l) => l !== '').join('\n');
}

/** The plan beside a pending write, in the words every front end uses (plans/words.ts). */
export function formatPlanAtGate(plan: PlanState, runId: string, uiUrl?: string): string {
  return planGateLines(plan, { runId, ...(uiUrl ? { url: uiUrl } : {}) })
    .map((l) => `   ${l.startsWith('Approve the whole plan') ? cyan(l) : l}`)
    .join('\n');
}

export function formatEvent(e: RunEvent): string {
  const t = new Date(e.at).toISOString().slice(11, 23);
  const step = e.stepId ? ` ${e.stepId}` : '';
  const extra = e.data.message
    ? ` — ${String(e.data.message)}`
    : e.data.durationMs !== undefined
      ? ` (${String(e.data.durationMs)} ms)`
      : '';
  const type =
    e.type.endsWith('failed') || e.type.endsWith('denied') || e.type.endsWith('in_doubt')
      ? red(e.type)
      : e.type.endsWith('succeeded') || e.type.endsWith('approved')
        ? green(e.type)
        : e.type;
  return `${dim(t)} ${type}${step}${extra}`;
}

export function formatRun(run: RunRecord): string {
  const status =
    run.status === 'succeeded'
      ? green(run.status)
      : ['failed', 'denied', 'needs_attention'].includes(run.status)
        ? red(run.status)
        : yellow(run.status);
  const lines = [`${bold(`run ${run.id}`)} ${run.workflow}@${run.version} — ${status}`];
  if (run.error) lines.push(`  error: ${run.error.code}: ${run.error.message}`);
  for (const s of Object.values(run.steps)) {
    lines.push(`  ${s.id}: ${s.status}${s.error ? ` — ${s.error.message}` : ''}`);
    if (s.output !== undefined && s.status === 'succeeded') lines.push(indent(JSON.stringify(s.output, null, 2), '      '));
  }
  return lines.join('\n');
}

/** One line per output field (`name: type — description`), the way a person reads an expected result. */
export function summarizeSchema(schema: Record<string, unknown>): string[] {
  const props = schema.properties as Record<string, { type?: unknown; description?: string }> | undefined;
  if (!props) return [JSON.stringify(schema)];
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, p]) => {
    const type = Array.isArray(p.type) ? p.type.join(' | ') : String(p.type ?? 'any');
    return `${name}${required.has(name) ? '' : '?'}: ${type}${p.description ? dim(` — ${p.description}`) : ''}`;
  });
}
