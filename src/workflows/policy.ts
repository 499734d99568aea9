/**
 * `policy.rules` and `policy.money` in workflows.yaml, read with line:column problems: a rule's
 * JSONata must parse, its effect must be one Interlock knows, a quorum needs at least one
 * approver from a group some token belongs to (checked once tokens are read; see groupProblems).
 */
import jsonata from 'jsonata';
import { errorMessage } from '../errors.ts';
import { DEFAULT_AUDIT_RETENTION_MS, type MoneySpec, type PolicyRule, type RuleEffect } from '../policy/types.ts';
import { DEFAULT_CONFIRMATION_TTL_MS, type Declared, globProblem } from './schema.ts';
import {
  type Field,
  type Source,
  readDuration,
  readEntries,
  readInt,
  readList,
  readMap,
  readString,
  readStringList,
  suggest,
} from './source.ts';
import type { PolicyConfig, SourcePos, TokenConfig, WorkflowDef } from './types.ts';

const EFFECTS: readonly RuleEffect[] = ['approve', 'deny', 'require'];
const RULE_KEYS = ['name', 'description', 'tool', 'workflow', 'when', 'effect', 'require'];

/** A group a rule names, and where, checked against the tokens' groups after the whole file is read. */
export interface GroupRef {
  group: string;
  pos: SourcePos;
  path: string;
}

/**
 * The `policy` section. `allow_unconfirmed` stays as it was written (old files keep working); the
 * evaluator reads each name as a rule after the file's own (see unconfirmedRules), so `policy
 * explain` and the audit name what let a write through. Keys the file leaves out stay absent.
 */
export function readPolicy(
  src: Source,
  f: Field | undefined,
  declared: Declared,
  workflows: Record<string, WorkflowDef>,
  groups: GroupRef[],
): PolicyConfig {
  const policy: PolicyConfig = { allowUnconfirmed: [], confirmationTtlMs: DEFAULT_CONFIRMATION_TTL_MS };
  const m =
    f &&
    readMap(src, f, 'policy', {
      optional: ['allow_unconfirmed', 'confirmation_ttl', 'rules', 'money', 'groups', 'audit_retention'],
    });
  if (!m) return policy;
  if (m.confirmation_ttl)
    policy.confirmationTtlMs =
      readDuration(src, m.confirmation_ttl, 'policy confirmation_ttl', { positive: true }) ?? policy.confirmationTtlMs;
  if (m.audit_retention)
    policy.auditRetentionMs =
      readDuration(src, m.audit_retention, 'policy audit_retention', { positive: true }) ?? DEFAULT_AUDIT_RETENTION_MS;
  if (m.groups) policy.groups = readGroups(src, m.groups);
  if (m.rules) policy.rules = readRules(src, m.rules, groups);
  if (m.money) policy.money = readMoney(src, m.money);
  for (const item of (m.allow_unconfirmed && readList(src, m.allow_unconfirmed, 'policy allow_unconfirmed')) ?? []) {
    const name = readString(src, item, 'each name in policy allow_unconfirmed');
    if (name === undefined) continue;
    const problem = unconfirmedNameProblem(name, declared, workflows);
    if (problem) src.add(item.pos, item.path, `policy allow_unconfirmed: ${problem}`);
    else policy.allowUnconfirmed.push(name);
  }
  return policy;
}

/**
 * `allow_unconfirmed: [x]` as the rule it means: approve x's write when its step says `confirm:
 * never`, x being `connector.tool` or `workflow.step` (the loader checked it names one).
 */
export function unconfirmedRule(name: string): PolicyRule {
  const dot = name.indexOf('.');
  const [head, rest] = [name.slice(0, dot), name.slice(dot + 1)];
  const q = (v: string) => JSON.stringify(v);
  return {
    name: `allow_unconfirmed: ${name}`,
    description: 'named in policy.allow_unconfirmed, for a step with confirm: never',
    tool: '*',
    when:
      `step.confirm = "never" and ((tool.connector = ${q(head)} and tool.name = ${q(rest)}) or ` +
      `(run.workflow = ${q(head)} and step.id = ${q(rest)}))`,
    effect: 'approve',
    fromAllowUnconfirmed: true,
  };
}

