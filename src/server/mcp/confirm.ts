import type { ElicitRequestFormParams, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import type { ConfirmationRecord } from '../../runs/records.ts';
import { confirmationPolicyLines } from '../../policy/words.ts';
import { type PlanState, planGateLines } from '../../plans/words.ts';
import { approveUrl, type Links, runUrl } from './results.ts';
import { currencyOf, fieldChoices } from '../../grants/constraints.ts';
import type { RememberRequest } from '../../grants/grant.ts';
import { rememberFromFlags } from '../../grants/remember.ts';

/** What "remember" would cover, in words: the exact payload, or the tool within each field's constraint. */
function rememberWords(c: ConfirmationRecord): string[] {
  const choices = fieldChoices(c.arguments, currencyOf(c.arguments, c.currency));
  return [
    `"Remember" alone lets exactly these arguments through again in this conversation without asking.`,
    `With remember_fields, it lets ${c.connector}.${c.tool} through whenever those fields hold what you approve now:`,
    ...choices.map((f) => `  ${f.field}: ${f.words}`),
    `remember_for limits it in time (10m, 1h); otherwise it lasts until the conversation ends.`,
  ];
}

/**
 * Asking a person about one write through `elicitation/create`. A form may only hold flat
 * primitive fields, so the message carries everything the person must see (connector, tool,
 * the full JSON arguments, their hash, the expected output) and the form holds only the
 * decision and "remember". Pure functions: the server decides what to do with the answer.
 */

export type ElicitedDecision =
  | { kind: 'approve'; remember: RememberRequest | undefined }
  | { kind: 'deny'; remember: RememberRequest | undefined }
  /** the client answered something we cannot read as a decision: leave the write pending */
  | { kind: 'unclear'; why: string };

/** `plan`: the run's plan when it has something to say (results.ts gatePlan), shown after the payload. */
export function elicitationMessage(c: ConfirmationRecord, links: Links, plan?: PlanState): string {
  const flags = [
    c.annotations.destructiveHint === false ? 'not destructive' : 'may be destructive',
    c.annotations.idempotentHint ? 'idempotent' : 'not idempotent',
    c.annotations.openWorldHint === false ? 'closed world' : 'reaches outside systems',
  ];
  const url = approveUrl(links, c.id);
  const page = runUrl(links, c.runId);
  const planLines = plan ? planGateLines(plan, { runId: c.runId, ...(page ? { url: page } : {}) }) : [];
  return [
    `Interlock asks before a write. Workflow "${c.workflow}" (run ${c.runId}, step "${c.stepId}") wants to call:`,
    '',
    `Connector: ${c.connector}`,
    `Tool: ${c.tool}${c.title ? ` — ${c.title}` : ''}`,
    ...(c.description ? [`What the tool says it does: ${c.description}`] : []),
    `Tool hints: ${flags.join(', ')}${c.reason === 'always' ? ' (this step always asks, even for reads)' : ''}`,
    ...(c.loosened?.length
      ? [
          `Note: the config's tools.overrides loosened ${c.loosened.join(', ')}; the server itself does not declare ${c.loosened.length > 1 ? 'them' : 'it'}.`,
        ]
      : []),
    ...confirmationPolicyLines(c),
    '',
    'Arguments, exactly as they will be sent:',
    JSON.stringify(c.arguments, null, 2),
    '',
    `argumentsHash: ${c.argumentsHash}`,
    `Expected output: ${c.outputSchema ? JSON.stringify(c.outputSchema) : 'the tool declares no output schema'}`,
    '',
    ...(planLines.length ? [...planLines, ''] : []),
    'Approve calls the tool once with exactly these arguments; deny stops the run and the tool is never called.',
    ...rememberWords(c),
    `You can also decide ${url ? `at ${url} or ` : ''}with \`npx interlock approve ${c.id}\` / \`npx interlock deny ${c.id}\`.`,
  ].join('\n');
}

export function elicitationParams(c: ConfirmationRecord, links: Links, plan?: PlanState): ElicitRequestFormParams {
  return {
    message: elicitationMessage(c, links, plan),
    requestedSchema: {
      type: 'object',
      properties: {
        decision: {
          type: 'string',
          title: `Call ${c.connector}.${c.tool}?`,
          description: 'approve: call it once with the arguments shown; deny: stop the run',
          // A plain enum, not titled oneOf: every protocol version's clients render it.
          enum: ['approve', 'deny'],
        },
        remember: {
          type: 'boolean',
          title: 'Remember for this conversation',
          description: 'Alone: this exact payload again in this conversation. With fields below: the tool whenever they hold.',
          default: false,
        },
        remember_fields: {
          type: 'string',
          title: 'Remember for these fields (optional)',
          description: `Comma-separated fields of ${c.connector}.${c.tool} to hold to what you approve: ${fieldChoices(
            c.arguments,
            currencyOf(c.arguments, c.currency),
          )
            .map((f) => `${f.field} (${f.words})`)
            .join(', ')}`,
        },
        remember_for: {
          type: 'string',
          title: 'Remember for how long (optional)',
          description: 'e.g. 10m or 1h; empty: until this conversation ends',
        },
      },
      required: ['decision'],
    },
  };
}

/** Accept needs an explicit decision; decline and cancel both mean "do not call it". */
export function readDecision(r: ElicitResult): ElicitedDecision {
  if (r.action === 'decline' || r.action === 'cancel') return { kind: 'deny', remember: undefined };
  const decision = r.content?.decision;
  const fields = r.content?.remember_fields;
  const ttl = r.content?.remember_for;
  let remember: RememberRequest | undefined;
  try {
    remember =
      r.content?.remember === true
        ? rememberFromFlags({
            remember: true,
            ...(typeof fields === 'string' && fields.trim() ? { fields } : {}),
            ...(typeof ttl === 'string' && ttl.trim() ? { for: ttl.trim() } : {}),
          })
        : undefined;
  } catch (err) {
    return { kind: 'unclear', why: `the remember scope could not be read: ${(err as Error).message}` };
  }
  if (decision === 'approve') return { kind: 'approve', remember };
  if (decision === 'deny') return { kind: 'deny', remember };
  return { kind: 'unclear', why: `the answer held no decision (got ${JSON.stringify(r.content ?? {})})` };
}
