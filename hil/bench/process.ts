/**
 * The realtime bench on real links: the rig's board (voter and input units) runs here on its real ports; every
 * other board is what discovery found, real hardware, or an emulated `triplex node` process the bench starts on
 * a pseudo-terminal pair (a serial mesh) or on the emulated CAN bus.
 *
 * Links of the run (serial): a link between two boards that are present keeps its ports; a link with an emulated
 * end gets a fresh socat pty pair, unless both of its ends already exist on this host (a pty pair or a loopback
 * cable made for it); a link between a real board and an emulated one whose end is not on this host is left
 * unplugged (the real board's port stays unconnected) and said so in the board table.
 *
 * Faults: channel faults reach emulated boards over their control channel, crashes and hangs by signal; links
 * and voter links are faulted on the rig board's side; nothing reaches a real board but its links to the rig.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { Prng } from '../../src/core/prng.ts';
import type { ChannelHealth } from '../../src/core/vote/voter.ts';
import { type EmulatedBusSetup, startEmulatedCanBus } from '../../src/io/can-emu.ts';
import { PtyPair } from '../../src/io/pty.ts';
import {
  type LinkConfig,
  parseTopology,
  type Topology,
  type TopologyFile,
} from '../../src/runtime/config.ts';
import type { FirmwareVoterBoardOptions } from '../../src/runtime/firmware/voter-board.ts';
import { generateKeySet } from '../../src/runtime/keyfiles.ts';
import type { ChannelFaultKind } from '../../src/runtime/loop/channel-fault.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { topologyPrincipals } from '../../src/runtime/loop/keys.ts';
import { plantPortsFrom } from '../../src/runtime/loop/ports.ts';
import { loadBoardKeys } from '../../src/runtime/node/keys.ts';
import { ProcessLoop } from '../../src/runtime/node/process-loop.ts';
import { createBoardTransport } from '../../src/runtime/node/transports.ts';
import type { Scheduler } from '../../src/runtime/scheduler.ts';
import { FaultyTransport } from '../faults/link.ts';
import { type Backend, cell } from '../grid.ts';
import { rigBoardOf } from '../scenario/targets.ts';
import type { Bench, BenchFault, BenchHooks, BoardInfo, FaultHandle, UnitSample } from './bench.ts';
import { CHANNEL_KIND_OF } from './bench.ts';
import { type BoardSlot, driveFrame } from './board-slot.ts';
import { BoardProcesses } from './children.ts';
import type { BoardVerdict, Discovery } from './discovery.ts';
import { linkFault, voterFault, voterLinkFault } from './slot-faults.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ProcessBenchOptions {
  readonly topology: Topology;
  readonly discovery: Discovery;
  readonly seed: number;
  readonly logger: Logger;
  readonly pace: boolean;
  /** Scratch: ptys, the run's config, generated keys. */
  readonly workDir: string;
  /** Where the board processes write their logs. */
  readonly logDir: string;
  /** The bench's key directory (real boards hold keys from it); absent: a fresh set for emulated boards. */
  readonly keysDir?: string;
  readonly readyTimeoutMs?: number;
  /** How the rig board runs a firmware voter (voterImpl firmware-*): test hooks for the `voter hang` fault. */
  readonly firmware?: FirmwareVoterBoardOptions;
}

export class ProcessBenchError extends Error {}

export class ProcessBench {
  private readonly pairs: PtyPair[] = [];
  private bus: EmulatedBusSetup | undefined;
  private children: BoardProcesses | undefined;
  private readonly notes = new Map<string, string[]>();
  private readonly verdicts: Map<string, BoardVerdict>;
  /** The run's topology (links rewritten to the ports and ptys of this run). */
  topology: Topology;
  private keysDir = '';
  /** A throwaway key set this bench generated (removed on close: private keys do not stay in a report folder). */
  private generatedKeys: string | undefined;

  private constructor(readonly options: ProcessBenchOptions) {
    const o = options;
    this.topology = o.topology;
    this.verdicts = new Map(o.discovery.boards.map((b) => [b.board, b]));
  }

  /** Keys, links and board processes, up and ready. Throws ProcessBenchError with what is wrong. */
  static async prepare(o: ProcessBenchOptions): Promise<ProcessBench> {
    const bench = new ProcessBench(o);
    try {
      await bench.setUp();
    } catch (e) {
      await bench.close();
      throw e instanceof ProcessBenchError ? e : new ProcessBenchError((e as Error).message);
    }
    return bench;
  }

  kindOf(board: string): BoardVerdict['kind'] {
    return this.verdicts.get(board)?.kind ?? 'emulated';
  }

  private emulatedBoards(): string[] {
    return this.options.topology.boards.map((b) => b.name).filter((b) => this.kindOf(b) === 'emulated');
  }

