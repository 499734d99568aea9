/**
 * The refund workflows on the built-in Stripe connector (`builtinConnectorYaml('stripe', …)` in
 * ./workflows.ts), written once: the look-up-then-refund several suites run, varied only in what
 * their tests are about (gated or not, a fixed or an input amount, retries).
 */

export interface RefundWorkflowOptions {
  description?: string;
  /** the refund's amount in cents, or 'input' for an integer `amount` input (default 100) */
  amount?: number | 'input';
  /** `confirm: never` on the refund: it runs without a person (the policy must allow it unconfirmed) */
  unconfirmed?: boolean;
  /** the refund step's `retry:` value, e.g. '{ attempts: 5, backoff: 200ms }' */
  retry?: string;
  /** the refund's `reason` argument */
  reason?: string;
}

/**
 * `<name> { charge[, amount] }`: `charge` looks the charge up (stripe.retrieve_charge), `refund`
 * refunds part of it (stripe.create_refund on the charge it found), gated unless `unconfirmed`.
 */
export function refundWorkflow(name = 'refund', opts: RefundWorkflowOptions = {}): string {
  const inputs =
    opts.amount === 'input'
      ? '{ type: object, required: [charge, amount], properties: { charge: { type: string }, amount: { type: integer } } }'
      : '{ type: object, required: [charge], properties: { charge: { type: string } } }';
  const cents = opts.amount === 'input' ? undefined : (opts.amount ?? 100);
  const amount = cents === undefined ? '"${{ inputs.amount }}"' : String(cents);
  const reason = opts.reason ? `, reason: ${opts.reason}` : '';
  const settings = [opts.unconfirmed ? '\n        confirm: never' : '', opts.retry ? `\n        retry: ${opts.retry}` : ''].join(
    '',
  );
  return `
  ${name}:
    description: ${opts.description ?? (cents === undefined ? 'look a charge up and refund part of it' : `look the charge up, then refund ${cents} cents of it`)}
    inputs: ${inputs}
    steps:
      - id: charge
        call: stripe.retrieve_charge
        with: { charge_id: "\${{ inputs.charge }}" }
      - id: refund
        call: stripe.create_refund${settings}
        with: { charge_id: "\${{ steps.charge.output.id }}", amount: ${amount}${reason} }`;
}
