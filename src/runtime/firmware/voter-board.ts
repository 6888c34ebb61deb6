/**
 * The voter role of a board when the topology says `"voterImpl": "firmware-host" | "firmware-qemu"`: the C99
 * firmware of firmware-bridge/ as the board's actuator interface unit (src/runtime/firmware/unit.ts), behind
 * the same `VoterRole` as the TypeScript VoterHost. Board builds it; `start()` (from Board.start)
 * checks the toolchain, builds the firmware (make, incremental), provisions it with the voter's configuration
 * and its raw pairwise channel keys and heartbeat key (BoardKeys), and waits for its BOOT.
 *
 * Under a VirtualScheduler the unit runs in lockstep ('sync': each request blocks until it is answered, so the
 * decisions fall at the instants the TypeScript voter's would); on real timers it runs 'async'.
 *
 * @example
 * const role = new FirmwareVoterRole({ topology, target: 'host', config, keys, scheduler, counters, log });
 * await role.start();   // builds, provisions, boots
 * role.armFrame(0);     // as VoterHost
 * await role.close();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Output } from '../../core/codec/messages.ts';
import type { Command } from '../../core/control/spec.ts';
import type { KeyRing } from '../../core/crypto/keyring.ts';
import type { ChannelHealth, VoterConfig } from '../../core/vote/voter.ts';
import { checkVoterImpl, type Topology } from '../config.ts';
import type { Counters } from '../loop/counters.ts';
import type { BoardKeys } from '../loop/keys.ts';
import type { ActuatorPort, ChannelHealthSink, VoterEventTap } from '../loop/ports.ts';
import { principalOf } from '../loop/principals.ts';
import type { VoterHangResult, VoterRole } from '../loop/voter-host.ts';
import { type Scheduler, VirtualScheduler } from '../scheduler.ts';
import { firmwareConfigForCommand, provisionRecord } from './provision.ts';
import { type FirmwareTarget, FirmwareUnit } from './unit.ts';
import { FirmwareVoterHost } from './voter-host.ts';

/** How a board runs its firmware voter (BoardOptions.firmware). */
export interface FirmwareVoterBoardOptions {
  /** 'sync' (lockstep) or 'async' (real time); default: sync under a VirtualScheduler, else async. */
  readonly mode?: 'sync' | 'async';
  /** Where the unit's FIFOs, socket and provisioning file go; default a fresh temporary folder, removed on close. */
  readonly workDir?: string;
  /** Build with test hooks (the HANG request the `voter hang` fault needs). Default false. */
  readonly testHooks?: boolean;
  /** The actuator output of the unit (ACTUATOR frames, actuator.ts) to this file. */
  readonly actuatorFile?: string;
  /** Wall-clock limit for the unit to boot or answer (failure detection only; default 30 s). */
  readonly timeoutMs?: number;
}

export interface FirmwareVoterRoleOptions extends FirmwareVoterBoardOptions {
  readonly topology: Topology;
  readonly target: FirmwareTarget;
  readonly config: VoterConfig<Command>;
  readonly keys: BoardKeys;
  /** The voter's id (principalOf.voter(id) is its principal). */
  readonly voterId?: number;
  readonly scheduler: Scheduler;
  readonly counters: Counters;
  readonly log: Logger;
  readonly actuator?: ActuatorPort;
  readonly health?: ChannelHealthSink;
  readonly events?: VoterEventTap;
}

/** The provisioning record of a topology's voter with the board's keys (what flash would hold). */
export function voterProvision(
  t: Topology,
  config: VoterConfig<Command>,
  keys: BoardKeys,
  voterId = 0,
): Uint8Array {
  const self = principalOf.voter(voterId);
  const heartbeatKey = keys.heartbeatKey(voterId);
  if (heartbeatKey === undefined) {
    throw new Error(
      `the key set has no heartbeat key for voter-${voterId}, which a firmware voter needs (key files from before heartbeat keys): regenerate them with \`triplex keys gen --config ${t.file} --out DIR --force\``,
    );
  }
  return provisionRecord(firmwareConfigForCommand(config), {
    selfPrincipal: self,
    channelIds: t.channels.map((c) => c.id),
    channelKeys: t.channels.map((c) => keys.rawKey(self, principalOf.channel(c.id))),
    heartbeatKey,
    tagLength: t.crypto.tagBytes,
  });
}