  private async setUp(): Promise<void> {
    mkdirSync(this.options.workDir, { recursive: true, mode: 0o700 });
    await this.keys();
    const links = await this.links();
    const raw: TopologyFile = { ...stripResolved(this.options.topology), links };
    const file = join(this.options.workDir, 'config.json');
    writeFileSync(file, `${JSON.stringify(raw, null, 2)}\n`);
    this.topology = parseTopology(raw, file);
    const emulated = this.emulatedBoards();
    if (emulated.length === 0) return;
    this.children = new BoardProcesses({
      configFile: file,
      keysDir: this.keysDir,
      logDir: this.options.logDir,
      logLevel: 'warn',
      seed: this.options.seed,
      pace: this.options.pace,
      logger: this.options.logger,
      cwd: ROOT,
    });
    for (const b of emulated) this.children.spawn(b);
    await this.children.waitReady(this.options.readyTimeoutMs ?? 60_000);
  }

  private async keys(): Promise<void> {
    const real = this.options.discovery.boards.filter((b) => b.kind === 'real');
    if (this.options.keysDir !== undefined) {
      if (!existsSync(join(this.options.keysDir, 'public.json'))) {
        throw new ProcessBenchError(
          `--keys ${this.options.keysDir}: no public.json (write a set with \`triplex keys gen --config FILE --out DIR\`)`,
        );
      }
      this.keysDir = this.options.keysDir;
      return;
    }
    if (real.length > 0) {
      throw new ProcessBenchError(
        `real boards (${real.map((b) => b.board).join(', ')}) hold keys from a key directory: pass the same one with --keys DIR`,
      );
    }
    this.keysDir = join(this.options.workDir, 'keys');
    this.generatedKeys = this.keysDir;
    await generateKeySet(this.keysDir, topologyPrincipals(this.options.topology), { force: true });
  }

  private note(board: string, text: string): void {
    const list = this.notes.get(board) ?? [];
    list.push(text);
    this.notes.set(board, list);
  }

  private async links(): Promise<LinkConfig[]> {
    const t = this.options.topology;
    if (this.options.discovery.linkType === 'can')
      return [await this.canBus(t.links[0] as Extract<LinkConfig, { type: 'can' }>)];
    if (this.options.discovery.linkType !== 'serial') return [...t.links];
    const out: LinkConfig[] = [];
    for (const [i, l] of t.links.entries()) {
      if (l.type !== 'serial') throw new ProcessBenchError(`links.${i}: one link type per bench`);
      const [a, b] = l.between;
      const ea = this.kindOf(a) === 'emulated';
      const eb = this.kindOf(b) === 'emulated';
      if (!ea && !eb) {
        out.push(l);
        continue;
      }
      const pa = l.devices[a]!;
      const pb = l.devices[b]!;
      if (existsSync(pa) && existsSync(pb)) {
        out.push(l);
        continue;
      }
      const pair = await PtyPair.open(
        join(this.options.workDir, `l${i}-${a}`),
        join(this.options.workDir, `l${i}-${b}`),
      );
      this.pairs.push(pair);
      const realEnd = !ea ? a : !eb ? b : undefined;
      if (realEnd !== undefined && realEnd !== rigBoardOf(t)) {
        const emu = realEnd === a ? b : a;
        this.note(
          emu,
          `link to ${realEnd} unplugged: ${realEnd} is real and this end (${l.devices[emu]}) is not on this host`,
        );
        out.push({
          ...l,
          devices: { [realEnd]: l.devices[realEnd]!, [emu]: realEnd === a ? pair.b : pair.a },
        });
        continue;
      }
      out.push({ ...l, devices: { [a]: pair.a, [b]: pair.b } });
    }
    return out;
  }

  private async canBus(l: Extract<LinkConfig, { type: 'can' }>): Promise<LinkConfig> {
    const real = this.options.discovery.boards.filter((b) => b.kind === 'real');
    if (real.length > 0 && this.emulatedBoards().length > 0) {
      throw new ProcessBenchError(
        `emulating boards (${this.emulatedBoards().join(', ')}) beside real ones on a real CAN bus is not supported: connect every board, or fly --lockstep`,
      );
    }
    if (real.length > 0) return l;
    const names = this.options.topology.boards.map((b) => b.name);
    const timing = l.dataBitrate
      ? { bitrate: l.bitrate, dataBitrate: l.dataBitrate }
      : { bitrate: l.bitrate };
    this.bus = await startEmulatedCanBus(join(this.options.workDir, 'can'), names, timing);
    return { ...l, driver: 'emulated', devices: { ...this.bus.paths } };
  }

