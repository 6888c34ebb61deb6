/**
 * The actuator command as the firmware writes it, on its second port (host build: `--actuator PATH`; Cortex-M3:
 * UART1): one serial frame (COBS + CRC-32C, as the link) per decision, payload `0xA0, frame uvar, kind u8,
 * discrete uvar..., analog f64...` (firmware-bridge/host/main.c and m3/main.c, fw_port_actuator). Reading it
 * back is how a test shows that what reaches the actuator is what the unit reported deciding.
 *
 * @example
 * const commands = readActuatorStream(readFileSync(file), { discrete: 2, analog: 1 });
 * commands[0]; // { frame: 0, kind: 'write', discrete: [0, 0], analog: [0.012] }
 */
import { SerialDeframer } from '../../core/codec/framing/serial-frame.ts';
import { DecodeFailure, Reader } from '../../core/codec/wire.ts';

export const ACTUATOR_FRAME_TYPE = 0xa0;
const KINDS = ['write', 'hold', 'failsafe'] as const;
/** Largest ACTUATOR payload the firmware writes (a 64-byte buffer). */
const MAX_PAYLOAD = 64;

export interface ActuatorCommand {
  readonly frame: number;
  readonly kind: (typeof KINDS)[number];
  readonly discrete: readonly number[];
  readonly analog: readonly number[];
}

export interface ActuatorStream {
  readonly commands: ActuatorCommand[];
  /** Frames that failed their CRC or COBS, or were not ACTUATOR frames of this shape. */
  readonly rejected: number;
}

/** One ACTUATOR payload; a DecodeFailure's reason when it is not one. */
export function decodeActuatorFrame(
  payload: Uint8Array,
  shape: { readonly discrete: number; readonly analog: number },
): ActuatorCommand | { readonly error: string } {
  try {
    const r = new Reader(payload);
    if (r.u8('type') !== ACTUATOR_FRAME_TYPE) return { error: 'not an ACTUATOR frame' };
    const frame = r.uvar('frame');
    const kind = KINDS[r.u8('kind')];
    if (kind === undefined) return { error: 'unknown decision kind' };
    const discrete = Array.from({ length: shape.discrete }, (_, i) => r.uvar(`discrete ${i}`));
    const analog = Array.from({ length: shape.analog }, (_, i) => r.f64(`analog ${i}`));
    if (r.remaining !== 0) return { error: `${r.remaining} trailing bytes` };
    return { frame, kind, discrete, analog };
  } catch (e) {
    if (e instanceof DecodeFailure) return { error: e.reason };
    throw e;
  }
}

/** Every ACTUATOR frame in a byte stream (a file the unit wrote), in order; the rest counted as rejected. */
export function readActuatorStream(
  bytes: Uint8Array,
  shape: { readonly discrete: number; readonly analog: number },
): ActuatorStream {
  const deframer = new SerialDeframer({ maxPayload: MAX_PAYLOAD });
  const commands: ActuatorCommand[] = [];
  let rejected = 0;
  for (const payload of deframer.push(bytes)) {
    const c = decodeActuatorFrame(payload, shape);
    if ('error' in c) rejected++;
    else commands.push(c);
  }
  const s = deframer.stats();
  rejected += s.cobs + s.crc + s['too-long'];
  return { commands, rejected };
}

/** What the actuator does in a frame, by the loss-of-command rule (CommandWatch). */
export type ActuatorAction =
  | { readonly kind: 'command' }
  /** No command arrived: it keeps the last position. */
  | { readonly kind: 'hold' }
  /** Too long without a written command: its failsafe position, whatever it was told. */
  | { readonly kind: 'failsafe' };

/**
 * The actuator's own loss-of-command timeout, as a real actuator interface has one independent of the voter that
 * drives it: from the `failsafeAfter`-th consecutive frame without a written command (a hold or failsafe command,
 * or no command at all: the voter hung, or its decision came after the frame) it goes to its failsafe position,
 * and stays there until a written command arrives. With a voter that decides every frame this changes nothing
 * (the voter's own failsafe falls on the same frame: failsafeAfterMisses); it bounds what a hung voter can hold.
 * See firmware-bridge/README.md "A hang, frame by frame".
 *
 * @example
 * const watch = new CommandWatch(10);
 * watch.frame('write');   // { kind: 'command' }
 * watch.frame(undefined); // { kind: 'hold' } ... the 10th in a row: { kind: 'failsafe' }
 */
export class CommandWatch {
  private withoutWrite = 0;

  constructor(private readonly failsafeAfter: number) {
    if (!Number.isSafeInteger(failsafeAfter) || failsafeAfter < 1)
      throw new RangeError(`failsafeAfter must be a whole number of frames >= 1, got ${failsafeAfter}`);
  }

  /** Consecutive frames without a written command, up to the last one closed. */
  get framesWithoutWrite(): number {
    return this.withoutWrite;
  }

  /** A frame closes with this command (undefined: none arrived in time). */
  frame(command: 'write' | 'hold' | 'failsafe' | undefined): ActuatorAction {
    if (command === 'write') {
      this.withoutWrite = 0;
      return { kind: 'command' };
    }
    this.withoutWrite = Math.min(this.withoutWrite + 1, Number.MAX_SAFE_INTEGER);
    if (this.withoutWrite >= this.failsafeAfter) return { kind: 'failsafe' };
    return command === undefined ? { kind: 'hold' } : { kind: 'command' };
  }
}
