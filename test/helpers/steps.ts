/**
 * Steps as the loader makes them, for the suites that hand planStep, decideGate or the loop units
 * facts typed in (no Redis, no server). The default is the refund write most of them plan.
 */
import type { CallStep } from '../../src/workflows/types.ts';

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