function unconfirmedNameProblem(name: string, declared: Declared, workflows: Record<string, WorkflowDef>): string | undefined {
  const dot = name.indexOf('.');
  if (dot <= 0 || dot === name.length - 1) return `"${name}" must be connector.tool or workflow.step`;
  const [head, rest] = [name.slice(0, dot), name.slice(dot + 1)];
  if (declared.connectors.has(head)) return undefined;
  const wf = workflows[head];
  if (wf) {
    if (wf.steps.some((s) => s.id === rest)) return undefined;
    const hint = suggest(
      rest,
      wf.steps.map((s) => s.id),
    );
    return `workflow "${head}" has no step "${rest}"${hint ? ` (did you mean "${head}.${hint}"?)` : ''}`;
  }
  if (declared.workflows.has(head)) return undefined;
  const hint = suggest(head, [...declared.connectors, ...declared.workflows]);
  return `"${head}" in "${name}" is neither a connector nor a workflow${hint ? ` (did you mean "${hint}"?)` : ''}`;
}

function readExpression(src: Source, f: Field, what: string): string | undefined {
  const text = readString(src, f, what);
  if (text === undefined) return undefined;
  const bare = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(text)?.[1] ?? text;
  try {
    jsonata(bare);
  } catch (err) {
    // jsonata throws plain objects: {code, message, position (the character it stopped at)}.
    const e = err as { message?: unknown; position?: unknown };
    const message = typeof e?.message === 'string' ? e.message : errorMessage(err);
    const at = typeof e?.position === 'number' ? ` (at character ${e.position} of the expression)` : '';
    src.add(f.pos, f.path, `${what} is not valid JSONata: ${message}${at}`);
    return undefined;
  }
  return bare.trim();
}

function readToolGlob(src: Source, f: Field, what: string): string | undefined {
  const tool = readString(src, f, what);
  if (tool === undefined) return undefined;
  const problem = globProblem(tool);
  if (problem) {
    src.add(f.pos, f.path, `${what}: ${problem}`);
    return undefined;
  }
  if (!tool.includes('.') && tool !== '*') {
    src.add(f.pos, f.path, `${what} "${tool}" must name connector.tool (a glob such as stripe.* is fine)`);
    return undefined;
  }
  return tool;
}

function readEffect(src: Source, m: Record<string, Field>, what: string): RuleEffect | undefined {
  if (!m.effect) {
    if (m.require) return 'require';
    src.add(m.name?.keyPos ?? { line: 1, col: 1 }, m.name?.path ?? '', `${what} needs an effect: approve, deny or require`);
    return undefined;
  }
  const e = readString(src, m.effect, `${what} effect`);
  if (e === undefined) return undefined;
  if (!(EFFECTS as readonly string[]).includes(e)) {
    const hint = suggest(e, EFFECTS);
    src.add(
      m.effect.pos,
      m.effect.path,
      `unknown effect "${e}" in ${what}${hint ? ` (did you mean "${hint}"?)` : ''}; use approve, deny or require`,
    );
    return undefined;
  }
  if (e === 'require' && !m.require)
    src.add(m.effect.pos, m.effect.path, `${what}: effect require needs require: {approvers, group}`);
  if (e !== 'require' && m.require)
    src.add(m.require.keyPos, m.require.path, `${what}: require only goes with effect require, not ${e}`);
  return e as RuleEffect;
}

