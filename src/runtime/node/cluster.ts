/**
 * Board processes on a laptop (`triplex sim --processes`): every board but the rig's runs as a child
 * `triplex node` process, joined to the others by pseudo-terminal pairs made with socat (a serial mesh: one pair
 * per link) or by the emulated CAN bus (run here, presenting each board an SLCAN adapter on a pty). A fresh key
 * set is generated for the run. The rig's own board is built by the caller on `topology` (rewritten to the pty
 * paths) with `createBoardTransport`.
 *
 * Children are real processes. They are always stopped: `close()` asks each over IPC, sends SIGTERM to one still
 * running at half the grace period and SIGKILL at its end; a child whose parent vanishes exits on its own (the
 * IPC channel disconnects).
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { UnitHealth } from '../../core/frame/inputs.ts';
import { type EmulatedBusSetup, startEmulatedCanBus } from '../../io/can-emu.ts';
import { PtyPair } from '../../io/pty.ts';
import { type LinkConfig, parseTopology, type Topology, type TopologyFile } from '../config.ts';
import { generateKeySet } from '../keyfiles.ts';
import type { ChannelFault } from '../loop/channel-fault.ts';
import { topologyPrincipals } from '../loop/keys.ts';
import { ChildProc, ChildSet, triplexCommand } from '../process/child.ts';
import { ENV_HOLD_LINKS, ENV_IPC_STATUS_MS, ENV_RECOVERY_POINT, ENV_STATE_DIR } from '../recovery/env.ts';
import type { BoardProcesses, RestartPhase } from '../recovery/process-recovery.ts';
import { childrenNamed, ordinaryNice, ordinaryScheduling, probeChrt } from './child-scheduling.ts';
import {
  type BoardStatus,
  type FromBoard,
  type HostReport,
  parseFromBoard,
  type RecoveryStatus,
  type ToBoard,
} from './ipc.ts';
import type { RemoteBoards } from './process-loop.ts';
import { ROLE_PRIORITY, requestRealtime } from './realtime.ts';

export type ClusterLink = 'serial' | 'can';

export interface ClusterOptions {
  /** The topology to run; its links are replaced by pty links of the chosen kind. */
  readonly topology: Topology;
  readonly link: ClusterLink;
  /** Board that stays in this process (the rig's). */
  readonly localBoard: string;
  /** Scratch directory for ptys, the rewritten config and the key set (created; removed by the caller). */
  readonly workDir: string;
  /** Where each child writes its log (node-<board>.log). */
  readonly logDir: string;
  readonly logLevel: string;
  readonly seed: number;
  readonly logger: Logger;
  /**
   * How long the children may take to bring their links up (ms, default 60000: at load 15 on 2 cores, four
   * children loading the code, warming up and opening their links took over 20 s).
   */
  readonly readyTimeoutMs?: number;
  /** Serial baud rate of generated links (default 921600). */
  readonly baud?: number;
  /** Pace serial writes at the baud rate (default true; false passes --no-pace to the boards). */
  readonly pace?: boolean;
  /**
   * Proactive recovery (src/runtime/recovery/process-recovery.ts): the children persist their key epochs in
   * the work directory (every later start rotates their keys), report their recovery status every
   * `statusEveryMs` (default 100), and can be restarted (`restart`).
   */
  readonly recovery?: { readonly statusEveryMs?: number };
  /** Node flags for the board processes, before the script (a diagnostic's `--cpu-prof`, say). */
  readonly nodeArgs?: readonly string[];
}

/** Re-exported: the command line of a triplex child process now lives in ../process/child.ts. */
export { triplexCommand };

interface Child {
  readonly board: string;
  readonly proc: ChildProc;
  ready: boolean;
  /** Loaded with its links held (make-before-break restart). */
  loaded: boolean;
  last: BoardStatus | undefined;
  /** performance.now() when `last` came. */
  lastAt: number;
  /** Status messages received from this process. */
  statusCount: number;
  final: BoardStatus | undefined;
}

/** Lines of a child's stderr kept for error messages. */
const STDERR_LINES = 40;
/** Host reports kept until the flight takes them (a child reports at most one per window: about 10 s here). */
const MAX_HOST_REPORTS = 2000;

/** A clear error when socat is not installed (the pty pairs need it). */
export function requireSocat(): void {
  const r = spawnSync('socat', ['-V'], { stdio: 'ignore' });
  if (r.error !== undefined) {
    throw new Error(
      `socat is needed for board processes joined by pseudo-terminals but could not be run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): install it (apt-get install socat, brew install socat)`,
    );
  }
}

