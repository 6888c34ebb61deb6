/**
 * How the board processes of a cluster are scheduled at their start: a board process restarted by a real-time
 * rig must start ordinary (it asks for real time itself once up, realtime.ts), and the rig finds its socat
 * relays among its children to raise them. Linux /proc and util-linux chrt; elsewhere these change nothing.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Pids of this process's children whose command is `name` (Linux /proc; empty elsewhere). */
export function childrenNamed(name: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === name && ppid === process.pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Whether `chrt` can be run here (asked once, before any flight: a spawnSync blocks the event loop). */
let chrtWorks: boolean | undefined;

/** Asks once whether `chrt` runs here; call before any flight (a restart in flight must not spawn it synchronously). */
export function probeChrt(): boolean {
  chrtWorks ??= spawnSync('chrt', ['--version'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  return chrtWorks;
}

/**
 * A child started by a real-time process inherits SCHED_FIFO (and its nice): a board process restarted while the
 * rig runs real-time would then load its code at the rig's priority, starving the boards that fly, and fly
 * real-time without the governor that takes it back when it spins (it asks for real-time itself before it is
 * needed, realtime.ts). So it is started through `chrt --other 0`, ordinary from its first instruction; a
 * make-before-break replacement (`idle`) through `chrt --idle 0`, below every other task (its seconds of module
 * loading and JIT warm-up run on what the machine leaves, ordinary load included: the process it replaces still
 * flies), taking real time itself before its go (Node.takeRealtime; leaveIdle where that is refused): the
 * rig's process spawns no blocking chrt in a frame (a spawnSync here stalled the voter's event loop at every
 * restart).
 */
export function ordinaryScheduling(
  command: string,
  args: readonly string[],
  o: { readonly idle?: boolean } = {},
): { command: string; args: string[] } {
  if (!selfIsRealtime()) return { command, args: [...args] };
  if (!probeChrt()) return { command, args: [...args] };
  return { command: 'chrt', args: [o.idle ? '--idle' : '--other', '0', command, ...args] };
}

/**
 * A process started at SCHED_IDLE (ordinaryScheduling) that did not get real time: every thread back to
 * SCHED_OTHER, so that it does not fly below every other task. Undefined when done or not needed, else why not.
 */
export function leaveIdle(pid = process.pid): string | undefined {
  if (policyOf(pid) !== 5) return undefined;
  const r = spawnSync('chrt', ['--other', '--all-tasks', '--pid', '0', String(pid)], {
    encoding: 'utf8',
    timeout: 5000,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status === 0 && policyOf(pid) !== 5) return undefined;
  return `chrt --other: ${(r.stderr ?? '').trim() || r.error?.message || `exit ${r.status}`}`;
}

function policyOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
  } catch {
    return undefined;
  }
}

/** Nice 0 for a child that inherited a lower nice (a syscall, no spawn). */
export function ordinaryNice(pid: number): void {
  try {
    setPriority(pid, 0);
  } catch {
    // gone already, or not permitted: its own request decides then
  }
}

/** Whether this process runs under a real-time policy (Linux /proc; false elsewhere). */
function selfIsRealtime(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const policy = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
    return policy === 1 || policy === 2;
  } catch {
    return false;
  }
}