  /** The bench the rig flies: the rig's board here, the others over the links. */
  attach(hooks: BenchHooks, scheduler: Scheduler): Bench {
    return new LinkedBench(this, hooks, scheduler);
  }

  /** @internal */
  get processes(): BoardProcesses | undefined {
    return this.children;
  }

  /** @internal */
  get keyDirectory(): string {
    return this.keysDir;
  }

  /** @internal The board table. */
  boardInfo(): BoardInfo[] {
    const t = this.topology;
    const rig = rigBoardOf(t);
    return t.boards.map((b): BoardInfo => {
      const v = this.verdicts.get(b.name);
      const notes = this.notes.get(b.name) ?? [];
      const rigLink = t.links.find(
        (l) => l.type === 'serial' && l.between.includes(rig) && l.between.includes(b.name),
      );
      const link =
        rigLink?.type === 'serial'
          ? `${rigLink.devices[rig]} <-> ${rigLink.devices[b.name]}`
          : (v?.link ?? '-');
      const pid = this.children?.pid(b.name);
      const mode = b.name === rig ? 'rig' : v?.kind === 'real' ? 'real' : 'child';
      const why =
        mode === 'child' ? `${v?.why ?? 'not probed'}: emulated as a board process` : (v?.why ?? '');
      return {
        name: b.name,
        roles: b.roles,
        mode,
        link: b.name === rig ? 'its ports to every board' : link,
        why: [why, ...notes].join('; '),
        ...(pid !== undefined ? { pid } : {}),
        ...(v?.hello ? { hello: v.hello } : {}),
      };
    });
  }

  async close(): Promise<void> {
    await this.children?.close();
    this.children = undefined;
    await this.bus?.close().catch(() => undefined);
    this.bus = undefined;
    await Promise.all(this.pairs.splice(0).map((p) => p.close().catch(() => undefined)));
    if (this.generatedKeys !== undefined) rmSync(this.generatedKeys, { recursive: true, force: true });
  }
}

/** The rig's board on the run's links, with the board processes behind it. */
class LinkedBench implements Bench {
  readonly timing = 'realtime' as const;
  readonly periodMs: number;
  readonly counters = new Counters();
  private readonly transport: FaultyTransport;
  private readonly stalls = new Map<string, () => void>();
  /** Built in start(): the rig board's keys load asynchronously. */
  private loop: ProcessLoop | undefined;
  private slotOf: BoardSlot | undefined;

  constructor(
    private readonly p: ProcessBench,
    private readonly hooks: BenchHooks,
    private readonly scheduler: Scheduler,
  ) {
    const o = p.options;
    this.periodMs = 1000 / p.topology.frameRateHz;
    const inner = createBoardTransport(p.topology, rigBoardOf(p.topology), { pace: o.pace });
    this.transport = new FaultyTransport(inner, scheduler, new Prng(o.seed).fork(), this.counters);
  }

  private get slot(): BoardSlot {
    if (this.slotOf === undefined) throw new Error('bench not started');
    return this.slotOf;
  }

  async start(): Promise<void> {
    const t = this.p.topology;
    const o = this.p.options;
    const keys = await loadBoardKeys(this.p.keyDirectory, t, rigBoardOf(t));
    const loop = new ProcessLoop({
      topology: t,
      transport: this.transport,
      scheduler: this.scheduler,
      keys,
      logger: o.logger,
      seed: o.seed,
      ...plantPortsFrom({
        onDecision: this.hooks.onDecision,
        onChannelEvents: this.hooks.onChannelEvents,
        onChannelCommand: this.hooks.onOutput,
        ...(this.hooks.onVoterEvent ? { onVoterEvent: this.hooks.onVoterEvent } : {}),
      }),
      ...(o.firmware ? { firmware: o.firmware } : {}),
    });
    this.loop = loop;
    this.slotOf = { runtime: loop.runtime, transport: this.transport };
    await loop.start();
    try {
      await firstValueFrom(
        this.transport.state$.pipe(
          filter((s) => s === 'up'),
          timeout(10_000),
        ),
      );
    } catch {
      throw new ProcessBenchError(
        `the rig board's links did not come up within 10 s: ${JSON.stringify(this.transport.stats().errors)}`,
      );
    }
  }

  frameTime(frame: number): number {
    return frame * this.periodMs;
  }

  startFrame(frame: number, samples: readonly (UnitSample | null)[]): void {
    driveFrame(this.slot.runtime, frame, samples, this.scheduler);
  }

  view(): { view: number; primary: number } {
    return this.loop?.view() ?? { view: 0, primary: 0 };
  }

  private backend(board: string): Backend {
    return this.p.kindOf(board) === 'real' ? 'real' : 'child';
  }

