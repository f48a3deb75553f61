import { isPrevuError, type PrevuError } from '../src/errors.js';

/** The PrevuError a promise rejects with; anything else (or success) fails the test. */
export async function prevuFailure(promise: Promise<unknown>): Promise<PrevuError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPrevuError(error)) throw new Error(`expected a PrevuError, got ${String(error)}`);
  return error;
}
