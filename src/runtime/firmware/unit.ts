/**
 * One firmware actuator interface unit, running as a board: the host build as a child process, or the
 * Cortex-M3 build under qemu-system-arm (mps2-an385, `-icount` for repeatable guest time, the watchdog
 * action set to reset). Requests go out as serial frames; responses come back matched by sequence number.
 * A BOOT frame at any time means the unit (re)started. Requests still queued in the link when it restarted are
 * answered by the new instance (as bytes waiting on a UART's host side would be); a request that never gets
 * an answer (the unit died holding it) resolves 'lost' once a later one is answered, or when the unit exits.
 *
 * @example
 * const unit = await FirmwareUnit.start({ target: 'host', mode: 'async', provision, shape, workDir });
 * const r = await unit.request({ type: 'tick', time: 16, frame: 0 }); // { type: 'tick', decision }
 * await unit.close();
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { encodeSerialFrame, SerialDeframer } from '../../core/codec/framing/serial-frame.ts';
import type { Scheduling } from '../node/realtime.ts';
import { type AsyncByteLink, connectUnix, FifoLink, pipeLink, type SyncByteLink } from './link.ts';
import { raiseUnitPriority, UnitGovernor } from './priority.ts';
import {
  type DecisionShape,
  decodeResponse,
  encodeRequest,
  type FirmwareJudgment,
  type FirmwareRequest,
  type FirmwareResponse,
  type FirmwareStatus,
} from './protocol.ts';
import { FW_LIMITS, provisionImage } from './provision.ts';
import { buildAsync } from './toolchain.ts';

export type FirmwareTarget = 'host' | 'qemu';

export interface FirmwareUnitOptions {
  readonly target: FirmwareTarget;
  /**
   * 'sync': requests block until answered (FIFO link), for virtual-time loops and lockstep tests.
   * 'async': requests return promises (stdio pipes for the host build, a socket chardev for QEMU).
   */
  readonly mode: 'sync' | 'async';
  /** The provisioning record (provision.ts provisionRecord). */
  readonly provision: Uint8Array;
  readonly shape: DecisionShape;
  /** Where FIFOs, sockets and the provisioning file go (created if missing). */
  readonly workDir: string;
  /** Build with test hooks (the HANG request). */
  readonly testHooks?: boolean;
  /** Host build: CPU-time watchdog, ms (default: the unit's own, from its provisioning: firmwareWatchdogMs). */
  readonly watchdogMs?: number;
  /** QEMU: `-icount shift=N`, one guest instruction = 2^N ns (default 5: 32 ns, near the AN385's 25 MHz). */
  readonly icountShift?: number;
  /**
   * QEMU: what the guest's clock counts while the guest sleeps in WFI (icount `sleep=`; awake, it counts its
   * instructions either way).
   * - 'host' (default, `sleep=on`): host time, as a board in a real-time rig must. A QEMU process the host does
   *   not run for about 100 ms while its guest sleeps wakes to an expired watchdog: the timers of the skipped time
   *   fire back to back, the reset before the guest runs its NMI handler (BOOT says power-on, boot count + 1).
   *   Real-time scheduling (raisePriority) guards against that, until its governor drops it from a busy unit.
   * - 'instructions' (`sleep=off`): nothing; sleeping skips to the next timer at once, so guest time is the
   *   instructions run, repeatable, and no host stall can expire the watchdog, while a guest that hangs (spins)
   *   still expires it. For runs on the rig's virtual time. Its cost: a sleeping guest wakes for every SysTick
   *   at once, so an idle unit keeps a host CPU busy (92% measured; 2% with 'host').
   */
  readonly guestClock?: 'host' | 'instructions';
  /** Called for every BOOT, the first one included. */
  readonly onBoot?: (boot: BootRecord) => void;
  /** Give up waiting for a dead unit after this long (wall clock; failure detection only). */
  readonly timeoutMs?: number;
  /**
   * Where the unit's actuator output goes (ACTUATOR frames, actuator.ts): the host build's `--actuator PATH`, the
   * Cortex-M3's UART1 as a QEMU file chardev. Absent: nowhere (host) or /dev/null (QEMU).
   */
  readonly actuatorFile?: string;
  /** Async requests awaiting an answer at most (default 4096); a request beyond it is not sent: 'lost'. */
  readonly maxPending?: number;
  /**
   * The directory of the unit's NVM file (NVM_FILE: its boot epoch, firmware-bridge/src/nvm.h), default
   * `workDir`. A unit started again on the same directory is the same board power-cycled.
   */
  readonly nvmDir?: string;
}

