import { HiveError } from '../../protocol/errors.ts';

/** The coded error a promise rejects with; fails the test if it resolves or throws something else. */
export async function rejection(promise: Promise<unknown>): Promise<HiveError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HiveError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}
