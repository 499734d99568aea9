import type { ElicitRequestFormParams, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import type { ConfirmationRecord } from '../../runs/records.ts';
import { confirmationPolicyLines } from '../../policy/words.ts';
import { approveUrl, type Links } from './results.ts';

/**
 * Asking a person about one write through `elicitation/create`. A form may only hold flat
 * primitive fields, so the message carries everything the person must see (connector, tool,
 * the full JSON arguments, their hash, the expected output) and the form holds only the
 * decision and "remember". Pure functions: the server decides what to do with the answer.
 */

export type ElicitedDecision =
  | { kind: 'approve'; remember: boolean }
  | { kind: 'deny'; remember: boolean }
  /** the client answered something we cannot read as a decision: leave the write pending */
  | { kind: 'unclear'; why: string };

export function elicitationMessage(c: ConfirmationRecord, links: Links): string {
  const flags = [
    c.annotations.destructiveHint === false ? 'not destructive' : 'may be destructive',
    c.annotations.idempotentHint ? 'idempotent' : 'not idempotent',
    c.annotations.openWorldHint === false ? 'closed world' : 'reaches outside systems',
  ];
  const url = approveUrl(links, c.id);
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
    'Approve calls the tool once with exactly these arguments; deny stops the run and the tool is never called.',
    `"Remember" applies your decision to later calls of ${c.connector}.${c.tool} in this conversation without asking again.`,
    `You can also decide ${url ? `at ${url} or ` : ''}with \`npx interlock approve ${c.id}\` / \`npx interlock deny ${c.id}\`.`,
  ].join('\n');
}

export function elicitationParams(c: ConfirmationRecord, links: Links): ElicitRequestFormParams {
  return {
    message: elicitationMessage(c, links),
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
          description: `Apply this decision to later calls of ${c.connector}.${c.tool} in this conversation`,
          default: false,
        },
      },
      required: ['decision'],
    },
  };
}

/** Accept needs an explicit decision; decline and cancel both mean "do not call it". */
export function readDecision(r: ElicitResult): ElicitedDecision {
  if (r.action === 'decline' || r.action === 'cancel') return { kind: 'deny', remember: false };
  const decision = r.content?.decision;
  const remember = r.content?.remember === true;
  if (decision === 'approve') return { kind: 'approve', remember };
  if (decision === 'deny') return { kind: 'deny', remember };
  return { kind: 'unclear', why: `the answer held no decision (got ${JSON.stringify(r.content ?? {})})` };
}
