/**
 * Amounts in minor units (Stripe's cents) as a person reads them: 2000 usd → "20.00 USD",
 * 500 jpy → "500 JPY". The number of decimals is the currency's own (ISO 4217 via Intl).
 */
import type { Money } from './types.ts';

function decimalsOf(currency: string): number {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    // Not an ISO code Intl knows: cents is the common case and says nothing wrong about the digits.
    return 2;
  }
}

export function formatMoney(amount: number, currency: string): string {
  const code = currency.toUpperCase();
  const d = decimalsOf(code);
  const major = amount / 10 ** d;
  const digits = new Intl.NumberFormat('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }).format(major);
  return `${digits} ${code}`;
}

/** Money from evaluated values, or undefined when they are not an integer amount and a currency code. */
export function toMoney(amount: unknown, currency: unknown): Money | undefined {
  if (typeof amount !== 'number' || !Number.isInteger(amount)) return undefined;
  if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) return undefined;
  return { amount, currency: currency.toLowerCase(), text: formatMoney(amount, currency) };
}