/** The NVM file's name (the Cortex-M3 opens it by this name over semihosting, in QEMU's working directory). */
export const NVM_FILE = 'triplex-fw.nvm';

/** What the handshake measured: PING round trips over the link, each answered with an authentic PONG. */
export interface Handshake {
  readonly pings: number;
  /** Round trips, ms, in order (wall clock). */
  readonly roundTripMs: readonly number[];
  /** The slowest of them. */
  readonly worstMs: number;
}

export interface BootRecord {
  readonly provision: string;
  readonly resetCause: 'power-on' | 'watchdog';
  readonly bootCount: number;
  /** The boot epoch from NVM (0: none; the unit then refuses every REKEY). */
  readonly epoch: number;
  readonly heartbeat: Uint8Array;
}

/** A response with the JUDGMENT frames the unit sent for the same request before it, in order. */
export type Reply = FirmwareResponse & { readonly judgmentFrames: readonly FirmwareJudgment[] };
type Answer = Reply | 'lost';
/** Judgment frames kept per request, and requests with judgments in flight (bounds what a faulty unit can fill). */
const MAX_JUDGMENTS_PER_REQUEST = 64;
const MAX_COLLECTING = 256;
/**
 * Async requests awaiting an answer, by default (a hung unit answers none: beyond this a new request is not
 * sent and is lost at once). A bench that pipelines a whole corpus sets `maxPending` to its size.
 */
const DEFAULT_MAX_PENDING = 4096;
type Pending = { seq: number; resolve: (r: Answer) => void };
export type { Answer };
export type Request = FirmwareRequest extends infer R
  ? R extends { seq: number }
    ? Omit<R, 'seq'>
    : never
  : never;

/** The QEMU command line for the Cortex-M3 build (exported for the docs and fw:size). */
export function qemuArgs(o: {
  elf: string;
  provisionImage: string;
  chardev: string;
  actuatorFile?: string;
  icountShift: number;
  guestClock?: 'host' | 'instructions';
}): string[] {
  return [
    '-M',
    'mps2-an385',
    '-nodefaults',
    '-nographic',
    '-monitor',
    'none',
    '-kernel',
    o.elf,
    '-device',
    `loader,file=${o.provisionImage},addr=0x3f000,force-raw=on`,
    '-icount',
    `shift=${o.icountShift},sleep=${o.guestClock === 'instructions' ? 'off' : 'on'}`,
    '-action',
    'watchdog=reset',
    // The unit's NVM (its boot epoch) is a host file over ARM semihosting: the AN385 has no writable flash.
    '-semihosting-config',
    'enable=on,target=native',
    '-chardev',
    o.chardev,
    '-serial',
    'chardev:link',
    '-serial',
    o.actuatorFile === undefined ? 'null' : `file:${o.actuatorFile}`,
  ];
}

export class FirmwareUnit {
  readonly boots: BootRecord[] = [];
  private seq = 1;
  private readonly pending: Pending[] = [];
  private readonly deframer = new SerialDeframer({ maxPayload: FW_LIMITS.maxLinkPayload });
  /** Responses decoded but not yet claimed (sync mode). */
  private readonly inbox: (Reply | FirmwareResponse)[] = [];
  private readonly collecting = new Map<number, FirmwareJudgment[]>();
  private readonly stderr: string[] = [];
  private exited = false;
  private governor: UnitGovernor | undefined;
  /** Payloads from the unit that did not decode (a faulty unit is counted, not trusted). */
  badResponses = 0;
  /** Async requests not sent because `maxPending` were awaiting an answer (a hung or slow unit). */
  refused = 0;

