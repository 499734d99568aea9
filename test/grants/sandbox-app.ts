/**
 * An app on the Stripe and Slack sandboxes for one file, from workflows.yaml text, as vitest
 * fixtures: `it('…', async ({ app, sandboxes }) => …)`. The built-in connectors run as the
 * `interlock connector …` children the shipped workflows.yaml names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sandboxes } from '../../src/sandbox/index.ts';
import type { App } from '../../src/app.ts';
import type { RunRecord } from '../../src/runs/records.ts';
import { appTest } from '../helpers/fixtures.ts';
import { ROOT, waitForStatus } from '../helpers/app.ts';
import { builtinConnectorYaml, postStep, refundWorkflow } from '../helpers/workflows.ts';

/**
 * The shipped workflows.yaml without its `policy.rules`: grants and plans are about what a person
 * decides, and the shipped rules approve the small refunds these tests make by themselves.
 */
export function shippedWithoutRules(): string {
  const lines = readFileSync(join(ROOT, 'workflows.yaml'), 'utf8').split('\n');
  const at = lines.indexOf('  rules:');
  if (at < 0) return lines.join('\n');
  let end = at + 1;
  while (end < lines.length && (lines[end].startsWith('    ') || lines[end].trim() === '') && lines[end] !== '') end++;
  return [...lines.slice(0, at), ...lines.slice(end)].join('\n');
}

/** The shipped workflows.yaml, rules and all, with `workflows` added under its `workflows:`. */
export function shippedWith(workflows: string[]): string {
  return `${readFileSync(join(ROOT, 'workflows.yaml'), 'utf8')}\n${workflows.join('\n')}\n`;
}

/** `refund`: look the charge up and refund part of it, noting the customer's channel in the metadata. */
export const REFUND_NOTING_CHANNEL = refundWorkflow(
  'refund',
  "look the charge up, refund part of it, noting the customer's channel",
  '',
  { more: 'metadata: { slack_channel: "${{ steps.charge.output.customer_slack_channel }}" }' },
);

/** `refund-then-recheck`: a refund whose Slack post reads the charge looked up again after it. */
export const REFUND_THEN_RECHECK = refundWorkflow(
  'refund-then-recheck',
  'refund, look the charge up again, tell the customer what is left',
  `
      - id: recheck
        call: stripe.retrieve_charge
        with: { charge_id: "\${{ steps.charge.output.id }}" }
${postStep(
  'notify',
  '${{ steps.charge.output.customer_slack_channel }}',
  'Refunded; ${{ steps.recheck.output.amount_refundable }} cents are left to refund.',
)}
`,
);

export const SANDBOX_CONNECTORS = `${builtinConnectorYaml('stripe', '30s')}${builtinConnectorYaml('slack', '60s')}`;

export interface StripeState {
  refunds: Record<string, { id: string; charge: string; amount: number; metadata?: Record<string, string> }>;
}
export interface SlackState {
  messages: Array<{ channel: string; text: string; ts: string }>;
}

/**
 * The app for `yaml` on the sandboxes, which start first: the built-in connectors start on first use
 * and inherit the environment then.
 */
export function sandboxAppTest(yaml: string) {
  return appTest({ yaml, sandboxes: true });
}

export function refunds(s: Sandboxes): StripeState['refunds'][string][] {
  return Object.values((s.stripe.state() as unknown as StripeState).refunds);
}

export function messages(s: Sandboxes): SlackState['messages'] {
  return (s.slack.state() as unknown as SlackState).messages;
}

/** The run once it pauses or ends. */
export function settled(app: App, runId: string): Promise<RunRecord> {
  return waitForStatus(app, runId, ['awaiting_confirmation', 'succeeded', 'failed', 'denied', 'needs_attention']);
}

/** The pending confirmation of a paused run. */
export async function pending(app: App, run: RunRecord) {
  const step = Object.values(run.steps).find((s) => s.status === 'awaiting_confirmation');
  if (!step?.confirmationId) throw new Error(`run ${run.id} is ${run.status}, not at a gate`);
  return app.store.requireConfirmation(step.confirmationId);
}

/**
 * A fresh charge of `amount` cents to the seeded customer Grace on the Stripe sandbox, so what is
 * refunded from it is the caller's alone (the seed's charges are shared and mostly small).
 */
export async function newCharge(s: Sandboxes, amount: number): Promise<string> {
  const res = await fetch(`${s.stripe.url}/v1/charges`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk_test_sandbox', 'content-type': 'application/x-www-form-urlencoded' },
    body: `amount=${amount}&currency=usd&customer=cus_seed_grace`,
  });
  if (res.status !== 200) throw new Error(`the Stripe sandbox made no charge: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}