  private reason(component: BenchFault['target']['component'], type: string, board: string): FaultHandle {
    const c = cell(component, type);
    const why = c?.applies ? c.reach[this.backend(board)] : undefined;
    return {
      applied: false,
      reason: typeof why === 'string' ? why : `${component} ${type} is not reachable on board ${board}`,
    };
  }

  apply(fault: BenchFault): FaultHandle {
    const t = fault.target;
    const rig = rigBoardOf(this.p.topology);
    switch (t.component) {
      case 'voter-link':
        return voterLinkFault(this.slot, t.board, t.channel, fault.type, fault.severity);
      case 'channel': {
        if (fault.type === 'delayed')
          return voterLinkFault(this.slot, t.board, t.channel, 'delayed', fault.severity);
        const children = this.p.processes;
        if (this.backend(t.board) === 'real' || fault.type === 'crash' || children === undefined) {
          return this.reason('channel', fault.type, t.board);
        }
        const kind = (CHANNEL_KIND_OF[fault.type] ?? fault.type) as ChannelFaultKind;
        if (!children.injectChannelFault(t.board, { kind, fromFrame: fault.frame })) {
          return { applied: false, reason: `board process ${t.board} is not running` };
        }
        return {
          applied: true,
          detail: `channel c${t.channel}: ${kind} (board process ${t.board})`,
          clear: () => {
            children.clearChannelFault(t.board);
            return `channel c${t.channel} repaired`;
          },
        };
      }
      case 'replica':
        return this.reason('replica', fault.type, t.board);
      case 'board':
        return this.boardFault(t.board, fault);
      case 'voter':
        return voterFault(this.slot, fault);
      case 'link': {
        const [a, b] = t.ends;
        if (a === rig) return linkFault(this.slot, b, fault.type, fault.severity);
        if (b === rig) return linkFault(this.slot, a, fault.type, fault.severity);
        return this.reason('link', fault.type, this.backend(a) === 'real' ? a : b);
      }
      default:
        return { applied: false, reason: 'input units and sensors are faulted by the rig, not the bench' };
    }
  }

  private boardFault(board: string, fault: BenchFault): FaultHandle {
    const children = this.p.processes;
    if (
      this.backend(board) === 'real' ||
      children === undefined ||
      !['off', 'crash', 'hang', 'slow'].includes(fault.type)
    ) {
      return this.reason('board', fault.type, board);
    }
    if (fault.type === 'off' || fault.type === 'crash') {
      return children.kill(board)
        ? { applied: true, detail: `board ${board}` }
        : { applied: false, reason: `board process ${board} is not running` };
    }
    if (fault.type === 'hang') {
      if (!children.freeze(board, true))
        return { applied: false, reason: `board process ${board} is not running` };
      return {
        applied: true,
        detail: `board ${board}: SIGSTOP (hung)`,
        clear: () => {
          children.freeze(board, false);
          return `board ${board}: SIGCONT (resumed)`;
        },
      };
    }
    const stallMs = fault.severity ?? 100;
    let cancelled = false;
    let cancel = (): void => {};
    const cycle = (at: number): void => {
      cancel = this.scheduler.at(at, () => {
        if (cancelled) return;
        children.freeze(board, true);
        cancel = this.scheduler.at(this.scheduler.now() + stallMs, () => {
          children.freeze(board, false);
          if (!cancelled) cycle(at + 1000);
        });
      });
    };
    cycle(this.scheduler.now());
    this.stalls.set(board, () => {
      cancelled = true;
      cancel();
      children.freeze(board, false);
    });
    return {
      applied: true,
      detail: `board ${board}: SIGSTOP for ${stallMs} ms every second`,
      clear: () => {
        this.stalls.get(board)?.();
        this.stalls.delete(board);
        return `board ${board} runs at full speed again`;
      },
    };
  }

  channelRunning(channel: number): boolean {
    const board = this.p.topology.channels[channel]?.board;
    if (board === undefined) return false;
    if (this.backend(board) === 'real') return !(this.voterHealth()[channel]?.consecutiveSilent ?? 0);
    return this.p.processes?.alive(board) ?? false;
  }

  voterHealth(): readonly ChannelHealth[] {
    return this.loop?.voterHealth() ?? [];
  }

  boards(): readonly BoardInfo[] {
    return this.p.boardInfo();
  }

  async close(): Promise<void> {
    for (const stop of this.stalls.values()) stop();
    this.stalls.clear();
    await this.loop?.close();
  }
}

/** The file form of a resolved topology (drops the fields the loader computes). */
function stripResolved(t: Topology): TopologyFile {
  const { file: _f, replicas: _r, channels: _c, voters: _v, inputs: _i, budget: _b, ...rest } = t;
  return rest;
}
