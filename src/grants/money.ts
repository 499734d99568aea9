/**
 * Amounts as a person reads them: minor units and an ISO currency → "15.00 USD". The number of
 * decimals comes from the currency (JPY has none), as Intl knows it, so a grant's words never
 * show cents as if they were dollars.
 */
export function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).resolvedOptions()
      .maximumFractionDigits as number;
  } catch {
    return 2;
  }
}

export function formatMinor(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  const major = amount / 10 ** digits;
  const text = major.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
    useGrouping: false,
  });
  return `${text} ${currency.toUpperCase()}`;
}

/** Whether a field name means an amount of money in minor units (Stripe's `amount`, `unit_amount`, `amount_off`, …). */
export function isAmountField(name: string): boolean {
  return /(^|_)amount($|_)/i.test(name) || /^(total|subtotal|price|unit_amount)$/i.test(name);
}