export class ProcessCluster implements RemoteBoards, BoardProcesses {
  private readonly children = new Map<string, Child>();
  /** The board processes: killed by the set itself if this process exits without close(). */
  private readonly processes = new ChildSet();
  private readonly pairs: PtyPair[] = [];
  private bus: EmulatedBusSetup | undefined;
  private closing = false;
  private hostReports: HostReport[] = [];
  private hostReportsDropped = 0;
  /** Last resort when this process exits without close() (an uncaught error): kill socat now. */
  private readonly killAllSync = (): void => {
    for (const p of this.pairs) if (p.pid !== undefined) killQuietly(p.pid);
  };

  private constructor(
    private readonly o: ClusterOptions,
    /** The run's topology: links rewritten to the pty paths. */
    readonly topology: Topology,
    readonly configFile: string,
    readonly keysDir: string,
  ) {}

  /** Sets up links and keys, spawns the board processes and waits until every one reports its links up. */
  static async start(o: ClusterOptions): Promise<ProcessCluster> {
    requireSocat();
    // Asked now, before any flight: a restart in flight must not spawn it synchronously (ordinaryScheduling).
    probeChrt();
    mkdirSync(o.workDir, { recursive: true, mode: 0o700 });
    mkdirSync(o.logDir, { recursive: true });
    const keysDir = join(o.workDir, 'keys');
    await generateKeySet(keysDir, topologyPrincipals(o.topology));
    const partial = new ProcessCluster(o, o.topology, '', keysDir);
    process.on('exit', partial.killAllSync);
    try {
      const links = await partial.makeLinks();
      const file = join(o.workDir, 'config.json');
      const raw: TopologyFile = { ...stripResolved(o.topology), links };
      writeFileSync(file, `${JSON.stringify(raw, null, 2)}\n`);
      const cluster = new ProcessCluster(o, parseTopology(raw, file), file, keysDir);
      cluster.pairs.push(...partial.pairs);
      cluster.bus = partial.bus;
      partial.pairs.length = 0;
      partial.bus = undefined;
      process.off('exit', partial.killAllSync);
      process.on('exit', cluster.killAllSync);
      try {
        cluster.spawnAll();
        await cluster.waitReady(o.readyTimeoutMs ?? 60_000);
        cluster.raiseRelays();
      } catch (e) {
        await cluster.close();
        throw e;
      }
      return cluster;
    } catch (e) {
      await partial.close();
      throw e;
    }
  }

  /** Boards running as child processes. */
  get boards(): string[] {
    return [...this.children.keys()];
  }

  /**
   * Restarts per board (proactive and reactive), the last start's time to ready, and when each of its phases
   * ended, ms after the restart began (loaded: the new process warmed up and keyed; handedOver: beforeStop done;
   * stopped: the old process exited; ready: the new one's links up).
   */
  readonly starts: Record<
    string,
    {
      restarts: number;
      lastReadyMs: number;
      phases: { loaded?: number; handedOver?: number; stopped?: number; ready?: number };
    }
  > = {};

  /** The latest recovery status of the board's current process (undefined while it starts, or with recovery off). */
  recoveryStatus(board: string): { status: RecoveryStatus; ageMs: number; count: number } | undefined {
    const c = this.children.get(board);
    const status = c?.last?.recovery;
    if (c === undefined || status === undefined || c.proc.exited) return undefined;
    return { status, ageMs: performance.now() - c.lastAt, count: c.statusCount };
  }

  handOver(board: string): boolean {
    return this.send(board, { type: 'handover' });
  }

  sendRecoveryPoint(board: string, seq: number): boolean {
    return this.send(board, { type: 'recovery-point', seq });
  }

  /** Memory of each board process, as its latest status says (bytes). */
  memory(): Record<string, { heapUsed: number; rss: number } | undefined> {
    const out: Record<string, { heapUsed: number; rss: number } | undefined> = {};
    for (const c of this.children.values()) out[c.board] = c.last?.memory;
    return out;
  }