  /** Use FirmwareUnit.start: it builds, spawns and waits for the first BOOT. */
  constructor(
    private readonly o: FirmwareUnitOptions,
    private readonly child: ChildProcess,
    private readonly link: AsyncByteLink | SyncByteLink,
  ) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      if (this.stderr.length < 100) this.stderr.push(s);
    });
    child.once('exit', () => {
      this.exited = true;
      this.failPending();
    });
    if (!link.sync) {
      link.onData((chunk) => this.receive(chunk));
      link.onClose(() => this.failPending());
    }
  }

  /** Build (make, incremental), start, and wait for the first BOOT. */
  static async start(o: FirmwareUnitOptions): Promise<FirmwareUnit> {
    mkdirSync(o.workDir, { recursive: true });
    if (o.nvmDir !== undefined) mkdirSync(o.nvmDir, { recursive: true });
    const unit = o.target === 'host' ? await startHost(o) : await startQemu(o);
    const boot = await unit.waitBoot(o.timeoutMs ?? 30_000);
    if (boot === undefined) {
      await unit.close();
      throw new Error(`firmware ${o.target} did not boot: ${unit.diagnostics()}`);
    }
    return unit;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** 'host' or 'qemu'. */
  get target(): FirmwareTarget {
    return this.o.target;
  }

  /** Built with test hooks (the HANG request). */
  get testHooks(): boolean {
    return this.o.testHooks === true;
  }

  /** What the unit wrote on stderr (host build) or QEMU said, for error messages. */
  diagnostics(): string {
    return this.stderr.join('').slice(-2000) || '(nothing on stderr)';
  }

  /** The unit's process id (the host build, or qemu-system-arm). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Real-time scheduling for the unit's process where permitted (priority.ts: above a flight's main
   * thread), watched by a governor that gives it back if the unit spins. Call it once the unit has booted; again
   * after a reset (the governor may have dropped it while the unit hung).
   */
  raisePriority(log: Logger): Scheduling | { readonly summary: string } {
    this.governor?.stop();
    this.governor = undefined;
    const s = raiseUnitPriority(this.child.pid);
    const realtime = 'policy' in s && (s.policy === 'fifo' || s.policy === 'rr');
    if (realtime && this.child.pid !== undefined) this.governor = new UnitGovernor(this.child.pid, log);
    return s;
  }

  /**
   * The handshake before frame 0: `pings` PINGs one after another, each answered by a PONG whose heartbeat
   * `verify` accepts (the unit tags it with its heartbeat key: the provisioned unit, its frame loop running).
   * Throws naming what failed when one is not answered within `timeoutMs` or does not verify.
   */
  async handshake(o: {
    readonly pings?: number;
    readonly timeoutMs: number;
    readonly verify?: (heartbeat: Uint8Array) => boolean;
  }): Promise<Handshake> {
    const pings = o.pings ?? 5;
    const roundTripMs: number[] = [];
    for (let i = 0; i < pings; i++) {
      const started = performance.now();
      const answer = this.link.sync
        ? this.requestSync({ type: 'ping' })
        : await Promise.race([
            this.request({ type: 'ping' }),
            new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), o.timeoutMs).unref()),
          ]);
      if (answer === 'timeout' || answer === 'lost' || answer.type !== 'pong') {
        const what = answer === 'timeout' ? `no answer within ${o.timeoutMs} ms` : JSON.stringify(answer);
        throw new Error(
          `firmware ${this.o.target}: handshake PING ${i + 1}/${pings}: ${what}; ${this.diagnostics()}`,
        );
      }
      if (o.verify !== undefined && !o.verify(answer.heartbeat))
        throw new Error(
          `firmware ${this.o.target}: handshake PONG ${i + 1}/${pings}: heartbeat not authentic`,
        );
      roundTripMs.push(Number((performance.now() - started).toFixed(3)));
    }
    return { pings, roundTripMs, worstMs: Math.max(0, ...roundTripMs) };
  }

  /** Async mode: send a request; resolves with its response, or 'lost'. */
  request(r: Request): Promise<Answer> {
    if (this.link.sync) throw new Error('FirmwareUnit.request: this unit runs in sync mode (requestSync)');
    if (this.exited) return Promise.resolve('lost');
    if (this.pending.length >= (this.o.maxPending ?? DEFAULT_MAX_PENDING)) {
      this.refused++;
      return Promise.resolve('lost');
    }
    const seq = this.send(r);
    return new Promise((resolve) => this.pending.push({ seq, resolve }));
  }

  /**
   * Sync mode: send a request and block until its response. A BOOT on the way is recorded (boots, onBoot) and
   * the wait goes on: the restarted unit answers what is still queued. 'lost' when the unit is gone.
   */
  requestSync(r: Request): Answer {
    const link = this.syncLink();
    const seq = this.send(r);
    const timeout = this.o.timeoutMs ?? 30_000;
    for (let i = 0; i < 1_000_000; i++) {
      const next = this.inbox.shift();
      if (next !== undefined) {
        if (next.type === 'boot') continue;
        if ('judgmentFrames' in next && next.seq === seq) return next;
        this.badResponses++; // an answer to nothing we are waiting for
        continue;
      }
      const chunk = link.read(timeout);
      if (chunk === null) throw new Error(`firmware did not answer request ${seq}: ${this.diagnostics()}`);
      if (chunk.length === 0) return 'lost'; // end of stream: the unit is gone
      this.receive(chunk);
    }
    throw new Error('FirmwareUnit.requestSync: no answer after a million reads');
  }

  /** The unit's counters and channel health (STATUS), in either mode. */
  async status(): Promise<FirmwareStatus> {
    const r = this.link.sync ? this.requestSync({ type: 'status' }) : await this.request({ type: 'status' });
    if (r === 'lost' || r.type !== 'status')
      throw new Error(`firmware STATUS failed: ${JSON.stringify(r)}; ${this.diagnostics()}`);
    return r.status;
  }

  /** Send a request without waiting (HANG, or pipelining). Returns its sequence number. */
  send(r: Request): number {
    const seq = this.seq++;
    this.link.write(encodeSerialFrame(encodeRequest({ ...r, seq } as FirmwareRequest)));
    return seq;
  }

  /** Raw bytes on the link (tests: line noise, corrupted frames). */
  writeRaw(bytes: Uint8Array): void {
    this.link.write(bytes);
  }

  get mode(): 'sync' | 'async' {
    return this.link.sync ? 'sync' : 'async';
  }

  /** Sync mode: block until the next BOOT (a reset), up to timeoutMs of wall clock. */
  waitBootSync(timeoutMs: number): BootRecord | undefined {
    const link = this.syncLink();
    const seen = this.boots.length;
    const started = Date.now();
    for (let i = 0; this.boots.length === seen && i < 1_000_000; i++) {
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) break;
      const chunk = link.read(left);
      if (chunk === null || chunk.length === 0) break;
      this.receive(chunk);
    }
    return this.boots[seen];
  }

  /** Async mode: wait for the next BOOT (a reset), up to timeoutMs of wall clock. */
  async waitBoot(timeoutMs: number): Promise<BootRecord | undefined> {
    if (this.link.sync) return this.waitBootSync(timeoutMs);
    const seen = this.boots.length;
    for (let waited = 0; this.boots.length === seen && waited < timeoutMs && !this.exited; waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.boots[seen];
  }

  async close(): Promise<void> {
    this.governor?.stop();
    this.link.close();
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      if (!this.exited) this.child.kill('SIGKILL');
    }
    this.failPending();
  }

  private syncLink(): SyncByteLink {
    if (!this.link.sync) throw new Error('FirmwareUnit.requestSync: this unit runs in async mode (request)');
    return this.link;
  }

  private receive(chunk: Uint8Array): void {
    for (const payload of this.deframer.push(chunk)) {
      const d = decodeResponse(payload, this.o.shape);
      if (!d.ok) {
        this.badResponses++;
        continue;
      }
      const r = d.response;
      if (r.type === 'judgment') {
        this.collect(r.seq, r.judgment);
        continue;
      }
      if (r.type === 'boot') {
        const boot: BootRecord = {
          provision: r.provision,
          resetCause: r.resetCause === 1 ? 'watchdog' : 'power-on',
          bootCount: r.bootCount,
          epoch: r.epoch,
          heartbeat: r.heartbeat,
        };
        this.boots.push(boot);
        this.o.onBoot?.(boot);
      }
      const reply = r.type === 'boot' ? r : this.withJudgments(r);
      if (this.link.sync) {
        this.inbox.push(reply);
        continue;
      }
      if (reply.type === 'boot' || !('judgmentFrames' in reply)) continue;
      // Answers come in request order: any request before this one that is still pending was lost.
      while (this.pending.length > 0 && this.pending[0]!.seq < reply.seq)
        this.pending.shift()!.resolve('lost');
      const head = this.pending[0];
      if (head === undefined || head.seq !== reply.seq) {
        this.badResponses++;
        continue;
      }
      this.pending.shift();
      head.resolve(reply);
    }
  }

  private collect(seq: number, j: FirmwareJudgment): void {
    let list = this.collecting.get(seq);
    if (list === undefined) {
      if (this.collecting.size >= MAX_COLLECTING) {
        this.collecting.delete(this.collecting.keys().next().value as number);
        this.badResponses++;
      }
      list = [];
      this.collecting.set(seq, list);
    }
    if (list.length < MAX_JUDGMENTS_PER_REQUEST) list.push(j);
    else this.badResponses++;
  }

  /** The response with its request's judgment frames; a count that does not match is a bad response. */
  private withJudgments(r: Exclude<FirmwareResponse, { type: 'boot' } | { type: 'judgment' }>): Reply {
    const judgmentFrames = this.collecting.get(r.seq) ?? [];
    this.collecting.delete(r.seq);
    const expected =
      r.type === 'offer'
        ? r.judgments + (r.decision?.judgments ?? 0)
        : r.type === 'tick'
          ? (r.decision?.judgments ?? 0)
          : 0;
    if (judgmentFrames.length !== expected) this.badResponses++;
    return { ...r, judgmentFrames };
  }

  private failPending(): void {
    for (const p of this.pending.splice(0)) p.resolve('lost');
  }
}

