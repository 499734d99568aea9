/**
 * `node src/sandbox/stripe/entry.ts` runs the Stripe sandbox on its own, on STRIPE_SANDBOX_PORT
 * (default 12111, where the Stripe connector looks when INTERLOCK_STRIPE_API_URL is unset).
 */
import { DEFAULT_STRIPE_SANDBOX_PORT, startStripeSandbox } from './server.ts';

const port = Number(process.env.STRIPE_SANDBOX_PORT ?? DEFAULT_STRIPE_SANDBOX_PORT);
const sandbox = await startStripeSandbox({ port, host: process.env.HOST ?? '127.0.0.1' });
process.stdout.write(`Stripe sandbox listening on ${sandbox.url} (state: ${sandbox.url}/_sandbox/state)\n`);
const stop = (): void => {
  void sandbox.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
