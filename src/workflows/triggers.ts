/**
 * `triggers:` on a workflow: schedules (`cron:` or `every:`) and webhooks (`webhook: stripe | hmac`).
 * Read with positions like the rest of the file, so every mistake names its line and column.
 * What runs them is src/triggers; this only says what the file asks for.
 */
import cronParser from 'cron-parser';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { SOLE_ENV_REF } from '../connectors/env-refs.ts';
import { validateInputs } from './inputs.ts';
import { analyzeExpression } from './refs.ts';
import { NAME_RE } from './schema.ts';
import { type Field, type Source, readDuration, readList, readMap, readString, readStringList, suggest } from './source.ts';
import { locate } from './steps.ts';
import { scanTemplates } from './templates.ts';
import type { MissedTicks, ScheduleTrigger, TriggerDef, WebhookTrigger, WebhookVerify, WorkflowDef } from './types.ts';

/** A tick that starts more than this after its time counts as missed (see `missed:`). */
export const DEFAULT_GRACE_MS = 60_000;
/** Stripe's own default tolerance for a signature's timestamp. */
export const DEFAULT_TOLERANCE_S = 300;
const MISSED: readonly MissedTicks[] = ['run_once', 'skip'];
const WEBHOOK_KINDS = ['stripe', 'hmac'] as const;
const SCHEDULE_KEYS = ['name', 'cron', 'every', 'timezone', 'inputs', 'missed', 'grace'];
const WEBHOOK_COMMON = ['name', 'webhook', 'hook', 'secret', 'events', 'inputs', 'tolerance'];
const HMAC_KEYS = ['header', 'algorithm', 'encoding', 'prefix', 'timestamp_header', 'id_header'];

export function readTriggers(src: Source, f: Field, workflow: string, inputs: Record<string, unknown>): TriggerDef[] | undefined {
  const items = readList(src, f, `workflow "${workflow}" triggers`);
  if (!items) return undefined;
  const out: TriggerDef[] = [];
  const names = new Set<string>();
  let ok = true;
  for (const [i, item] of items.entries()) {
    const t = readTrigger(src, item, workflow, i, inputs);
    if (!t) {
      ok = false;
      continue;
    }
    if (names.has(t.name)) {
      src.add(item.pos, item.path, `workflow "${workflow}" has two triggers named "${t.name}"; give each its own name:`);
      ok = false;
    }
    names.add(t.name);
    out.push(t);
  }
  return ok ? out : undefined;
}

function keysOf(src: Source, f: Field): string[] {
  const node = src.deref(f.node);
  return isMap(node) ? node.items.flatMap((p) => (isScalar(p.key) ? [String(p.key.value)] : [])) : [];
}

function readTrigger(
  src: Source,
  f: Field,
  workflow: string,
  i: number,
  inputs: Record<string, unknown>,
): TriggerDef | undefined {
  const what = `trigger ${i + 1} of workflow "${workflow}"`;
  const keys = keysOf(src, f);
  if (!isMap(src.deref(f.node))) {
    src.add(
      f.pos,
      f.path,
      `${what} must be a map: {cron: "0 9 * * 1"}, {every: 15m} or {webhook: stripe, secret: "\${env:NAME}"}`,
    );
    return undefined;
  }
  if (keys.includes('webhook')) return readWebhook(src, f, what, workflow, i);
  if (keys.includes('cron') || keys.includes('every')) return readSchedule(src, f, what, workflow, i, inputs);
  src.add(f.pos, f.path, `${what} needs cron:, every: or webhook: to say what starts the run`);
  return undefined;
}

function readName(src: Source, m: Record<string, Field>, what: string, i: number): string | undefined {
  if (!m.name) return String(i + 1);
  const name = readString(src, m.name, `${what} name`);
  if (name !== undefined && !NAME_RE.test(name)) {
    src.add(m.name.pos, m.name.path, `${what} name may hold only letters, digits, _ and -`);
    return undefined;
  }
  return name;
}