function mkfifo(path: string): void {
  execFileSync('rm', ['-f', path]);
  execFileSync('mkfifo', [path]);
}

async function startHost(o: FirmwareUnitOptions): Promise<FirmwareUnit> {
  const binary = await buildAsync(o.testHooks ? 'host-test' : 'host');
  const provisionFile = join(o.workDir, 'voter.prov');
  writeFileSync(provisionFile, o.provision);
  const args = ['--provision', provisionFile, '--nvm', join(o.nvmDir ?? o.workDir, NVM_FILE)];
  if (o.watchdogMs !== undefined) args.push('--watchdog-ms', String(o.watchdogMs));
  if (o.actuatorFile !== undefined) args.push('--actuator', o.actuatorFile);
  if (o.mode === 'async') {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    return construct(o, child, pipeLink(child.stdin!, child.stdout!));
  }
  const toUnit = join(o.workDir, 'to-unit');
  const fromUnit = join(o.workDir, 'from-unit');
  mkfifo(toUnit);
  mkfifo(fromUnit);
  // The child gets blocking ends of its own; Node keeps a non-blocking read end and a write end.
  const link = FifoLink.open(toUnit, fromUnit);
  const childIn = openSync(toUnit, constants.O_RDONLY);
  const childOut = openSync(fromUnit, constants.O_WRONLY);
  const child = spawn(binary, args, { stdio: [childIn, childOut, 'pipe'] });
  closeSync(childIn);
  closeSync(childOut);
  return construct(o, child, link);
}