export class FirmwareVoterRole implements VoterRole {
  readonly impl: string;
  private unitRunning: FirmwareUnit | undefined;
  private host: FirmwareVoterHost | undefined;
  private ownWorkDir: string | undefined;

  constructor(private readonly o: FirmwareVoterRoleOptions) {
    this.impl = `firmware-${o.target}`;
  }

  get config(): VoterConfig<Command> {
    return this.o.config;
  }

  /** The running unit (its boots, diagnostics); undefined before start. */
  get unit(): FirmwareUnit | undefined {
    return this.unitRunning;
  }

  get down(): boolean {
    return this.host?.down ?? true;
  }

  /** Check the toolchain, build, provision and boot the unit. Throws with the reason when it cannot. */
  async start(): Promise<void> {
    if (this.unitRunning !== undefined) return;
    checkVoterImpl({ ...this.o.topology, voterImpl: this.impl as Topology['voterImpl'] });
    const provision = voterProvision(this.o.topology, this.o.config, this.o.keys, this.o.voterId);
    const workDir = this.o.workDir ?? this.makeWorkDir();
    const mode = this.o.mode ?? (this.o.scheduler instanceof VirtualScheduler ? 'sync' : 'async');
    const unit = await FirmwareUnit.start({
      target: this.o.target,
      mode,
      provision,
      shape: {
        channels: this.o.config.channels.length,
        discrete: this.o.config.discrete.length,
        analog: this.o.config.analog.length,
      },
      workDir,
      testHooks: this.o.testHooks ?? false,
      onBoot: (boot) => this.host?.onBoot(boot),
      ...(this.o.actuatorFile === undefined ? {} : { actuatorFile: this.o.actuatorFile }),
      ...(this.o.timeoutMs === undefined ? {} : { timeoutMs: this.o.timeoutMs }),
    });
    this.unitRunning = unit;
    this.host = new FirmwareVoterHost({
      config: this.o.config,
      unit,
      scheduler: this.o.scheduler,
      counters: this.o.counters,
      log: this.o.log,
      ...(this.o.actuator ? { actuator: this.o.actuator } : {}),
      ...(this.o.health ? { health: this.o.health } : {}),
      ...(this.o.events ? { events: this.o.events } : {}),
    });
    this.o.log.info({ impl: this.impl, mode, boot: unit.boots[0]?.bootCount }, 'firmware voter booted');
  }

  armFrame(frame: number): void {
    this.host?.armFrame(frame);
  }

  output(message: Output): void {
    if (this.host === undefined) {
      this.o.counters.add('voter.not-started');
      return;
    }
    this.host.output(message);
  }

  health(): readonly ChannelHealth[] {
    return this.host?.health() ?? [];
  }

  /** Fresh keys at a proactive restart: not for a firmware voter (its keys are provisioned in flash). */
  reinstall(_ring: KeyRing): number | undefined {
    this.o.counters.add('voter.reinstall-unsupported');
    return undefined;
  }

  hang(frames: number, frame?: number): VoterHangResult {
    if (this.host === undefined) return { applied: false, reason: 'the firmware voter has not started' };
    return this.host.hang(frames, frame);
  }

  async close(): Promise<void> {
    const unit = this.unitRunning;
    this.unitRunning = undefined;
    this.host = undefined;
    await unit?.close();
    if (this.ownWorkDir !== undefined) rmSync(this.ownWorkDir, { recursive: true, force: true });
    this.ownWorkDir = undefined;
  }

  private makeWorkDir(): string {
    this.ownWorkDir = mkdtempSync(join(tmpdir(), 'triplex-fw-voter-'));
    return this.ownWorkDir;
  }
}