function readQuorum(src: Source, f: Field, what: string, groups: GroupRef[]): PolicyRule['require'] {
  const q = readMap(src, f, `${what} require`, { required: ['approvers', 'group'] });
  if (!q) return undefined;
  const approvers = q.approvers && readInt(src, q.approvers, `${what} require approvers`, 1);
  const group = q.group && readString(src, q.group, `${what} require group`);
  if (group !== undefined && q.group) groups.push({ group, pos: q.group.pos, path: q.group.path });
  return approvers !== undefined && group !== undefined ? { approvers, group } : undefined;
}

function readRule(src: Source, item: Field, names: Set<string>, groups: GroupRef[]): PolicyRule | undefined {
  const m = readMap(src, item, 'policy rule', { required: ['name', 'tool'], optional: RULE_KEYS });
  if (!m) return undefined;
  const name = m.name && readString(src, m.name, 'policy rule name');
  const what = `policy rule "${name ?? '?'}"`;
  if (name !== undefined && m.name && names.has(name)) src.add(m.name.pos, m.name.path, `duplicate policy rule name "${name}"`);
  if (name !== undefined) names.add(name);
  const tool = m.tool && readToolGlob(src, m.tool, `${what} tool`);
  const workflow = m.workflow && readString(src, m.workflow, `${what} workflow`);
  const description = m.description && readString(src, m.description, `${what} description`);
  const when = m.when && readExpression(src, m.when, `${what} when`);
  const effect = readEffect(src, m, what);
  const require = m.require && effect === 'require' ? readQuorum(src, m.require, what, groups) : undefined;
  const bad = m.when && when === undefined;
  if (name === undefined || tool === undefined || effect === undefined || bad || (effect === 'require' && !require))
    return undefined;
  return {
    name,
    tool,
    effect,
    ...(description ? { description } : {}),
    ...(workflow ? { workflow } : {}),
    ...(when ? { when } : {}),
    ...(require ? { require } : {}),
    pos: item.pos,
  };
}

export function readRules(src: Source, f: Field, groups: GroupRef[]): PolicyRule[] {
  const names = new Set<string>();
  const out: PolicyRule[] = [];
  for (const item of readList(src, f, 'policy rules') ?? []) {
    const r = readRule(src, item, names, groups);
    if (r) out.push(r);
  }
  return out;
}

export function readMoney(src: Source, f: Field): MoneySpec[] {
  const out: MoneySpec[] = [];
  for (const item of readList(src, f, 'policy money') ?? []) {
    const m = readMap(src, item, 'policy money entry', { required: ['tool', 'amount', 'currency'] });
    if (!m) continue;
    const tool = m.tool && readToolGlob(src, m.tool, 'policy money tool');
    const amount = m.amount && readExpression(src, m.amount, 'policy money amount');
    const currency = m.currency && readExpression(src, m.currency, 'policy money currency');
    if (tool && amount && currency) out.push({ tool, amount, currency, pos: item.pos });
  }
  return out;
}

/** `policy.groups`: group name → the identities (token names, OAuth subjects) in it. */
function readGroups(src: Source, f: Field): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of readEntries(src, f, 'policy groups') ?? []) {
    const members = readStringList(src, e, `policy group "${e.key}"`);
    if (members) out[e.key] = members;
  }
  return out;
}

/** A rule's group that neither policy.groups nor any token names could never gather its approvers. */
export function groupProblems(
  src: Source,
  refs: readonly GroupRef[],
  tokens: readonly TokenConfig[],
  declared: Record<string, string[]>,
): void {
  const known = [...new Set([...Object.keys(declared), ...tokens.flatMap((t) => t.groups ?? [])])];
  for (const r of refs) {
    if (known.includes(r.group)) continue;
    const hint = suggest(r.group, known);
    src.add(
      r.pos,
      r.path,
      `unknown group "${r.group}"${hint ? ` (did you mean "${hint}"?)` : ''}: neither policy.groups nor any token's groups name it${known.length ? ` (groups: ${known.join(', ')})` : ''}`,
    );
  }
}
