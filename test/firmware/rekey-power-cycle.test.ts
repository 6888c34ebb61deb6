/**
 * REKEY across a power cycle (firmware-bridge/src/nvm.h, rekey.h): every boot advances the unit's epoch in NVM
 * and a REKEY's tag binds it, so a REKEY recorded before a power cycle cannot be replayed after it, although the
 * RAM boot count is 0 again. A power cycle here is the unit's process (the host build, or QEMU with the
 * Cortex-M3) stopped and started again on the same NVM file, which is all that survives it. Without NVM the
 * unit has no epoch and refuses every REKEY (it could not tell a replay from a fresh one).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCorpus, SETUPS } from '../../bench/firmware/corpus.ts';
import { provisionFor } from '../../bench/firmware/harness.ts';
import { sealRekey } from '../../src/runtime/firmware/rekey.ts';
import {
  type FirmwareTarget,
  FirmwareUnit,
  NVM_FILE,
  type Request,
} from '../../src/runtime/firmware/unit.ts';
import { answerOf, firmwareFixture, signedOutput } from './fixture.ts';

const { host, m3, work } = firmwareFixture('firmware REKEY power-cycle test', 'power', ['host', 'm3']);

const corpus = generateCorpus(SETUPS[0]!, 0, 5); // keys and config only
const fresh = new Uint8Array(32).map((_, i) => (i * 11 + 5) & 0xff);

function powerOn(target: FirmwareTarget, name: string, nvmDir: string): Promise<FirmwareUnit> {
  return FirmwareUnit.start({
    target,
    mode: 'sync',
    provision: provisionFor(corpus),
    shape: { channels: corpus.setup.channelIds.length, discrete: 2, analog: 1 },
    workDir: join(work, name),
    nvmDir,
  });
}

/** Channel 1's OUTPUT for `frame`, tagged with `key`. */
const output = (frame: number, key: Uint8Array): Uint8Array => signedOutput(corpus, frame, 1, 0.01, key);

const say = (unit: FirmwareUnit, r: Request): string => answerOf(unit.requestSync(r));

/** A REKEY of channel 1 to `fresh` at generation 1, sealed for the unit's current boot. */
function rekeyFor(unit: FirmwareUnit): Request {
  const { epoch, bootCount } = unit.boots.at(-1)!;
  const sealed = sealRekey({
    heartbeatKey: corpus.heartbeatKey,
    epoch,
    bootCount,
    channel: 1,
    generation: 1,
    key: fresh,
  });
  return { type: 'rekey', channel: 1, generation: 1, ...sealed };
}

async function powerCycle(target: FirmwareTarget) {
  const nvm = join(work, `${target}-nvm`);
  const said: string[] = [];
  const first = await powerOn(target, `${target}-1`, nvm);
  let recorded: Request;
  const epochs: number[] = [];
  try {
    epochs.push(first.boots[0]!.epoch);
    recorded = rekeyFor(first); // what an eavesdropper on the link records
    said.push(say(first, recorded));
    said.push(say(first, { type: 'deliver', time: 1, message: output(0, fresh) }));
  } finally {
    await first.close(); // power off: the process is gone, only the NVM file is left
  }
  const second = await powerOn(target, `${target}-2`, nvm);
  let rekeys: Awaited<ReturnType<FirmwareUnit['status']>>['rekeys'];
  try {
    const boot = second.boots[0]!;
    epochs.push(boot.epoch);
    expect(boot).toMatchObject({ resetCause: 'power-on', bootCount: 0 }); // the RAM count starts again
    said.push(say(second, recorded)); // the replay: sealed for the last power cycle's epoch
    said.push(say(second, { type: 'deliver', time: 1, message: output(0, fresh) })); // not its key
    said.push(say(second, { type: 'deliver', time: 2, message: output(0, corpus.keys[1]!) })); // the flash key
    said.push(say(second, rekeyFor(second))); // the rig's fresh one, for this epoch
    said.push(say(second, { type: 'deliver', time: 21, message: output(1, fresh) }));
    rekeys = (await second.status()).rekeys;
  } finally {
    await second.close();
  }
  return { said, epochs, rekeys, nvm: readFileSync(join(nvm, NVM_FILE)) };
}

const EXPECTED = [
  'rekeyed 1 1',
  'offer 0',
  'error rekey-bad-tag', // the replay, refused...
  'offer 17', // ...so channel 1 is not on the replayed key
  'offer 0',
  'rekeyed 1 1', // the same generation, sealed for this epoch: taken
  'offer 0',
];

async function withoutNvm(target: FirmwareTarget): Promise<{ epoch: number; said: string }> {
  // The NVM file's path is a directory: it can be neither opened nor created, as a failed part.
  const nvm = join(work, `${target}-broken-nvm`);
  mkdirSync(join(nvm, NVM_FILE), { recursive: true });
  const unit = await powerOn(target, `${target}-broken`, nvm);
  try {
    return { epoch: unit.boots[0]!.epoch, said: say(unit, rekeyFor(unit)) };
  } finally {
    await unit.close();
  }
}

describe.skipIf(!host.ok)('REKEY is bound to the boot epoch in NVM: no replay across a power cycle', () => {
  for (const target of ['host', 'qemu'] as const) {
    it.skipIf(target === 'qemu' && !m3.ok)(
      `${target}: a REKEY from before the power cycle is refused and counted, a fresh one taken`,
      async () => {
        const r = await powerCycle(target);
        expect(r.said).toEqual(EXPECTED);
        expect(r.epochs[0]).toBeGreaterThan(0);
        expect(r.epochs[1]).toBe(r.epochs[0]! + 1);
        expect(r.rekeys).toEqual({ ok: 1, malformed: 0, 'bad-tag': 1, stale: 0, 'no-epoch': 0 });
        expect(r.nvm.length).toBe(32); // two 16-byte slots
      },
    );
    it.skipIf(target === 'qemu' && !m3.ok)(
      `${target}: without NVM there is no epoch and no REKEY`,
      async () => {
        expect(await withoutNvm(target)).toEqual({ epoch: 0, said: 'error rekey-no-epoch' });
      },
    );
  }
});