  /**
   * Stop `board`'s process (the IPC stop, then SIGTERM and SIGKILL if need be: ChildProc.stop; or SIGKILL at
   * once with `kill`) and start it again from the installed code with `recoveryPoint`; resolves once the new
   * process reports its links up. Its key epochs persist in the work directory, so the new process announces
   * fresh keys. `beforeStop` runs once the new process has loaded, right before the old one is stopped (make-before-break
   * only): the primary's board hands its view over there, when the stop is imminent, not seconds earlier.
   */
  async restart(
    board: string,
    o: {
      readonly recoveryPoint: number;
      readonly kill: boolean;
      readonly beforeStop?: () => Promise<void>;
      readonly onPhase?: (phase: RestartPhase) => void;
    },
  ): Promise<void> {
    const old = this.children.get(board);
    if (old === undefined) throw new Error(`no board process '${board}'`);
    if (this.closing) return;
    const started = performance.now();
    const deadline = started + (this.o.readyTimeoutMs ?? 60_000);
    const env = { [ENV_RECOVERY_POINT]: String(o.recoveryPoint) };
    const phases: { loaded?: number; handedOver?: number; stopped?: number; ready?: number } = {};
    const mark = (p: RestartPhase): void => {
      phases[p] = Math.round(performance.now() - started);
      o.onPhase?.(p);
    };
    let child: Child;
    if (o.kill) {
      // A crash or a hang: the old process is killed first (it cannot hand anything over).
      old.proc.kill();
      await old.proc.exit;
      mark('stopped');
      child = this.spawn(board, env);
    } else {
      // Make-before-break: the new process loads (seconds of compiling on a loaded host) while the old one
      // still flies; the old one is stopped only then, and the new one opens the links it held.
      child = this.spawn(board, { ...env, [ENV_HOLD_LINKS]: '1' }, false);
      await this.until(child, () => child.loaded, deadline, 'loaded');
      mark('loaded');
      if (this.closing) return;
      await o.beforeStop?.();
      mark('handedOver');
      await old.proc.stop(2000, askToStop);
      await old.proc.exit;
      mark('stopped');
      this.children.set(board, child);
      if (!this.sendTo(child, { type: 'go' })) throw new Error(`board process '${board}' lost before go`);
    }
    await this.until(child, () => child.ready, deadline, 'ready');
    mark('ready');
    const s = this.starts[board] ?? { restarts: 0, lastReadyMs: 0, phases };
    this.starts[board] = {
      restarts: s.restarts + 1,
      lastReadyMs: Math.round(performance.now() - started),
      phases,
    };
  }

  private async until(child: Child, done: () => boolean, deadline: number, what: string): Promise<void> {
    for (let i = 0; i < 1_000_000 && !done(); i++) {
      if (child.proc.exited)
        throw new Error(
          `board process '${child.board}' exited before ${what}: ${child.proc.stderrLines.join(' | ')}`,
        );
      if (performance.now() > deadline) throw new Error(`board process '${child.board}' not ${what} in time`);
      if (this.closing) return;
      await sleep(10);
    }
  }

  /** SIGSTOP (a hang) or SIGCONT of a board process: for tests of the watchdog. */
  signal(board: string, signal: 'SIGSTOP' | 'SIGCONT'): boolean {
    const c = this.children.get(board);
    if (c === undefined || c.proc.exited) return false;
    try {
      return c.proc.process.kill(signal);
    } catch {
      return false;
    }
  }

  pid(board: string): number | undefined {
    return this.children.get(board)?.proc.process.pid;
  }

  /** Pty path of `board`'s end of the serial link to `peer` (serial clusters only). */
  devicePath(board: string, peer: string): string | undefined {
    for (const l of this.topology.links) {
      if (l.type === 'serial' && l.between.includes(board) && l.between.includes(peer))
        return l.devices[board];
    }
    return undefined;
  }

