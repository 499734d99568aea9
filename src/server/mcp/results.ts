import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type PlanState, planGateLines, planWorthShowing } from '../../plans/words.ts';
import { confirmationPolicyLines } from '../../policy/words.ts';
import type { ConfirmationRecord, ErrorInfo, RunRecord } from '../../runs/records.ts';
import { TERMINAL_RUN_STATUSES } from '../../runs/records.ts';
import type { RunPlans, RunQueries } from '../services.ts';

/** Where a person approves a write, for links in answers; absent when nothing serves pages. */
export interface Links {
  publicUrl?: string;
}

export interface ConfirmationView {
  id: string;
  status: string;
  connector: string;
  tool: string;
  title?: string;
  description?: string;
  annotations: Record<string, unknown>;
  arguments: Record<string, unknown>;
  argumentsHash: string;
  outputSchema?: Record<string, unknown>;
  expiresAt: string;
  approveUrl?: string;
  approveCommand: string;
  /** the amount, the rule that applies and a quorum's approvals so far, in words (policy/words.ts) */
  policy?: string[];
}

export interface RunView {
  runId: string;
  workflow: string;
  status: string;
  done: boolean;
  steps: Array<{ id: string; call: string; status: string; output?: unknown; error?: ErrorInfo; note?: string }>;
  error?: ErrorInfo;
  confirmation?: ConfirmationView;
  /** the writes ahead, in words, and how to approve them all at once (plans/words.ts) */
  plan?: PlanSummary;
  next: string;
}

export interface PlanSummary {
  planHash: string;
  /** planned writes that approving the plan would let through */
  writes: number;
  lines: string[];
  approveCommand: string;
  approveUrl?: string;
}

export function approveUrl(links: Links, cid: string): string | undefined {
  return links.publicUrl ? `${links.publicUrl.replace(/\/+$/, '')}/ui/confirmations/${encodeURIComponent(cid)}` : undefined;
}

export function confirmationView(c: ConfirmationRecord, links: Links): ConfirmationView {
  const url = approveUrl(links, c.id);
  return {
    id: c.id,
    status: c.status,
    connector: c.connector,
    tool: c.tool,
    ...(c.title ? { title: c.title } : {}),
    ...(c.description ? { description: c.description } : {}),
    annotations: { ...c.annotations },
    arguments: c.arguments,
    argumentsHash: c.argumentsHash,
    ...(c.outputSchema ? { outputSchema: c.outputSchema } : {}),
    expiresAt: new Date(c.expiresAt).toISOString(),
    ...(url ? { approveUrl: url } : {}),
    approveCommand: `npx interlock approve ${c.id}`,
    ...(c.policy ? { policy: confirmationPolicyLines(c) } : {}),
  };
}

export function runUrl(links: Links, runId: string): string | undefined {
  return links.publicUrl ? `${links.publicUrl.replace(/\/+$/, '')}/ui/runs/${encodeURIComponent(runId)}` : undefined;
}

/** The plan beside a paused run's write, when it has something to say; a plan that cannot be built is left out. */
export async function gatePlan(plans: RunPlans, run: RunRecord): Promise<PlanState | undefined> {
  if (run.status !== 'awaiting_confirmation') return undefined;
  const s = await plans.current(run.id).catch(() => undefined);
  return s && planWorthShowing(s) ? s : undefined;
}

export function planSummary(s: PlanState, runId: string, links: Links): PlanSummary {
  const url = runUrl(links, runId);
  return {
    planHash: s.plan.planHash,
    writes: s.plan.items.filter((i) => i.status === 'planned').length,
    lines: planGateLines(s, { runId, ...(url ? { url } : {}) }),
    approveCommand: `npx interlock plan ${runId} --approve ${s.plan.planHash}`,
    ...(url ? { approveUrl: url } : {}),
  };
}

/** The confirmation a run waits on right now, if any. */
export async function pendingConfirmation(
  store: Pick<RunQueries, 'getConfirmation'>,
  run: RunRecord,
): Promise<ConfirmationRecord | undefined> {
  if (run.status !== 'awaiting_confirmation') return undefined;
  for (const s of Object.values(run.steps)) {
    if (s.status !== 'awaiting_confirmation' || !s.confirmationId) continue;
    const c = await store.getConfirmation(s.confirmationId);
    if (c?.status === 'pending') return c;
  }
  return undefined;
}