function readSchedule(
  src: Source,
  f: Field,
  what: string,
  workflow: string,
  i: number,
  inputsSchema: Record<string, unknown>,
): ScheduleTrigger | undefined {
  const m = readMap(src, f, what, { optional: SCHEDULE_KEYS });
  if (!m) return undefined;
  if (m.cron && m.every) {
    src.add(m.every.keyPos, m.every.path, `${what} has both cron and every: a schedule is one or the other`);
    return undefined;
  }
  const name = readName(src, m, what, i);
  const timezone = m.timezone ? readTimezone(src, m.timezone, what) : undefined;
  let cron: string | undefined;
  let everyMs: number | undefined;
  if (m.cron) cron = readCron(src, m.cron, what, timezone);
  else if (m.every) everyMs = readDuration(src, m.every, `${what} every`, { positive: true });
  if (m.timezone && m.every) src.add(m.timezone.keyPos, m.timezone.path, `${what}: timezone applies to cron only, not to every`);
  const missed = m.missed ? readMissed(src, m.missed, what) : 'run_once';
  const graceMs = m.grace ? readDuration(src, m.grace, `${what} grace`, { positive: true }) : DEFAULT_GRACE_MS;
  const inputs = m.inputs ? readTriggerInputs(src, m.inputs, what, 'tick') : {};
  if (inputs && m.inputs && !hasTemplate(inputs)) {
    // Inputs without templates are the same every tick: check them now rather than at 9 on Monday.
    for (const issue of validateInputs(inputsSchema, inputs))
      src.add(m.inputs.pos, m.inputs.path, `${what} inputs do not fit the workflow's inputs: ${issue.field}: ${issue.message}`);
  }
  if (name === undefined || (m.cron && cron === undefined) || (m.every && everyMs === undefined)) return undefined;
  if ((m.timezone && timezone === undefined) || missed === undefined || graceMs === undefined || !inputs) return undefined;
  return {
    kind: 'schedule',
    id: `${workflow}.${name}`,
    workflow,
    name,
    ...(cron !== undefined ? { cron } : {}),
    ...(everyMs !== undefined ? { everyMs } : {}),
    ...(timezone !== undefined ? { timezone } : {}),
    inputs,
    missed,
    graceMs,
    pos: f.pos,
  };
}

function readCron(src: Source, f: Field, what: string, tz: string | undefined): string | undefined {
  const cron = readString(src, f, `${what} cron`);
  if (cron === undefined) return undefined;
  const fields = cron.trim().split(/\s+/).length;
  if (fields < 5 || fields > 6) {
    src.add(
      f.pos,
      f.path,
      `${what} cron "${cron}" has ${fields} fields; write 5 (minute hour day month weekday) or 6 (seconds first)`,
    );
    return undefined;
  }
  try {
    cronParser.parseExpression(cron, tz ? { tz } : {});
  } catch (err) {
    src.add(f.pos, f.path, `${what} cron "${cron}" is not a cron pattern: ${(err as Error).message}`);
    return undefined;
  }
  return cron.trim();
}

function readTimezone(src: Source, f: Field, what: string): string | undefined {
  const tz = readString(src, f, `${what} timezone`);
  if (tz === undefined) return undefined;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return tz;
  } catch {
    const hint = suggest(tz, Intl.supportedValuesOf('timeZone'));
    src.add(
      f.pos,
      f.path,
      `${what} has unknown timezone "${tz}"${hint ? ` (did you mean "${hint}"?)` : ''}; use an IANA name such as Europe/Berlin`,
    );
    return undefined;
  }
}

function readMissed(src: Source, f: Field, what: string): MissedTicks | undefined {
  const v = readString(src, f, `${what} missed`);
  if (v === undefined) return undefined;
  if ((MISSED as readonly string[]).includes(v)) return v as MissedTicks;
  const hint = suggest(v, MISSED);
  src.add(f.pos, f.path, `${what} has missed "${v}"${hint ? ` (did you mean "${hint}"?)` : ''}; use run_once or skip`);
  return undefined;
}

