/**
 * Steps as the loader makes them, for the suites that hand planStep, decideGate or the loop units
 * facts typed in (no Redis, no server). The default is the refund write most of them plan.
 */
import type { ScopedGrant } from '../../src/grants/grant.ts';
import type { CallStep, ForeachStep } from '../../src/workflows/types.ts';

/** `stripe.create_refund` as a call step with no arguments, one attempt and `over` on top. */
export const refundStep = (over: Partial<CallStep> = {}): CallStep => ({
  kind: 'call',
  id: 'refund',
  connector: 'stripe',
  tool: 'create_refund',
  with: {},
  confirm: 'auto',
  retry: { attempts: 1, backoffMs: 10 },
  pos: { line: 1, col: 1 },
  keyPos: {},
  ...over,
});

/**
 * A foreach step `refunds` over `inputs.charges` as `charge`, five at a time, whose one step is
 * refundStep(), with `over` on top (`steps`, `as`, `concurrency`, …).
 */
export const foreachStep = (over: Partial<ForeachStep> = {}): ForeachStep => ({
  kind: 'foreach',
  id: 'refunds',
  connector: 'flow',
  tool: 'foreach',
  confirm: 'auto',
  with: {},
  foreach: 'inputs.charges',
  as: 'charge',
  concurrency: 5,
  steps: [refundStep()],
  single: true,
  continueOnError: false,
  retry: { attempts: 1, backoffMs: 10 },
  pos: { line: 1, col: 1 },
  keyPos: {},
  ...over,
});

/** A remembered decision by ops in session `s` on stripe.create_refund: approve the tool, with `over` on top. */
export const refundGrant = (over: Partial<ScopedGrant> = {}): ScopedGrant => ({
  id: 'g1',
  session: 's',
  connector: 'stripe',
  tool: 'create_refund',
  decision: 'approve',
  scope: 'tool',
  by: 'ops',
  at: 0,
  uses: 0,
  ...over,
});
