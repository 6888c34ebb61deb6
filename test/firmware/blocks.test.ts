/**
 * The firmware's building blocks against the FIPS 180-4 and RFC 4231 vectors (compiled into the C selftest)
 * and against the TypeScript implementations they must equal: SHA-256 and HMAC (node:crypto), CRC-32C, COBS
 * serial framing and deframing, mid-value select. Seeded; a failure prints its seed.
 */
import { createHash, createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../src/core/codec/framing/crc.ts';
import { encodeSerialFrame, SerialDeframer } from '../../src/core/codec/framing/serial-frame.ts';
import { Prng } from '../../src/core/prng.ts';
import { midValue } from '../../src/core/vote/voter.ts';
import { FW_LIMITS } from '../../src/runtime/firmware/provision.ts';
import { BUILD_TIMEOUT_MS, buildFor, hostToolchain } from '../../src/runtime/firmware/toolchain.ts';
import { hex, tool, unhex } from './tool.ts';

const host = hostToolchain();
if (!host.ok) console.warn(`firmware building-block tests skipped: ${host.reason}`);
const SEED = 12;

function randomBytes(rng: Prng, max: number): Uint8Array {
  const n = rng.int(max + 1);
  const b = rng.bytes(n);
  // Runs of zeros and of non-zeros around the COBS block length matter: make some.
  if (rng.chance(0.2)) b.fill(0);
  if (rng.chance(0.2)) b.fill(1 + rng.int(255));
  return b;
}

beforeAll(() => buildFor(['tool']), BUILD_TIMEOUT_MS);
describe.skipIf(!host.ok)('firmware building blocks', () => {
  it('passes the FIPS 180-4 SHA-256 and RFC 4231 HMAC-SHA-256 vectors (C selftest)', () => {
    expect(tool(['selftest'])).toEqual(['ok']);
  });

  it('SHA-256 and truncated HMAC-SHA-256 equal node:crypto on random inputs and keys', () => {
    const rng = new Prng(SEED);
    const cmds: string[] = [];
    const want: string[] = [];
    for (let i = 0; i < 300; i++) {
      const data = randomBytes(rng, 300);
      cmds.push(`sha256 ${hex(data)}`);
      want.push(createHash('sha256').update(data).digest('hex'));
      const key = rng.bytes(rng.chance(0.2) ? 65 + rng.int(100) : rng.int(65));
      const len = 8 + rng.int(25);
      cmds.push(`hmac ${hex(key)} ${hex(data)} ${len}`);
      want.push(
        createHmac('sha256', key)
          .update(data)
          .digest('hex')
          .slice(0, 2 * len),
      );
    }
    expect(tool(cmds), `seed ${SEED}`).toEqual(want);
  });

  it('verifies a tag only at its exact configured length, and not with one bit flipped', () => {
    const key = new Uint8Array(32).fill(3);
    const data = new TextEncoder().encode('output frame 7');
    const tag = new Uint8Array(createHmac('sha256', key).update(data).digest()).subarray(0, 16);
    const flipped = tag.slice();
    flipped[15]! ^= 0x80;
    const answers = tool([
      `verify ${hex(key)} ${hex(data)} ${hex(tag)} 16`,
      `verify ${hex(key)} ${hex(data)} ${hex(flipped)} 16`,
      `verify ${hex(key)} ${hex(data)} ${hex(tag.subarray(0, 8))} 16`, // a prefix is not a tag
      `verify ${hex(key)} ${hex(data)} ${hex(tag)} 8`, // a longer tag is not a tag either
      `verify ${hex(key)} ${hex(data)} ${hex(tag.subarray(0, 4))} 4`, // below the minimum length
    ]);
    expect(answers).toEqual(['1', '0', '0', '0', '0']);
  });

  it('CRC-32C and serial frames equal the TypeScript framing byte for byte', () => {
    const rng = new Prng(SEED + 1);
    const cmds: string[] = [];
    const want: string[] = [];
    for (let i = 0; i < 300; i++) {
      const p = randomBytes(rng, 600);
      cmds.push(`crc ${hex(p)}`);
      want.push(crc32c(p).toString(16).padStart(8, '0'));
      if (p.length === 0 || p.length > FW_LIMITS.maxLinkPayload) continue;
      cmds.push(`frame ${hex(p)}`);
      want.push(hex(encodeSerialFrame(p)));
    }
    expect(tool(cmds), `seed ${SEED + 1}`).toEqual(want);
  });

  it('deframes a stream of frames, garbage and overlong runs exactly as SerialDeframer', () => {
    const rng = new Prng(SEED + 2);
    const ts = new SerialDeframer({ maxPayload: FW_LIMITS.maxLinkPayload });
    const cmds: string[] = [];
    const want: string[] = [];
    for (let i = 0; i < 300; i++) {
      const parts: Uint8Array[] = [];
      for (let j = rng.int(4); j > 0; j--) {
        const pick = rng.int(5);
        const payload = rng.bytes(1 + rng.int(pick === 4 ? 700 : 80));
        if (pick <= 1) parts.push(encodeSerialFrame(payload.subarray(0, FW_LIMITS.maxLinkPayload)));
        else if (pick === 2)
          parts.push(rng.bytes(rng.int(20))); // noise, zeros included
        else if (pick === 3) {
          const f = encodeSerialFrame(payload.subarray(0, FW_LIMITS.maxLinkPayload));
          f[1 + rng.int(f.length - 2)]! ^= 1 + rng.int(255); // corrupt (may even split it)
          parts.push(f);
        } else parts.push(payload.map((b) => b | 1)); // a long run without a delimiter
      }
      const chunk = new Uint8Array(Buffer.concat(parts));
      if (chunk.length === 0) continue;
      cmds.push(`deframe ${hex(chunk)}`);
      const out = ts.push(chunk).map(hex);
      const s = ts.stats();
      want.push(`${out.length === 0 ? '-' : out.join(' ')}|${s.cobs},${s.crc},${s['too-long']},${s.empty}`);
    }
    expect(tool(cmds), `seed ${SEED + 2}`).toEqual(want);
  });

  it('mid-value select equals midValue bit for bit (signed zeros, extremes, subnormals, ties)', () => {
    const rng = new Prng(SEED + 3);
    const specials = [
      0,
      -0,
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      Number.MIN_VALUE,
      -5e-324,
      1,
      -1,
      0.1,
      1e-300,
    ];
    const bits = (x: number): string => {
      const v = new DataView(new ArrayBuffer(8));
      v.setFloat64(0, x);
      return v.getBigUint64(0).toString(16).padStart(16, '0');
    };
    const cmds: string[] = [];
    const want: string[] = [];
    for (let i = 0; i < 500; i++) {
      const n = 1 + rng.int(8);
      const values = Array.from({ length: n }, () =>
        rng.chance(0.5) ? specials[rng.int(specials.length)]! : (rng.float() - 0.5) * 10 ** rng.int(8),
      );
      cmds.push(`mid ${values.map(bits).join(',')}`);
      want.push(bits(midValue(values)));
    }
    expect(tool(cmds), `seed ${SEED + 3}`).toEqual(want);
    expect(unhex('00ff')).toEqual(new Uint8Array([0, 255]));
  });
});
