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
import { authPayload, decodeMessage } from '../../core/codec/encode.ts';
import type { Output } from '../../core/codec/messages.ts';
import type { Command } from '../../core/control/spec.ts';
import type { KeyRing } from '../../core/crypto/keyring.ts';
import { keyedMac, macVerify } from '../../core/crypto/mac.ts';
import type { ChannelHealth, VoterConfig } from '../../core/vote/voter.ts';
import { checkVoterImpl, type Topology } from '../config.ts';
import type { BoardKeys } from '../loop/keys.ts';
import { principalOf } from '../loop/principals.ts';
import type { VoterHangResult, VoterPorts, VoterRole } from '../loop/voter-host.ts';
import { VirtualScheduler } from '../scheduler.ts';
import { firmwareConfigForCommand, provisionRecord } from './provision.ts';
import { sealRekey } from './rekey.ts';
import { type Answer, type FirmwareTarget, FirmwareUnit, type Handshake } from './unit.ts';
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

export interface FirmwareVoterRoleOptions extends FirmwareVoterBoardOptions, VoterPorts {
  readonly topology: Topology;
  readonly target: FirmwareTarget;
  readonly keys: BoardKeys;
  /** The voter's id (principalOf.voter(id) is its principal). */
  readonly voterId?: number;
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

/**
 * A verifier for the unit's heartbeats (BOOT, PONG): the codec's heartbeat message from the voter's principal,
 * role voter, tagged with the heartbeat key at the topology's tag length.
 */
export function heartbeatVerifier(
  t: Topology,
  keys: BoardKeys,
  voterId = 0,
): (heartbeat: Uint8Array) => boolean {
  const key = keys.heartbeatKey(voterId);
  if (key === undefined) return () => false;
  const mac = keyedMac(key);
  const self = principalOf.voter(voterId);
  return (bytes) => {
    const d = decodeMessage(bytes);
    if (!d.ok || d.message.kind !== 'heartbeat' || d.message.node !== self) return false;
    return macVerify(mac, authPayload(d.message), d.message.tag, t.crypto.tagBytes);
  };
}

/** How the unit came up before frame 0 (the log and the flight's summary). */
export interface FirmwareStartup {
  /** Build, spawn (QEMU: and the socket connect) until the first BOOT, ms of wall clock. */
  readonly bootMs: number;
  readonly handshake: Handshake;
  /** The unit process's scheduling (real time only on real timers). */
  readonly scheduling: string;
  /** The PING timeout the handshake used, derived from bootMs. */
  readonly handshakeTimeoutMs: number;
}

/**
 * A PING answer may take this many boot times: a round trip is a small part of a boot (process or QEMU start,
 * the image's reset and its BOOT frame), so a unit that needs longer to answer than to boot is not well.
 */
const HANDSHAKE_BOOTS = 4;
/** Floor and ceiling of the handshake's PING timeout, ms (wall clock; a quiet machine boots in about 100 ms). */
const HANDSHAKE_TIMEOUT_MIN_MS = 1000;
const HANDSHAKE_TIMEOUT_MAX_MS = 60_000;

/** The handshake's PING timeout for a unit that took `bootMs` to boot. */
export function handshakeTimeoutMs(bootMs: number): number {
  return Math.round(
    Math.min(HANDSHAKE_TIMEOUT_MAX_MS, Math.max(HANDSHAKE_TIMEOUT_MIN_MS, HANDSHAKE_BOOTS * bootMs)),
  );
}

export class FirmwareVoterRole implements VoterRole {
  readonly impl: string;
  private unitRunning: FirmwareUnit | undefined;
  private host: FirmwareVoterHost | undefined;
  private ownWorkDir: string | undefined;
  /** How the unit came up (undefined before start). */
  startup: FirmwareStartup | undefined;
  /** Per channel index: the generation of the key the unit holds (0: its flash key), as the rig last sent it. */
  private readonly generation: number[];
  /** A watchdog reset put the unit back on its flash keys: send the current ones again before the next request. */
  private resendKeys = false;
  private currentFrame = 0;

  constructor(private readonly o: FirmwareVoterRoleOptions) {
    this.impl = `firmware-${o.target}`;
    this.generation = o.topology.channels.map(() => 0);
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

  /**
   * Check the toolchain, build, provision and boot the unit, then the handshake: the BOOT must say provisioned,
   * and PINGs must come back with authentic heartbeats (the unit runs its frame loop) before the board counts
   * as started, so that frame 0 (the flight's held clock starts after every board's start) never counts against
   * a unit still coming up. On real timers the unit's process also gets real-time scheduling where permitted
   * (priority.ts). Throws with the reason when any of it fails.
   */
  async start(): Promise<void> {
    if (this.unitRunning !== undefined) return;
    checkVoterImpl({ ...this.o.topology, voterImpl: this.impl as Topology['voterImpl'] });
    const provision = voterProvision(this.o.topology, this.o.config, this.o.keys, this.o.voterId);
    const workDir = this.o.workDir ?? this.makeWorkDir();
    const mode = this.o.mode ?? (this.o.scheduler instanceof VirtualScheduler ? 'sync' : 'async');
    const started = performance.now();
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
      onBoot: (boot) => {
        this.host?.onBoot(boot);
        if (this.generation.some((g) => g > 0)) this.resendKeys = true;
        // Back from a watchdog reset: real time again (the governor drops it while a hung unit spins).
        if (boot.resetCause === 'watchdog') this.unitRunning?.raisePriority(this.o.log);
      },
      ...(this.o.actuatorFile === undefined ? {} : { actuatorFile: this.o.actuatorFile }),
      ...(this.o.timeoutMs === undefined ? {} : { timeoutMs: this.o.timeoutMs }),
    });
    try {
      this.startup = await this.handshake(unit, performance.now() - started);
    } catch (e) {
      await unit.close();
      throw e;
    }
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
    this.o.keys.onRekey?.(this.self, (peer) => {
      const c = this.o.topology.channels.findIndex((ch) => principalOf.channel(ch.id) === peer);
      if (c >= 0) this.rekey([c]);
    });
    this.o.log.info(
      { impl: this.impl, mode, boot: unit.boots[0]?.bootCount, startup: this.startup },
      'firmware voter ready',
    );
  }