function nextHint(run: RunRecord, conf: ConfirmationRecord | undefined, note: string | undefined): string {
  if (note) return note;
  switch (run.status) {
    case 'succeeded':
      return 'The run finished; report the step outputs to the user.';
    case 'failed':
      return 'The run failed; tell the user the error. Do not retry a write on your own.';
    case 'denied':
      return 'A person denied a write, so the run stopped and the tool was not called; do not try to get around the decision.';
    case 'cancelled':
      return 'The run was cancelled.';
    case 'needs_attention':
      return 'A write may or may not have reached its server; a person must check before anything is retried. Tell the user.';
    case 'awaiting_confirmation':
      return conf
        ? `A person must approve ${conf.connector}.${conf.tool} with exactly these arguments (the web page or the command shown). Show the user, then call get_run later; you cannot approve it.`
        : 'The run waits for a person to approve a write; call get_run later.';
    default:
      return `The run is still ${run.status}; call get_run with runId "${run.id}" in a few seconds.`;
  }
}

export function runView(
  run: RunRecord,
  conf: ConfirmationRecord | undefined,
  links: Links,
  note?: string,
  plan?: PlanState,
): RunView {
  const steps = run.definition.steps.map((def) => {
    const s = run.steps[def.id];
    return {
      id: def.id,
      call: `${def.connector}.${def.tool}`,
      status: s?.status ?? 'pending',
      ...(s?.output !== undefined ? { output: s.output } : {}),
      ...(s?.error ? { error: s.error } : {}),
      ...(s?.note ? { note: s.note } : {}),
    };
  });
  return {
    runId: run.id,
    workflow: run.workflow,
    status: run.status,
    done: TERMINAL_RUN_STATUSES.has(run.status),
    steps,
    ...(run.error ? { error: run.error } : {}),
    ...(conf ? { confirmation: confirmationView(conf, links) } : {}),
    ...(conf && plan ? { plan: planSummary(plan, run.id, links) } : {}),
    next: nextHint(run, conf, note),
  };
}

/** A short text for clients that read only text; the full state is in structuredContent. */
export function runText(v: RunView): string {
  const lines = [`Run ${v.runId} of ${v.workflow}: ${v.status}.`];
  lines.push(`Steps: ${v.steps.map((s) => `${s.id} ${s.status}`).join(', ')}.`);
  for (const s of v.steps) {
    if (s.output !== undefined && s.status === 'succeeded') lines.push(`${s.id} output: ${clip(JSON.stringify(s.output), 500)}`);
  }
  if (v.error) lines.push(`Error (${v.error.code}): ${v.error.message}`);
  const c = v.confirmation;
  if (c) {
    lines.push(
      `Waiting for a person to approve ${c.connector}.${c.tool} with arguments ${JSON.stringify(c.arguments)} (argumentsHash ${c.argumentsHash}).`,
    );
    if (c.policy) lines.push(...c.policy);
    lines.push(
      `Approve or deny ${c.approveUrl ? `at ${c.approveUrl} or ` : ''}with \`${c.approveCommand}\` (or \`npx interlock deny ${c.id}\`).`,
    );
  }
  if (v.plan) lines.push(...v.plan.lines);
  lines.push(v.next);
  return lines.join('\n');
}

export function runResult(v: RunView): CallToolResult {
  return {
    content: [{ type: 'text', text: runText(v) }],
    structuredContent: v as unknown as Record<string, unknown>,
    ...(v.status === 'failed' ? { isError: true } : {}),
  };
}

/** A tool call that could not do its job: a clear text for the model, no protocol error. */
export function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** list_workflows' answer (from tools.ts listWorkflows), the same on every protocol revision. */
export function workflowsResult(out: { workflows: Array<Record<string, unknown>> }): CallToolResult {
  const text =
    out.workflows.map((w) => `${String(w.name)}: ${String(w.description)}`).join('\n') || 'No workflows are configured.';
  return { content: [{ type: 'text', text }], structuredContent: out };
}

/** get_run's answer for a checked runId: the run, its pending write and its plan in words, on every revision. */
export async function getRunResult(
  services: { queries: RunQueries; plans: RunPlans },
  links: Links,
  runId: string,
): Promise<CallToolResult> {
  const run = await services.queries.getRun(runId);
  if (!run) return toolError(`No run with id "${runId}". Use the runId that run_workflow answered with.`);
  const conf = await pendingConfirmation(services.queries, run);
  return runResult(runView(run, conf, links, undefined, await gatePlan(services.plans, run)));
}
