import assert from 'node:assert/strict';
import { DomainError } from '../../../src/core/domain/shared/domain-error';

/** Awaits `promise`, asserts it rejects with a DomainError `code` (whose message holds `part`); returns it. */
export async function rejectsWith(promise: Promise<unknown>, code: string, part?: string): Promise<DomainError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DomainError, String(error));
  assert.equal(error.code, code, error.message);
  if (part) assert.ok(error.message.includes(part), error.message);
  return error;
}
