// Checks every client value passes before it can reach PostgreSQL or JSON.stringify: NUL, broken UTF-16, nesting.
import { findInputFault, MAX_INPUT_DEPTH } from '../../contract/text.js';
import { AppError } from '../../shared/errors.js';

/**
 * Throws 400 validation_failed for the first fault in a value, naming it as `<where> '<parameter>'`.
 * `prefix` is the parameter the value came from when it is a part of a larger input (e.g. `metadata`).
 */
export function assertCleanInput(value: unknown, where: string, prefix: string[] = []): void {
  const fault = findInputFault(value, MAX_INPUT_DEPTH - prefix.length);
  if (!fault) return;
  const path = [...prefix, ...fault.path];
  const parameter = path.length > 0 ? path.join('.') : where;
  throw new AppError('validation_failed', `${where} '${parameter}': ${fault.reason}`, { parameter });
}
