import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { silence$, statsEvery, steadyState$ } from '../../src/io/streams.ts';
import { type LinkStats, StatsCounter } from '../../src/io/transport.ts';

const scheduler = (): TestScheduler =>
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('rxjs edge streams under virtual time', () => {
  it('samples statistics periodically', () => {
    scheduler().run(({ expectObservable }) => {
      const counter = new StatsCounter();
      let n = 0;
      const t = {
        stats: (): LinkStats => {
          counter.received(++n);
          return counter.snapshot();
        },
      };
      const framesIn = statsEvery(t, 100).pipe(map((s) => s.framesIn));
      expectObservable(framesIn, '^ 350ms !').toBe('100ms a 99ms b 99ms c', {
        a: 1,
        b: 2,
        c: 3,
      });
    });
  });

  it('raises a silence alarm for a quiet peer and clears it when the peer speaks', () => {
    scheduler().run(({ hot, expectObservable }) => {
      const rx = hot('-- a 199ms b 10ms x 300ms a', {
        a: { from: 'p', bytes: Uint8Array.of(1) },
        b: { from: 'q', bytes: Uint8Array.of(2) },
        x: { from: 'q', bytes: Uint8Array.of(3) },
      });
      // p speaks at 2 ms, is silent for 100 ms (alarm at 102 ms) while q talks, speaks again at 514 ms.
      expectObservable(silence$(rx, 'p', 100), '^ 600ms !').toBe('f 101ms t 411ms f', {
        f: false,
        t: true,
      });
    });
  });

  it('hides link flaps shorter than the hold time', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const states = cold('u 9ms d 9ms u 49ms d 59ms u', { u: 'up', d: 'down' } as const);
      expectObservable(steadyState$(states, 50)).toBe('u 119ms d 9ms u', { u: 'up', d: 'down' });
    });
  });
});
