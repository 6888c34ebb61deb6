/**
 * Frame-by-frame comparison of a firmware run with the TypeScript reference, with the first difference
 * named; and a coverage check that a corpus exercises what it claims to.
 */
import type { Corpus } from './corpus.ts';
import type { FirmwareRun, Observation } from './harness.ts';

const bits = (x: number): string => {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x);
  return b.getBigUint64(0).toString(16).padStart(16, '0');
};

function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (typeof a === 'number' && typeof b === 'number') {
    return bits(a) === bits(b) ? undefined : `${path}: ${a} (${bits(a)}) vs ${b} (${bits(b)})`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        `${path}.${k}`,
      );
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return Object.is(a, b) ? undefined : `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

/** undefined when the firmware run equals the reference (numbers compared bit for bit), else the first difference. */
export function compareRuns(ref: Observation, fw: FirmwareRun, corpus: Corpus): string | undefined {
  const n = Math.min(ref.decisions.length, fw.decisions.length);
  for (let i = 0; i < n; i++) {
    const d = firstDifference(ref.decisions[i], fw.decisions[i], `frame ${ref.decisions[i]!.frame}`);
    if (d !== undefined) return `decision ${i}: ${d}`;
  }
  if (ref.decisions.length !== fw.decisions.length)
    return `decisions: ${ref.decisions.length} vs ${fw.decisions.length}`;
  const events = firstDifference(ref.events, fw.events, 'channel events');
  if (events !== undefined) return events;
  const fwCounters = Object.fromEntries(
    Object.entries(fw.counters).filter(([k]) => !k.startsWith('firmware.')),
  );
  const counters = firstDifference(ref.counters, fwCounters, 'counters');
  if (counters !== undefined) return counters;
  const health = firstDifference(ref.health, fw.health, 'health');
  if (health !== undefined) return health;
  // Every request reached the unit intact; every corrupted frame and all line noise was dropped by the CRC.
  const requests = corpus.events.filter((e) => e.kind !== 'link-garbage').length + 1;
  if (fw.status.deframer.accepted !== requests)
    return `link: ${fw.status.deframer.accepted} frames accepted, ${requests} requests sent`;
  const garbage = corpus.events.filter((e) => e.kind === 'link-garbage').length;
  const dropped = fw.status.deframer.crc + fw.status.deframer.cobs + fw.status.deframer.empty;
  if (garbage > 0 && dropped === 0) return 'link: garbage on the link was never counted';
  return undefined;
}

const EXPECTED = [
  'decision:write',
  'decision:hold',
  'decision:failsafe',
  'decision:early',
  'decision:earlyRound',
  'judgment:unjudged',
  'event:strike',
  'event:latched',
  'event:reintegrated',
  'counter:voter.rejected.bad-mac',
  'counter:voter.rejected.duplicate',
  'counter:voter.rejected.late',
  'counter:voter.rejected.stale',
  'counter:voter.rejected.too-far-ahead',
  'counter:voter.rejected.unknown-channel',
  'counter:voter.rejected.malformed',
  'counter:board.rejected.unhandled-kind',
  'counter:board.rejected.truncated',
  'monitored',
];

/** What a set of reference runs exercised, and which of the expected cases it did not. */
export function coverage(runs: readonly Observation[]): { seen: string[]; missing: string[] } {
  const seen = new Set<string>();
  for (const r of runs) {
    for (const d of r.decisions) {
      seen.add(`decision:${d.kind}`);
      if (d.early) seen.add('decision:early');
      if (d.earlyRound) seen.add('decision:earlyRound');
      for (const j of d.judgments) if (!j.judged) seen.add('judgment:unjudged');
      for (const e of d.events) seen.add(`event:${e.kind}`);
    }
    for (const call of r.events) for (const e of call) seen.add(`event:${e.kind}`);
    for (const k of Object.keys(r.counters)) seen.add(`counter:${k}`);
    const monitored = r.events.length > r.decisions.filter((d) => d.events.length > 0).length;
    if (monitored) seen.add('monitored');
  }
  return { seen: [...seen].sort(), missing: EXPECTED.filter((e) => !seen.has(e)) };
}