  private get self(): number {
    return principalOf.voter(this.o.voterId ?? 0);
  }

  /**
   * The channels' current pairwise keys (BoardKeys.rawKey) to the unit, one REKEY each, sealed for its current
   * boot at the next generation; `resend`: the same generation again after a reset (the unit is back at 0).
   */
  private rekey(channels: readonly number[], resend = false, handover = false): void {
    const unit = this.unitRunning;
    const heartbeatKey = this.o.keys.heartbeatKey(this.o.voterId ?? 0);
    const boot = unit?.boots.at(-1);
    if (unit === undefined || heartbeatKey === undefined || boot === undefined) return;
    const { bootCount, epoch } = boot;
    for (const c of channels) {
      const slot = this.o.topology.channels[c];
      if (slot === undefined) continue;
      if (!resend) this.generation[c] = this.generation[c]! + 1;
      const generation = this.generation[c]!;
      if (generation === 0) continue;
      const key = this.o.keys.rawKey(this.self, principalOf.channel(slot.id));
      const { sealed, tag } = sealRekey({
        heartbeatKey,
        epoch,
        bootCount,
        channel: c,
        generation,
        key,
        handover,
      });
      const request = { type: 'rekey' as const, channel: c, generation, handover, sealed, tag };
      this.o.counters.add('firmware.rekey');
      if (unit.mode === 'sync') {
        try {
          this.rekeyed(c, unit.requestSync(request));
        } catch (e) {
          this.rekeyed(c, 'lost', (e as Error).message);
        }
      } else void unit.request(request).then((a) => this.rekeyed(c, a));
    }
  }

  private rekeyed(c: number, a: Answer, why?: string): void {
    if (a !== 'lost' && a.type === 'rekeyed' && a.channel === c) return;
    this.o.counters.add('firmware.rekey-refused');
    this.o.log.error(
      { channel: c, answer: a === 'lost' ? (why ?? 'lost') : a.type === 'error' ? a.error : a.type },
      'firmware voter refused a new channel key',
    );
  }

  /** After a watchdog reset: the unit runs on its flash keys again; the current ones go first. */
  private flushKeys(): void {
    if (!this.resendKeys || this.host === undefined || this.host.down) return;
    this.resendKeys = false;
    this.rekey(
      this.generation.flatMap((g, c) => (g > 0 ? [c] : [])),
      true,
    );
  }

  private async handshake(unit: FirmwareUnit, bootMs: number): Promise<FirmwareStartup> {
    const boot = unit.boots[0];
    if (boot?.provision !== 'ok')
      throw new Error(`firmware ${this.o.target} booted unprovisioned (${boot?.provision ?? 'no BOOT'})`);
    const verify = heartbeatVerifier(this.o.topology, this.o.keys, this.o.voterId);
    if (!verify(boot.heartbeat))
      throw new Error(`firmware ${this.o.target}: the heartbeat in its BOOT is not authentic`);
    // Lockstep too: an idle QEMU unit's guest clock follows the host's while it waits (icount sleep=on), so a
    // QEMU process the host does not run for 150 ms sees its watchdog expire and resets (measured: SIGSTOP for
    // 150 ms resets it, 80 ms does not); at real-time priority the host runs it when it needs to.
    const scheduling = unit.raisePriority(this.o.log).summary;
    const timeoutMs = handshakeTimeoutMs(bootMs);
    const handshake = await unit.handshake({ pings: 5, timeoutMs, verify });
    return { bootMs: Math.round(bootMs), handshake, scheduling, handshakeTimeoutMs: timeoutMs };
  }

  armFrame(frame: number): void {
    this.currentFrame = frame;
    this.host?.armFrame(frame);
    this.flushKeys();
  }

  output(message: Output): void {
    if (this.host === undefined) {
      this.o.counters.add('voter.not-started');
      return;
    }
    this.flushKeys();
    this.host.output(message);
  }

  health(): readonly ChannelHealth[] {
    return this.host?.health() ?? [];
  }

  /**
   * The voter's own proactive restart took fresh keys (its NEW-KEY): every channel's pairwise key changed, and
   * the unit gets them all by REKEY with handover, now: the new keys verify from the next request on, the old ones
   * still the frames up to the one open now, until it is decided (rekey.h), and the unit keeps its voting state:
   * the TypeScript VoterHost's make-before-break restart, so both fly the same trace through it. Returns the next
   * frame.
   */
  reinstall(_ring: KeyRing): number | undefined {
    if (this.unitRunning === undefined) return undefined;
    this.rekey(
      this.o.topology.channels.map((_, c) => c),
      false,
      true,
    );
    return this.currentFrame + 1;
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
