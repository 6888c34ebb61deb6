/** Small helpers shared by the subcommands' argument parsing (node:util parseArgs gives strings). */

/** The log levels pino accepts, in the order a help text lists them. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * A numeric option: its value, `fallback` when absent, or an error message (a string) naming the option when
 * it is not a number of at least `min`.
 */
export function numberOption<F extends number | undefined>(
  value: string | boolean | undefined,
  name: string,
  fallback: F,
  min: number,
): number | F | string {
  if (value === undefined) return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= min ? n : `--${name} must be a number >= ${min}, got '${value}'`;
}
