/**
 * The currency a run's amounts are in when the call itself does not say: a refund's `amount` is
 * in the currency of the charge the run read. The first earlier step output that names one.
 */
export function runCurrency(run: { steps: Record<string, { output?: unknown }> }): string | undefined {
  for (const s of Object.values(run.steps)) {
    const c = (s.output as { currency?: unknown } | undefined)?.currency;
    if (typeof c === 'string' && /^[a-z]{3}$/i.test(c)) return c.toLowerCase();
  }
  return undefined;
}