function readWebhook(src: Source, f: Field, what: string, workflow: string, i: number): WebhookTrigger | undefined {
  const kind = (() => {
    const node = src.deref(f.node);
    const pair = isMap(node) ? node.items.find((p) => isScalar(p.key) && p.key.value === 'webhook') : undefined;
    return isScalar(pair?.value) ? String(pair.value.value) : undefined;
  })();
  const m = readMap(src, f, what, {
    required: ['webhook', 'secret'],
    optional: [...WEBHOOK_COMMON, ...(kind === 'hmac' ? HMAC_KEYS : [])],
  });
  if (!m) return undefined;
  if (kind === undefined || !(WEBHOOK_KINDS as readonly string[]).includes(kind)) {
    const hint = kind ? suggest(kind, WEBHOOK_KINDS) : undefined;
    src.add(
      m.webhook.pos,
      m.webhook.path,
      `${what} has unknown webhook kind "${kind ?? ''}"${hint ? ` (did you mean "${hint}"?)` : ''}; use stripe or hmac`,
    );
    return undefined;
  }
  const name = readName(src, m, what, i);
  const hook = m.hook ? readString(src, m.hook, `${what} hook`) : workflow;
  if (m.hook && hook !== undefined && !NAME_RE.test(hook))
    src.add(m.hook.pos, m.hook.path, `${what} hook may hold only letters, digits, _ and -`);
  const secretEnv = m.secret && readSecret(src, m.secret, `${what} secret`);
  const toleranceS = m.tolerance
    ? readDuration(src, m.tolerance, `${what} tolerance`, { positive: true })
    : DEFAULT_TOLERANCE_S * 1000;
  const events = m.events ? readStringList(src, m.events, `${what} events`) : [];
  const inputs = m.inputs ? readTriggerInputs(src, m.inputs, what, 'event') : {};
  const verify =
    secretEnv === undefined || toleranceS === undefined
      ? undefined
      : kind === 'stripe'
        ? ({ type: 'stripe', secretEnv, toleranceS: Math.ceil(toleranceS / 1000) } as const)
        : readHmac(src, f, m, what, secretEnv, Math.ceil(toleranceS / 1000));
  if (name === undefined || hook === undefined || !NAME_RE.test(hook) || !verify || !events || !inputs) return undefined;
  return { kind: 'webhook', id: `${workflow}.${name}`, workflow, name, hook, verify, events, inputs, pos: f.pos };
}

function readHmac(
  src: Source,
  f: Field,
  m: Record<string, Field>,
  what: string,
  secretEnv: string,
  toleranceS: number,
): WebhookVerify | undefined {
  if (!m.header) {
    src.add(f.keyPos, `${f.path}.header`, `${what}: an hmac webhook needs header: (the header that carries the signature)`);
    return undefined;
  }
  const header = readString(src, m.header, `${what} header`);
  const algorithm = m.algorithm ? readString(src, m.algorithm, `${what} algorithm`) : 'sha256';
  if (m.algorithm && algorithm !== undefined && algorithm !== 'sha256')
    src.add(m.algorithm.pos, m.algorithm.path, `${what} algorithm "${algorithm}" is not supported; use sha256`);
  const encoding = m.encoding ? readString(src, m.encoding, `${what} encoding`) : 'hex';
  if (m.encoding && encoding !== undefined && encoding !== 'hex' && encoding !== 'base64')
    src.add(m.encoding.pos, m.encoding.path, `${what} encoding "${encoding}" is not supported; use hex or base64`);
  const prefix = m.prefix ? readString(src, m.prefix, `${what} prefix`) : '';
  const timestampHeader = m.timestamp_header ? readString(src, m.timestamp_header, `${what} timestamp_header`) : undefined;
  const idHeader = m.id_header ? readString(src, m.id_header, `${what} id_header`) : undefined;
  if (header === undefined || algorithm !== 'sha256' || (encoding !== 'hex' && encoding !== 'base64') || prefix === undefined)
    return undefined;
  if ((m.timestamp_header && timestampHeader === undefined) || (m.id_header && idHeader === undefined)) return undefined;
  return {
    type: 'hmac',
    secretEnv,
    header: header.toLowerCase(),
    algorithm,
    encoding,
    prefix,
    ...(timestampHeader ? { timestampHeader: timestampHeader.toLowerCase() } : {}),
    toleranceS,
    ...(idHeader ? { idHeader: idHeader.toLowerCase() } : {}),
  };
}

