/**
 * What a parent (the recovery coordinator of `triplex sim --processes`) tells a board process it starts, in the
 * environment: internal to the pair, not a user option.
 * - TRIPLEX_KEY_STATE_DIR: where the key epochs persist (wire-keys.ts); set: every later start rotates keys.
 * - TRIPLEX_RECOVERY_POINT: this start is a restart; the replica counts again once it executed past this seq.
 * - TRIPLEX_IPC_STATUS_MS: how often the status goes to the parent, ms (the coordinator watches rejoins).
 * - TRIPLEX_HOLD_LINKS=1: load and key, say `loaded`, open the links only at the parent's `go` (a restart
 *   make-before-break: the process it replaces still holds the devices).
 *
 * @example
 * const env = recoveryEnv(process.env); // { stateDir: '/tmp/x/key-state', recoveryPoint: 812 } or an error
 */
export interface RecoveryEnv {
  readonly stateDir?: string;
  readonly recoveryPoint?: number;
  readonly ipcStatusMs?: number;
  readonly holdLinks?: boolean;
}

export const ENV_STATE_DIR = 'TRIPLEX_KEY_STATE_DIR';
export const ENV_RECOVERY_POINT = 'TRIPLEX_RECOVERY_POINT';
export const ENV_IPC_STATUS_MS = 'TRIPLEX_IPC_STATUS_MS';
export const ENV_HOLD_LINKS = 'TRIPLEX_HOLD_LINKS';

/** The parsed variables, or a message naming the bad one. */
export function recoveryEnv(env: NodeJS.ProcessEnv): RecoveryEnv | string {
  const out: { stateDir?: string; recoveryPoint?: number; ipcStatusMs?: number; holdLinks?: boolean } = {};
  if (env[ENV_HOLD_LINKS] === '1') out.holdLinks = true;
  const dir = env[ENV_STATE_DIR];
  if (dir !== undefined && dir !== '') out.stateDir = dir;
  const point = env[ENV_RECOVERY_POINT];
  if (point !== undefined && point !== '') {
    const n = Number(point);
    if (!Number.isSafeInteger(n) || n < 0) return `${ENV_RECOVERY_POINT}=${point}: not a sequence number`;
    out.recoveryPoint = n;
  }
  const every = env[ENV_IPC_STATUS_MS];
  if (every !== undefined && every !== '') {
    const n = Number(every);
    if (!Number.isInteger(n) || n < 20 || n > 60_000) return `${ENV_IPC_STATUS_MS}=${every}: 20..60000 ms`;
    out.ipcStatusMs = n;
  }
  return out;
}
