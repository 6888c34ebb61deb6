/**
 * The laptop loop (LoopSystem: every board in this process) with the firmware unit as its voter: the
 * channels' OUTPUTs reach the C firmware (host build or Cortex-M3 under QEMU) and the rig hears the
 * firmware's decisions. The TypeScript voter keeps running beside it as a shadow on the same outputs; every
 * frame both decided is compared and a difference is counted ('firmware.shadow-mismatch') and logged.
 *
 * This is the stand-in until `"voterImpl": "firmware-host" | "firmware-qemu"` is wired into BoardRuntime:
 * it replaces the voter role of the voter's board after the system is built (see firmware-bridge/README.md,
 * "Wiring", for the intended wiring).
 *
 * @example
 * const fw = await startFirmwareLoop({ topology, scheduler, seed, logger, target: 'host', mode: 'sync', workDir });
 * const rig = new Rig({ topology, scheduler, scenario, seed, logger, loop: fw.factory });
 */
import type { Logger } from 'pino';
import type { Command } from '../../core/control/spec.ts';
import { sha256 } from '../../core/crypto/digest.ts';
import { sessionKeysFromMaster } from '../../core/crypto/hkdf.ts';
import { Prng } from '../../core/prng.ts';
import type { DecisionRecord } from '../../core/vote/voter.ts';
import type { Topology } from '../config.ts';
import { topologyVoterConfig } from '../loop/board-runtime.ts';
import type { PlantPorts } from '../loop/ports.ts';
import { principalOf } from '../loop/principals.ts';
import { LoopSystem, type LoopSystemOptions } from '../loop/system.ts';
import { type ControlLoop, type ControlLoopFactory, inProcessLoop } from '../node/control-loop.ts';
import { firmwareConfigForCommand, provisionRecord } from './provision.ts';
import { type FirmwareTarget, FirmwareUnit } from './unit.ts';
import { FirmwareVoterHost } from './voter-host.ts';

/**
 * The voter's pairwise channel keys of the laptop loop seeded with `loopSeed`: the derivation of
 * src/runtime/loop/keys.ts seededKeys (LoopSystem draws its key seed first). KeyRing does not hand out raw
 * keys; test/firmware/loop.test.ts checks these against the ring.
 */
export function laptopVoterKeys(
  t: Topology,
  loopSeed: number,
): { channelKeys: Uint8Array[]; heartbeatKey: Uint8Array } {
  const keySeed = new Prng(loopSeed).u32();
  const text = new TextEncoder();
  const master = sha256(text.encode(`triplex/laptop-keys/${keySeed}`));
  const self = principalOf.voter(0);
  return {
    channelKeys: t.channels.map((c) => sessionKeysFromMaster(master, self, principalOf.channel(c.id))),
    heartbeatKey: sha256(text.encode(`triplex/laptop-fw-heartbeat/${keySeed}`)),
  };
}

export interface FirmwareLoopOptions extends Omit<LoopSystemOptions, keyof PlantPorts> {
  readonly target: FirmwareTarget;
  /** 'sync' under a VirtualScheduler (decisions at the same instants as the TypeScript voter's). */
  readonly mode: 'sync' | 'async';
  readonly workDir: string;
  readonly testHooks?: boolean;
  readonly hangFrames?: number;
}

export interface FirmwareLoop {
  readonly unit: FirmwareUnit;
  /** For Rig({ loop }). */
  readonly factory: ControlLoopFactory;
  /** The firmware voter host, once the factory has been called. */
  host(): FirmwareVoterHost;
  close(): Promise<void>;
}

/** Provision and start the unit for this loop's topology and keys, then hand out the loop factory. */
export async function startFirmwareLoop(o: FirmwareLoopOptions): Promise<FirmwareLoop> {
  const t = o.topology;
  const config = topologyVoterConfig(t);
  const keys = laptopVoterKeys(t, o.seed);
  const provision = provisionRecord(firmwareConfigForCommand(config), {
    selfPrincipal: principalOf.voter(0),
    channelIds: t.channels.map((c) => c.id),
    ...keys,
    tagLength: t.crypto.tagBytes,
  });
  const unit = await FirmwareUnit.start({
    target: o.target,
    mode: o.mode,
    provision,
    shape: { channels: t.channels.length, discrete: 2, analog: 1 },
    workDir: o.workDir,
    ...(o.testHooks === undefined ? {} : { testHooks: o.testHooks }),
  });
  let built: FirmwareVoterHost | undefined;
  const factory: ControlLoopFactory = (ports) => {
    const shadow = new Map<number, DecisionRecord<Command>>();
    const fwSeen = new Map<number, DecisionRecord<Command>>();
    const log: Logger = o.logger.child({ role: 'firmware-voter' });
    let system: LoopSystem | undefined;
    const compare = (frame: number): void => {
      const a = shadow.get(frame);
      const b = fwSeen.get(frame);
      if (a === undefined || b === undefined) return;
      shadow.delete(frame);
      fwSeen.delete(frame);
      if (JSON.stringify(a) !== JSON.stringify(b) || !Object.is(a.value.elevator, b.value.elevator)) {
        system?.counters.add('firmware.shadow-mismatch');
        log.error({ frame, typescript: a, firmware: b }, 'firmware voter and TypeScript voter differ');
      }
    };
    system = new LoopSystem({
      topology: o.topology,
      scheduler: o.scheduler,
      seed: o.seed,
      logger: o.logger,
      ...(o.virtual ? { virtual: o.virtual } : {}),
      ...(o.cutFraction !== undefined ? { cutFraction: o.cutFraction } : {}),
      // The TypeScript voter's decisions stop at the shadow comparison; the rig hears the firmware's.
      actuator: {
        write: (rec) => {
          shadow.set(rec.frame, rec);
          compare(rec.frame);
        },
      },
      ...(ports.channelCommands ? { channelCommands: ports.channelCommands } : {}),
      ...(ports.replicaEvents ? { replicaEvents: ports.replicaEvents } : {}),
    });
    const host = new FirmwareVoterHost({
      config: system.voter.voter.config,
      unit,
      scheduler: o.scheduler,
      counters: system.counters,
      log,
      counterPrefix: 'firmware.',
      actuator: {
        write: (rec) => {
          fwSeen.set(rec.frame, rec);
          compare(rec.frame);
          ports.actuator?.write(rec);
        },
      },
      ...(ports.channelHealth ? { health: ports.channelHealth } : {}),
      ...(o.hangFrames === undefined ? {} : { hangFrames: o.hangFrames }),
    });
    built = host;
    const tsHost = system.voter;
    const voterBoard = system.boards.get(t.voters[0]!.board)!;
    voterBoard.board.roles.voter = {
      output: (m) => {
        host.output(m);
        tsHost.output(m);
      },
    };
    const base = inProcessLoop(system);
    const loop: ControlLoop = {
      ...base,
      startFrame: (frame, samples) => {
        host.armFrame(frame);
        system.startFrame(frame, samples);
      },
      voterHealth: () => host.health(),
      close: async () => {
        await base.close();
      },
    };
    return loop;
  };
  return {
    unit,
    factory,
    host: () => {
      if (built === undefined) throw new Error('firmware loop: the factory has not been called yet');
      return built;
    },
    close: () => unit.close(),
  };
}