function readSecret(src: Source, f: Field, what: string): string | undefined {
  const node = src.deref(f.node);
  const v = isScalar(node) ? node.value : undefined;
  const m = typeof v === 'string' ? SOLE_ENV_REF.exec(v) : null;
  if (m) return m[1];
  src.add(f.pos, f.path, `${what} must be "\${env:NAME}": secrets only come from the environment, never from the config file`);
  return undefined;
}

/** A map of inputs whose strings may hold templates reading only `root` (`event` or `tick`). */
function readTriggerInputs(src: Source, f: Field, what: string, root: string): Record<string, unknown> | undefined {
  const node = src.deref(f.node);
  if (!isMap(node)) {
    src.add(
      f.pos,
      f.path,
      `${what} inputs must be a map of input values, not ${node === null ? 'nothing' : isSeq(node) ? 'a list' : 'a scalar'}`,
    );
    return undefined;
  }
  const before = src.issues.length;
  checkReads(src, node, f.path, root);
  return src.issues.length === before ? (node.toJS(src.doc) as Record<string, unknown>) : undefined;
}

function checkReads(src: Source, node: Node, path: string, root: string): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const v = src.deref(pair.value);
      if (v) checkReads(src, v, `${path}.${isScalar(pair.key) ? String(pair.key.value) : '?'}`, root);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const v = src.deref(item);
      if (v) checkReads(src, v, `${path}[${i}]`, root);
    });
  } else if (isScalar(node) && typeof node.value === 'string') {
    const s = node.value;
    const { segments, error } = scanTemplates(s);
    if (error) src.add(locate(src, node, s, error.offset, { start: error.offset, end: s.length }), path, error.message);
    for (const seg of segments) {
      const { reads, problems } = analyzeExpression(seg.expr);
      for (const p of problems) src.add(locate(src, node, s, seg.exprStart + p.offset, seg), path, p.message);
      for (const r of reads) {
        if (r.root === root) continue;
        const where =
          root === 'event' ? 'a webhook reads only event (the body it received)' : 'a schedule reads only tick.time and tick.ms';
        src.add(locate(src, node, s, seg.exprStart + r.offset, seg), path, `template reads "${r.root}", but ${where}`);
      }
    }
  }
}

function hasTemplate(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('${{');
  if (Array.isArray(v)) return v.some(hasTemplate);
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasTemplate);
  return false;
}

/**
 * Hooks shared by several webhook triggers (one Stripe endpoint, a workflow per event type) must
 * agree on how the sender is verified: one request is checked once.
 */
export function checkHooks(src: Source, workflows: Record<string, WorkflowDef>): void {
  const first = new Map<string, WebhookTrigger>();
  for (const wf of Object.values(workflows)) {
    for (const t of wf.triggers ?? []) {
      if (t.kind !== 'webhook') continue;
      const seen = first.get(t.hook);
      if (!seen) first.set(t.hook, t);
      else if (JSON.stringify(seen.verify) !== JSON.stringify(t.verify))
        src.add(
          t.pos,
          `workflows.${t.workflow}.triggers`,
          `trigger ${t.id} shares hook "${t.hook}" with ${seen.id} (line ${seen.pos.line}) but verifies it differently; one hook has one kind, secret and settings`,
        );
    }
  }
}
