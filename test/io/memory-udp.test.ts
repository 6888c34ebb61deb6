import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { MemoryHub } from '../../src/io/memory.ts';
import type { Transport } from '../../src/io/transport.ts';
import { UdpTransport } from '../../src/io/udp.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('memory transport', () => {
  it('delivers unicast and broadcast in order, copies the bytes, and counts cuts and bad sends', async () => {
    const hub = new MemoryHub({ maxMessage: 100 });
    const a: Transport = hub.join('a');
    const b: Transport = hub.join('b');
    const c: Transport = hub.join('c');
    await Promise.all([a, b, c].map((t) => t.start()));
    expect(a.peers).toEqual(['b', 'c']);
    const atB = firstValueFrom(b.received$.pipe(take(3), toArray()));
    const atC = firstValueFrom(c.received$.pipe(take(1), toArray()));
    const buf = Uint8Array.of(1, 2, 3);
    a.send('b', buf);
    buf[0] = 9; // the receiver must see what was sent, not later writes
    a.send('b', Uint8Array.of(4));
    a.broadcast(Uint8Array.of(5));
    expect((await atB).map((r) => [r.from, hex(r.bytes)])).toEqual([
      ['a', '010203'],
      ['a', '04'],
      ['a', '05'],
    ]);
    expect((await atC).map((r) => hex(r.bytes))).toEqual(['05']);
    hub.cut('a', 'b');
    expect(a.send('b', Uint8Array.of(1))).toBe(false);
    hub.heal('a', 'b');
    expect(a.send('b', Uint8Array.of(1))).toBe(true);
    expect(a.send('zz', Uint8Array.of(1))).toBe(false);
    expect(a.send('b', new Uint8Array(101))).toBe(false);
    await c.close();
    expect(a.send('c', Uint8Array.of(1))).toBe(false);
    const s = a.stats();
    expect(s.framesOut).toBe(5);
    expect(s.drops).toBe(4);
    expect(s.errors).toEqual({ cut: 1, 'unknown-peer': 2, 'too-long': 1 });
    await a.close();
    await b.close();
  });
});

describe('UDP transport on loopback', () => {
  it('exchanges datagrams, names the sender by address, drops strangers', async () => {
    const x = new UdpTransport({ self: 'x', bind: { host: '127.0.0.1', port: 0 }, peers: {} });
    const y = new UdpTransport({ self: 'y', bind: { host: '127.0.0.1', port: 0 }, peers: {} });
    const stranger = new UdpTransport({ self: 's', bind: { host: '127.0.0.1', port: 0 }, peers: {} });
    await Promise.all([x.start(), y.start(), stranger.start()]);
    x.setPeer('y', y.address());
    y.setPeer('x', x.address());
    stranger.setPeer('y', y.address());
    const atY = firstValueFrom(y.received$.pipe(take(50), toArray()));
    for (let i = 0; i < 50; i++) x.send('y', Uint8Array.of(i, 0, 255));
    stranger.send('y', Uint8Array.of(7));
    const got = await atY;
    expect(got.every((r) => r.from === 'x')).toBe(true);
    expect(got.map((r) => r.bytes[0])).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await new Promise((r) => setTimeout(r, 20));
    expect(y.stats().errors['unknown-peer']).toBe(1);
    expect(x.send('nope', Uint8Array.of(1))).toBe(false);
    expect(x.send('y', new Uint8Array(70000))).toBe(false);
    expect(x.stats().framesOut).toBe(50);
    await Promise.all([x.close(), y.close(), stranger.close()]);
    expect(x.send('y', Uint8Array.of(1))).toBe(false);
  });

  it('a peer flooding datagrams gets its budget only; another peer on the same socket gets every datagram', async () => {
    const frozen = () => 0; // no refill: the flooder gets exactly its burst, whatever the machine's speed
    const ingress = {
      datagramsPerSecond: 1000,
      burstDatagrams: 40,
      bytesPerSecond: 1 << 20,
      burstBytes: 1 << 20,
      maxSources: 8,
    };
    const y = new UdpTransport({
      self: 'y',
      bind: { host: '127.0.0.1', port: 0 },
      peers: {},
      ingress,
      now: frozen,
    });
    const flooder = new UdpTransport({ self: 'f', bind: { host: '127.0.0.1', port: 0 }, peers: {} });
    const peer = new UdpTransport({ self: 'p', bind: { host: '127.0.0.1', port: 0 }, peers: {} });
    await Promise.all([y.start(), flooder.start(), peer.start()]);
    y.setPeer('f', flooder.address());
    y.setPeer('p', peer.address());
    flooder.setPeer('y', y.address());
    peer.setPeer('y', y.address());
    const from = new Map<string, number>();
    y.received$.subscribe((r) => from.set(r.from, (from.get(r.from) ?? 0) + 1));
    // In rounds (the kernel's receive buffer holds a few hundred small datagrams): 10 x 30 from the flooder,
    // 2 from the peer in each round.
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 30; i++) flooder.send('y', Uint8Array.of(1, round, i));
      for (let i = 0; i < 2; i++) peer.send('y', Uint8Array.of(2, round, i));
      await new Promise((r) => setTimeout(r, 10));
    }
    const deadline = Date.now() + 2000;
    const seen = () => y.stats().framesIn + (y.stats().errors['over-rate:datagrams'] ?? 0);
    while (seen() < 320 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(from.get('f')).toBe(40);
    expect(from.get('p')).toBe(20);
    expect(y.stats().errors['over-rate:datagrams']).toBe(260);
    expect(y.ingressStats()).toMatchObject({ refused: { datagrams: 260, bytes: 0 }, sources: 2 });
    await Promise.all([y.close(), flooder.close(), peer.close()]);
  });

  it('reports a bind failure as down, not a crash', async () => {
    const a = new UdpTransport({ self: 'a', bind: { host: '127.0.0.1', port: 0 }, peers: {} });
    await a.start();
    const clash = new UdpTransport({ self: 'b', bind: a.address(), peers: {} });
    await clash.start();
    const states: string[] = [];
    clash.state$.subscribe((s) => states.push(s));
    expect(states.at(-1)).toBe('down');
    expect(Object.keys(clash.stats().errors)).toEqual(['bind:EADDRINUSE']);
    await a.close();
    await clash.close();
  });
});
