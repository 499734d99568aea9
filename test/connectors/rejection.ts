import { expect } from 'vitest';
import { InterlockError } from '../../src/errors.ts';

/** The InterlockError a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(p: Promise<unknown>): Promise<InterlockError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InterlockError);
  return err as InterlockError;
}
