/**
 * The SLCAN ASCII protocol (Lawicel / CANable / USBtin), both directions, as pure string functions.
 *
 * Host to adapter, each line ending in CR:
 *   Sn      classic bit rate, n = 0..8 (10k 20k 50k 100k 125k 250k 500k 800k 1M)
 *   Yn      CAN FD data bit rate (CANable 2.0: 2 = 2M, 4 = 4M, 5 = 5M)
 *   O / C   open / close the channel; L opens listen-only
 *   tIIIL<data>  TIIIIIIIIL<data>   standard / extended data frame, L = 0..8
 *   rIIIL / RIIIIIIIIL              standard / extended remote frame
 *   dIIIL / DIIIIIIIIL  bIIIL / BIIIIIIIIL   CAN FD frame without / with bit-rate switch, L = DLC code 0..F
 *   V / v / N / F   hardware version / firmware version / serial number / status flags
 * Adapter to host: CR alone = OK, BEL (0x07) alone = error; 'z'/'Z' CR = OK after t/T (Lawicel);
 *   'Vxxxx', 'vxxxx', 'Nxxxx', 'Fxx' replies; received frames in the same t/T/r/R/d/D/b/B syntax.
 */

import { canDlcForLength, canLengthForDlc } from '../core/codec/framing/can-segment.ts';
import type { CanFrame } from './can-frame.ts';

export const SLCAN_OK = '\r';
export const SLCAN_ERROR = '\x07';
/** Longest valid line: 'B' + 8 id digits + DLC + 128 data digits + 4 timestamp digits. */
export const SLCAN_MAX_LINE = 142;

/** S0..S8 bit rates. */
export const SLCAN_BITRATES = [
  10_000, 20_000, 50_000, 100_000, 125_000, 250_000, 500_000, 800_000, 1_000_000,
];
/** Y codes for CAN FD data bit rates (CANable 2.0 firmware). */
export const SLCAN_DATA_BITRATES: Record<number, number> = { 2: 2_000_000, 4: 4_000_000, 5: 5_000_000 };

export function slcanBitrateCode(bitrate: number): number {
  const code = SLCAN_BITRATES.indexOf(bitrate);
  if (code < 0)
    throw new RangeError(`SLCAN: no S code for ${bitrate} bit/s (have ${SLCAN_BITRATES.join(', ')})`);
  return code;
}

export function slcanDataBitrateCode(bitrate: number): number {
  const entry = Object.entries(SLCAN_DATA_BITRATES).find(([, b]) => b === bitrate);
  if (entry === undefined) throw new RangeError(`SLCAN: no Y code for a data bit rate of ${bitrate} bit/s`);
  return Number(entry[0]);
}

const HEX = '0123456789ABCDEF';
/** Two upper-case hex digits of each byte value: the data of a frame line is one table look-up per byte. */
const BYTE_HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => HEX[b >>> 4]! + HEX[b & 0xf]!);
/** Value of each hex digit character code (either case), -1 for anything else. */
const HEX_VALUE = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 16; i++) {
    t[HEX.charCodeAt(i)] = i;
    t[HEX.toLowerCase().charCodeAt(i)] = i;
  }
  return t;
})();

function hex(n: number, digits: number): string {
  let s = '';
  for (let i = digits - 1; i >= 0; i--) s += HEX[(n >>> (4 * i)) & 0xf];
  return s;
}

/** The line (without CR) that carries `f`. The caller checks canFrameProblem first. */
export function encodeSlcanFrame(f: CanFrame): string {
  const ext = f.extended;
  const kind = f.remote
    ? ext
      ? 'R'
      : 'r'
    : f.fd
      ? f.brs
        ? ext
          ? 'B'
          : 'b'
        : ext
          ? 'D'
          : 'd'
      : ext
        ? 'T'
        : 't';
  const id = hex(f.id, ext ? 8 : 3);
  if (f.remote) return `${kind}${id}${hex(f.dlc, 1)}`;
  const dlc = f.fd ? canDlcForLength(f.data.length) : f.data.length;
  const length = f.fd ? canLengthForDlc(dlc, true) : f.data.length;
  let data = '';
  for (let i = 0; i < length; i++) data += BYTE_HEX[f.data[i] ?? 0]; // FD padding with zeros
  return `${kind}${id}${hex(dlc, 1)}${data}`;
}

export type SlcanFrameParse = { ok: true; frame: CanFrame } | { ok: false; reason: string };

