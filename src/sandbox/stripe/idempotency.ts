/**
 * Stripe's idempotent requests: the first answer to a POST with an `Idempotency-Key` is kept,
 * a retry with the same key and the same parameters gets that answer again, and reusing a key for
 * something else is an `idempotency_error`. The sandbox is one account, so keys are global to it.
 */
import { StripeApiError } from './errors.ts';
import type { FormObject } from './form.ts';

export interface SavedAnswer {
  method: string;
  path: string;
  fingerprint: string;
  status: number;
  body: string;
}

const MAX_KEY_LENGTH = 255;

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`)
    .join(',')}}`;
}

export function fingerprint(params: FormObject): string {
  return canonical(params);
}

export class IdempotencyStore {
  private readonly saved = new Map<string, SavedAnswer>();

  /** The stored answer to replay, `undefined` for a new key; throws when the key was used differently. */
  lookup(key: string, method: string, path: string, params: FormObject): SavedAnswer | undefined {
    if (key.length > MAX_KEY_LENGTH) {
      throw new StripeApiError(
        400,
        'invalid_request_error',
        `Idempotency-Key must be at most ${MAX_KEY_LENGTH} characters long.`,
        undefined,
        'Idempotency-Key',
      );
    }
    const prior = this.saved.get(key);
    if (!prior) return undefined;
    if (prior.method !== method || prior.path !== path) {
      throw new StripeApiError(
        400,
        'idempotency_error',
        `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${prior.method} ` +
          `${prior.path}' vs '${method} ${path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
      );
    }
    if (prior.fingerprint !== fingerprint(params)) {
      throw new StripeApiError(
        400,
        'idempotency_error',
        `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
      );
    }
    return prior;
  }

  save(key: string, answer: SavedAnswer): void {
    this.saved.set(key, answer);
  }

  clear(): void {
    this.saved.clear();
  }
}