  /** How a child ended (undefined while it runs): SIGKILL for a crash, code 0 for a clean stop. */
  exitOf(board: string): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.children.get(board)?.proc.exitStatus;
  }

  alive(board: string): boolean {
    const c = this.children.get(board);
    return c !== undefined && !c.proc.exited;
  }

  injectChannelFault(board: string, fault: ChannelFault): boolean {
    return this.send(board, { type: 'fault', fault });
  }

  clearChannelFault(board: string): boolean {
    return this.send(board, { type: 'repair' });
  }

  /** A real crash: SIGKILL, no chance to close anything. */
  crashBoard(board: string): boolean {
    const c = this.children.get(board);
    if (c === undefined || c.proc.exited) return false;
    c.proc.kill();
    return true;
  }

  /** The input units' health from the latest status of a live channel board (every channel judges the same). */
  inputHealth(): readonly UnitHealth[] {
    for (const c of this.children.values()) {
      const inputs = (c.final ?? c.last)?.inputs;
      if (!c.proc.exited && inputs !== undefined) return inputs;
    }
    return [];
  }

  /** The view each live board's replica reported in its latest status (a status a second), by board. */
  replicaViews(): ReadonlyMap<string, number> {
    const out = new Map<string, number>();
    for (const c of this.children.values()) {
      const view = (c.final ?? c.last)?.view;
      if (!c.proc.exited && view !== undefined) out.set(c.board, view);
    }
    return out;
  }

  /** How the socat relays (the links' "wires") were scheduled: real-time where permitted (realtime.ts). */
  relayScheduling: string[] = [];

  /**
   * The socat processes this process started (pty pairs of the serial mesh and of the emulated CAN bus) carry
   * every message between boards: on a bench that is wire, so they get real-time scheduling where permitted,
   * above every board process and the rig (ROLE_PRIORITY; socat is single-threaded and blocks in poll: it never
   * spins).
   */
  private raiseRelays(): void {
    for (const pid of childrenNamed('socat')) {
      const s = requestRealtime({ pid, ...ROLE_PRIORITY.relay });
      this.relayScheduling.push(`socat ${pid}: ${s.summary}`);
    }
    if (this.relayScheduling.length > 0)
      this.o.logger.info({ relays: this.relayScheduling }, 'link relays scheduled');
  }

  /** The host stalls the children reported since the last call (a flight drains them every frame). */
  takeHostReports(): HostReport[] {
    const out = this.hostReports;
    this.hostReports = [];
    return out;
  }

  /** Host reports not kept because the flight did not take them in time. */
  get hostReportsLost(): number {
    return this.hostReportsDropped;
  }

  /** Latest status each child reported (final if it stopped cleanly). */
  statuses(): Record<string, BoardStatus | { exited: true }> {
    const out: Record<string, BoardStatus | { exited: true }> = {};
    for (const c of this.children.values()) {
      const s = c.final ?? c.last;
      out[c.board] = s ?? { exited: true };
    }
    return out;
  }

  /**
   * Stop every child (the IPC stop, SIGTERM at half of `graceMs` to one still running, SIGKILL at `graceMs`), then
   * the links. Idempotent; never throws.
   */
  async close(graceMs = 3000): Promise<void> {
    this.closing = true;
    process.off('exit', this.killAllSync);
    // Ask over IPC first (the child then sends its final status); SIGTERM only to a child still running at half
    // the grace (ChildProc.stop says why not at once).
    await this.processes.stopAll(graceMs, askToStop);
    this.bus?.bus.close();
    await this.bus?.close().catch(() => undefined);
    this.bus = undefined;
    await Promise.all(this.pairs.splice(0).map((p) => p.close().catch(() => undefined)));
  }

  private send(board: string, m: ToBoard): boolean {
    const c = this.children.get(board);
    return c !== undefined && this.sendTo(c, m);
  }

  private sendTo(c: Child, m: ToBoard): boolean {
    if (c.proc.exited || !c.proc.process.connected) return false;
    try {
      return c.proc.process.send(m);
    } catch {
      return false;
    }
  }

  /** Pty links for the run: the topology's own links when of the chosen kind, else a generated mesh or bus. */
  private async makeLinks(): Promise<LinkConfig[]> {
    const t = this.o.topology;
    const names = t.boards.map((b) => b.name);
    if (this.o.link === 'can') {
      const own = t.links.find((l) => l.type === 'can');
      const bitrate = own?.bitrate ?? 1_000_000;
      const dataBitrate = own?.dataBitrate;
      this.bus = await startEmulatedCanBus(
        join(this.o.workDir, 'can'),
        names,
        dataBitrate ? { bitrate, dataBitrate } : { bitrate },
      );
      return [
        {
          type: 'can',
          driver: 'emulated',
          bitrate,
          ...(dataBitrate ? { dataBitrate } : {}),
          devices: { ...this.bus.paths },
          baseId: own?.baseId ?? 0x100,
        },
      ];
    }
    const own = t.links.filter((l): l is Extract<LinkConfig, { type: 'serial' }> => l.type === 'serial');
    const pairs: [string, string, number][] =
      own.length > 0
        ? own.map((l) => [l.between[0], l.between[1], l.baud])
        : names.flatMap((a, i) =>
            names.slice(i + 1).map((b): [string, string, number] => [a, b, this.o.baud ?? 921_600]),
          );
    const links: LinkConfig[] = [];
    for (const [i, [a, b, baud]] of pairs.entries()) {
      const pair = await PtyPair.open(join(this.o.workDir, `l${i}-${a}`), join(this.o.workDir, `l${i}-${b}`));
      this.pairs.push(pair);
      links.push({ type: 'serial', between: [a, b], devices: { [a]: pair.a, [b]: pair.b }, baud });
    }
    return links;
  }

  private spawnAll(): void {
    for (const b of this.topology.boards) if (b.name !== this.o.localBoard) this.spawn(b.name);
  }

  private spawn(board: string, env: Record<string, string> = {}, current = true): Child {
    const { command: bare, args: bareArgs } = triplexCommand([
      'node',
      '--config',
      this.configFile,
      '--board',
      board,
      '--keys',
      this.keysDir,
      '--log-level',
      this.o.logLevel,
      '--log-file',
      join(this.o.logDir, `node-${board}.log`),
      '--seed',
      String(this.o.seed),
      ...(this.o.pace === false ? ['--no-pace'] : []),
    ]);
    // A replacement loading beside the process it replaces (current false) loads at SCHED_IDLE.
    const { command, args } = ordinaryScheduling(bare, [...(this.o.nodeArgs ?? []), ...bareArgs], {
      idle: !current,
    });
    const recovery = this.o.recovery;
    const proc = this.processes.add(
      ChildProc.spawn({
        command,
        args,
        label: `board ${board}`,
        ipc: true,
        tailLines: STDERR_LINES,
        ...(recovery
          ? {
              env: {
                ...process.env,
                [ENV_STATE_DIR]: join(this.o.workDir, 'key-state'),
                [ENV_IPC_STATUS_MS]: String(recovery.statusEveryMs ?? 100),
                ...env,
              },
            }
          : {}),
      }),
    );
    if (proc.process.pid !== undefined && command === 'chrt') ordinaryNice(proc.process.pid);
    const child: Child = {
      board,
      proc,
      ready: false,
      loaded: false,
      last: undefined,
      lastAt: 0,
      statusCount: 0,
      final: undefined,
    };
    proc.process.on('message', (raw) => this.onMessage(child, raw));
    void proc.exit.then(({ code, signal }) => {
      if (!this.closing) this.o.logger.warn({ board, code, signal }, 'board process exited');
    });
    proc.process.on('error', (e) => this.o.logger.error({ board, err: e.message }, 'board process error'));
    if (current) this.children.set(board, child);
    return child;
  }

  private onMessage(child: Child, raw: unknown): void {
    const m: FromBoard | undefined = parseFromBoard(raw);
    if (m === undefined) return;
    if (m.type === 'ready') child.ready = true;
    else if (m.type === 'loaded') child.loaded = true;
    else if (m.type === 'status') {
      child.last = m.status;
      child.lastAt = performance.now();
      child.statusCount++;
    } else if (m.type === 'final') child.final = m.status;
    else if (m.type !== 'host') return;
    else if (this.hostReports.length < MAX_HOST_REPORTS) this.hostReports.push(m.report);
    else this.hostReportsDropped++;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 100_000; i++) {
      const children = [...this.children.values()];
      const dead = children.find((c) => c.proc.exited);
      if (dead !== undefined) {
        throw new Error(
          `board process '${dead.board}' exited during start (code ${dead.proc.exitStatus?.code}):\n  ${dead.proc.stderrLines.join('\n  ')}`,
        );
      }
      if (children.every((c) => c.ready)) return;
      if (Date.now() > deadline) {
        const waiting = children.filter((c) => !c.ready);
        const said = waiting
          .filter((c) => c.proc.stderrLines.length > 0)
          .map((c) => `\n  ${c.board}: ${c.proc.stderrLines.join('\n    ')}`)
          .join('');
        throw new Error(
          `board processes not ready within ${timeoutMs} ms: ${waiting.map((c) => c.board).join(', ')}${said}`,
        );
      }
      await sleep(20);
    }
  }
}

/** The IPC stop for a board process; false when the channel is gone (ChildProc.stop then signals at once). */
function askToStop(p: ChildProcess): boolean {
  if (!p.connected) return false;
  p.send({ type: 'stop' } satisfies ToBoard);
  return true;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The file form of a resolved topology (drops the fields the loader computes). */
function stripResolved(t: Topology): TopologyFile {
  const { file: _f, replicas: _r, channels: _c, voters: _v, inputs: _i, budget: _b, ...rest } = t;
  return rest;
}