async function startQemu(given: FirmwareUnitOptions): Promise<FirmwareUnit> {
  // Absolute paths: QEMU runs in the NVM directory (semihosting opens NVM_FILE there).
  const o = { ...given, workDir: resolve(given.workDir) };
  const cwd = resolve(o.nvmDir ?? o.workDir);
  const elf = resolve(await buildAsync(o.testHooks ? 'm3-test' : 'm3'));
  const image = join(o.workDir, 'voter.img');
  writeFileSync(image, provisionImage(o.provision));
  const icountShift = o.icountShift ?? 5;
  const guestClock = o.guestClock ?? 'host';
  const actuator = o.actuatorFile === undefined ? {} : { actuatorFile: resolve(o.actuatorFile) };
  if (o.mode === 'async') {
    const socket = join(o.workDir, 'uart0.sock');
    execFileSync('rm', ['-f', socket]);
    const chardev = `socket,id=link,path=${socket},server=on,wait=on`;
    const child = spawn(
      'qemu-system-arm',
      qemuArgs({ elf, provisionImage: image, chardev, icountShift, guestClock, ...actuator }),
      { cwd, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const link = await connectUnix(socket, o.timeoutMs ?? 30_000);
    return construct(o, child, link);
  }
  const base = join(o.workDir, 'uart0');
  mkfifo(`${base}.in`);
  mkfifo(`${base}.out`);
  const link = FifoLink.open(`${base}.in`, `${base}.out`, true);
  const chardev = `pipe,id=link,path=${base}`;
  const child = spawn(
    'qemu-system-arm',
    qemuArgs({ elf, provisionImage: image, chardev, icountShift, guestClock, ...actuator }),
    { cwd, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  link.watch(child.pid);
  return construct(o, child, link);
}

function construct(
  o: FirmwareUnitOptions,
  child: ChildProcess,
  link: AsyncByteLink | SyncByteLink,
): FirmwareUnit {
  return new FirmwareUnit(o, child, link);
}
