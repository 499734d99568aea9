/**
 * Errors in Stripe's wire shape. These are the emulated API's answers, not Interlock's own errors,
 * so they stay separate from InterlockError: the stripe SDK on the other end turns them into its
 * own error classes by status and `type`.
 */
export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error' | 'rate_limit_error';

export interface StripeErrorBody {
  error: { type: StripeErrorType; message: string; code?: string; param?: string; doc_url?: string };
}

export class StripeApiError extends Error {
  readonly status: number;
  readonly type: StripeErrorType;
  readonly code: string | undefined;
  readonly param: string | undefined;
  constructor(status: number, type: StripeErrorType, message: string, code?: string, param?: string) {
    super(message);
    this.name = 'StripeApiError';
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = param;
  }

  toBody(): StripeErrorBody {
    const { type, message, code, param } = this;
    return {
      error: {
        type,
        message,
        ...(code ? { code, doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}` } : {}),
        ...(param ? { param } : {}),
      },
    };
  }
}

export function invalidRequest(message: string, code?: string, param?: string): StripeApiError {
  return new StripeApiError(400, 'invalid_request_error', message, code, param);
}

/** Stripe names the object kind and quotes the id: `No such charge: 'ch_x'`. */
export function noSuch(kind: string, id: string, param = 'id'): StripeApiError {
  return new StripeApiError(404, 'invalid_request_error', `No such ${kind}: '${id}'`, 'resource_missing', param);
}

export function unrecognizedUrl(method: string, path: string): StripeApiError {
  return new StripeApiError(
    404,
    'invalid_request_error',
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  );
}

/** Error `type` for an injected status, the way the real API pairs them. */
export function typeForStatus(status: number): StripeErrorType {
  if (status === 429) return 'rate_limit_error';
  if (status === 402) return 'card_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** Amounts in messages read like Stripe's: `$60.00`, `¥500`, `€12.50`. */
export function formatMoney(amount: number, currency: string): string {
  try {
    const fmt = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
    const digits = fmt.resolvedOptions().maximumFractionDigits ?? 2;
    return fmt.format(amount / 10 ** digits);
  } catch {
    return `${amount} ${currency}`;
  }
}