/** Parse a frame line (t/T/r/R/d/D/b/B ...), optionally followed by a 4-digit timestamp. Total. */
export function parseSlcanFrame(line: string): SlcanFrameParse {
  const kind = line[0];
  if (kind === undefined || !'tTrRdDbB'.includes(kind)) return { ok: false, reason: 'not a frame' };
  const extended = kind === kind.toUpperCase();
  const remote = kind === 'r' || kind === 'R';
  const fd = 'dDbB'.includes(kind);
  const brs = kind === 'b' || kind === 'B';
  const idDigits = extended ? 8 : 3;
  if (line.length < 1 + idDigits + 1) return { ok: false, reason: 'short' };
  const id = parseHex(line, 1, idDigits);
  const dlc = parseHex(line, 1 + idDigits, 1);
  if (id === undefined || dlc === undefined) return { ok: false, reason: 'bad hex' };
  if (id > (extended ? 0x1fffffff : 0x7ff)) return { ok: false, reason: 'id out of range' };
  if (!fd && dlc > 8) return { ok: false, reason: 'dlc out of range' };
  const length = remote ? 0 : canLengthForDlc(dlc, fd);
  const dataStart = 2 + idDigits;
  const rest = line.length - dataStart - 2 * length;
  if (rest !== 0 && rest !== 4) return { ok: false, reason: 'length mismatch' };
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const b = parseHex(line, dataStart + 2 * i, 2);
    if (b === undefined) return { ok: false, reason: 'bad hex' };
    data[i] = b;
  }
  if (rest === 4 && parseHex(line, line.length - 4, 4) === undefined) return { ok: false, reason: 'bad hex' };
  return { ok: true, frame: { id, extended, remote, fd, brs, data, dlc: remote ? dlc : length } };
}

function parseHex(s: string, start: number, digits: number): number | undefined {
  if (start + digits > s.length) return undefined;
  let v = 0;
  for (let i = start; i < start + digits; i++) {
    const c = s.charCodeAt(i);
    const d = c < 128 ? HEX_VALUE[c]! : -1;
    if (d < 0) return undefined;
    v = v * 16 + d;
  }
  return v >>> 0;
}

/** What a line from the adapter means to the host. */
export type SlcanReply =
  | { kind: 'ok' }
  | { kind: 'error' }
  | { kind: 'version'; which: 'V' | 'v'; text: string }
  | { kind: 'serial'; text: string }
  | { kind: 'status'; flags: number }
  | { kind: 'frame'; frame: CanFrame }
  | { kind: 'malformed'; reason: string; line: string };

/** Classify one line from the adapter (terminator removed; BEL lines are passed as '\x07'). */
export function parseSlcanReply(line: string): SlcanReply {
  if (line === '' || line === 'z' || line === 'Z') return { kind: 'ok' };
  if (line === SLCAN_ERROR) return { kind: 'error' };
  const head = line[0]!;
  if (head === 'V' || head === 'v') {
    return isPrintable(line)
      ? { kind: 'version', which: head, text: line.slice(1) }
      : malformed('bad version', line);
  }
  if (head === 'N')
    return isPrintable(line) ? { kind: 'serial', text: line.slice(1) } : malformed('bad serial', line);
  if (head === 'F') {
    const flags = line.length === 3 ? parseHex(line, 1, 2) : undefined;
    return flags === undefined ? malformed('bad status', line) : { kind: 'status', flags };
  }
  const parsed = parseSlcanFrame(line);
  return parsed.ok ? { kind: 'frame', frame: parsed.frame } : malformed(parsed.reason, line);
}

function malformed(reason: string, line: string): SlcanReply {
  return { kind: 'malformed', reason, line: line.slice(0, 40) };
}

function isPrintable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/**
 * Splits a byte stream into lines at CR; a BEL is a line of its own. Lines longer than SLCAN_MAX_LINE are
 * discarded up to the next CR and reported once as `tooLong`. LF is ignored (some adapters send CR LF).
 */
export class SlcanLineSplitter {
  /** Bytes of the line so far: kept as bytes and turned into a string once per line, not once per byte. */
  private readonly line = new Uint8Array(SLCAN_MAX_LINE);
  private length = 0;
  private discarding = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: () => void,
  ) {}

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === 0x0d) {
        if (!this.discarding) this.onLine(this.take());
        this.length = 0;
        this.discarding = false;
      } else if (c === 0x07) {
        if (!this.discarding && this.length > 0) this.onLine(this.take()); // unterminated junk before BEL
        this.length = 0;
        this.discarding = false;
        this.onLine(SLCAN_ERROR);
      } else if (c === 0x0a) {
        // ignore
      } else if (!this.discarding) {
        if (this.length >= SLCAN_MAX_LINE) {
          this.discarding = true;
          this.length = 0;
          this.onTooLong();
        } else this.line[this.length++] = c;
      }
    }
  }

  private take(): string {
    return String.fromCharCode.apply(null, this.line.subarray(0, this.length) as unknown as number[]);
  }
}
