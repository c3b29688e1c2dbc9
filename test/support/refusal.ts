import assert from 'node:assert/strict';
import type { Bit4bitError } from '../../src/errors.js';

/** Runs `fn`, expecting it to refuse its input; returns the error for inspection. */
export function refusal(fn: () => unknown, what = 'the input'): Bit4bitError {
  try {
    fn();
  } catch (e) {
    return e as Bit4bitError;
  }
  assert.fail(`expected ${what} to be refused`);
}
