export { startStripeSandbox, DEFAULT_STRIPE_SANDBOX_PORT, type StripeSandbox, type StripeSandboxOptions } from './server.ts';
export { SEED, SEED_EPOCH } from './seed.ts';
export type {
  StripeState,
  FailureRule,
  SandboxBalance,
  SandboxBalanceTransaction,
  SandboxCharge,
  SandboxCustomer,
  SandboxInvoice,
  SandboxInvoiceItem,
  SandboxInvoiceLine,
  SandboxRefund,
} from './types.ts';
