/**
 * Invariant assertions for the core (TigerBeetle style): an assertion states what must hold if the code is
 * correct, and fails loudly when it does not. Never use it to check network input: bad input gets a typed
 * rejection; a failed assertion is a bug in this code.
 *
 * @example
 * assert(low <= lastExecuted, 'low watermark above last executed', { low, lastExecuted });
 */

/** Thrown when an invariant of the core does not hold (a bug, never a consequence of input). */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
  readonly detail: Readonly<Record<string, unknown>> | undefined;
  constructor(message: string, detail?: Readonly<Record<string, unknown>>) {
    super(detail === undefined ? message : `${message} ${JSON.stringify(detail)}`);
    this.detail = detail;
  }
}

/** Throw an InvariantError unless `condition` holds. */
export function assert(
  condition: boolean,
  message: string,
  detail?: Readonly<Record<string, unknown>>,
): asserts condition {
  if (!condition) throw new InvariantError(message, detail);
}
