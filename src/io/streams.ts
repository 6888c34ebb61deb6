/**
 * rxjs compositions at the runtime edge: periodic statistics, per-peer silence alarms and debounced link
 * health, for the status display, health checks and watchdog inputs. Each takes an optional scheduler so
 * tests can run them under virtual time (TestScheduler); none of them sits on the per-message path except
 * silence$, which only re-arms a timer per message from the watched peer.
 */

import {
  concat,
  distinctUntilChanged,
  filter,
  interval,
  map,
  type Observable,
  of,
  type SchedulerLike,
  startWith,
  switchMap,
  timer,
} from 'rxjs';
import type { LinkState, LinkStats, PeerId, Received, Transport } from './transport.ts';

/** The transport's statistics every `periodMs`. */
export function statsEvery(
  t: Pick<Transport, 'stats'>,
  periodMs: number,
  scheduler?: SchedulerLike,
): Observable<LinkStats> {
  return interval(periodMs, scheduler).pipe(map(() => t.stats()));
}

/**
 * true when nothing has come from `peer` for `silentMs` (from subscription or from its last message),
 * false again when it speaks. Emits only changes, starting with false.
 */
export function silence$(
  received$: Observable<Received>,
  peer: PeerId,
  silentMs: number,
  scheduler?: SchedulerLike,
): Observable<boolean> {
  return received$.pipe(
    filter((r) => r.from === peer),
    startWith(undefined),
    switchMap(() => concat(of(false), timer(silentMs, scheduler).pipe(map(() => true)))),
    distinctUntilChanged(),
  );
}

/** Link state with 'down' and 'connecting' reported only once they have lasted `holdMs` (flaps hidden). */
export function steadyState$(
  state$: Observable<LinkState>,
  holdMs: number,
  scheduler?: SchedulerLike,
): Observable<LinkState> {
  return state$.pipe(
    distinctUntilChanged(),
    switchMap((s) => (s === 'up' ? of(s) : timer(holdMs, scheduler).pipe(map(() => s)))),
    distinctUntilChanged(),
  );
}
