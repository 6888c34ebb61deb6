/**
 * A small deterministic service for simulations: folds every executed operation into a 64-bit state (two
 * FNV-1a lanes), so replicas that executed different things end with different states and checkpoints.
 */
import type { Service } from '../core/pbft/types.ts';

export class FoldService implements Service {
  private a = 0x811c9dc5;
  private b = 0x01000193;
  private count = 0;

  execute(client: number, op: Uint8Array, seq: number): Uint8Array {
    this.mix(client);
    this.mix(seq);
    for (const byte of op) this.mix(byte);
    this.count++;
    const out = new Uint8Array(12);
    const v = new DataView(out.buffer);
    v.setUint32(0, this.a);
    v.setUint32(4, this.b);
    v.setUint32(8, this.count);
    return out;
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(12);
    const v = new DataView(out.buffer);
    v.setUint32(0, this.a);
    v.setUint32(4, this.b);
    v.setUint32(8, this.count);
    return out;
  }

  restore(snapshot: Uint8Array): void {
    if (snapshot.length !== 12)
      throw new RangeError(`FoldService snapshot must be 12 bytes, got ${snapshot.length}`);
    const v = new DataView(snapshot.buffer, snapshot.byteOffset, 12);
    this.a = v.getUint32(0);
    this.b = v.getUint32(4);
    this.count = v.getUint32(8);
  }

  private mix(x: number): void {
    this.a = Math.imul(this.a ^ (x & 0xff), 0x01000193) >>> 0;
    this.b = Math.imul(this.b ^ ((x >>> 8) & 0xffffff), 0x01000193) >>> 0;
  }
}

/** Null service (benchmarks): constant result, empty state. */
export class NullService implements Service {
  private readonly result = new Uint8Array(0);
  execute(): Uint8Array {
    return this.result;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}
