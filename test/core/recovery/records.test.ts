/** The records both recovery drivers keep: in progress until rejoined or given up, counted per board when done. */
import { describe, expect, it } from 'vitest';
import { MAX_RECORDS, RecoveryRecords } from '../../../src/core/recovery/records.ts';

const roles = [
  { kind: 'replica', id: 2 },
  { kind: 'channel', id: 1 },
] as const;

describe('recovery records', () => {
  it('a restart is in progress from begin to rejoined, then counted for its board', () => {
    const records = new RecoveryRecords();
    const r = records.begin({ cause: 'proactive', period: 0, step: 1, board: 'b1', roles, nowMs: 100 });
    expect(r).toMatchObject({ startedAtMs: 100, newKeyBytes: 0, newKeyRefusals: 0 });
    expect(r.roles).toEqual([
      { kind: 'replica', id: 2, epoch: 0 },
      { kind: 'channel', id: 1, epoch: 0 },
    ]);
    expect(records.recovering('b1')).toBe(true);
    expect(records.recovering('b2')).toBe(false);
    const during = records.report({ periodMs: 10_000, k: 1, statement: 's', keys: {} });
    expect(during.inProgress).toEqual(['replica-2', 'channel-1']);
    records.rejoined(r, 250);
    expect(r.rejoinedAtMs).toBe(250);
    expect(records.recovering('b1')).toBe(false);
    const after = records.report({
      periodMs: 10_000,
      k: 1,
      statement: 's',
      keys: { 3: { epoch: 1, oldestHeld: 1 } },
    });
    expect(after).toMatchObject({
      periodMs: 10_000,
      k: 1,
      statement: 's',
      perBoard: { b1: 1 },
      inProgress: [],
    });
    expect(after.records).toEqual([r]);
    expect(after.keys).toEqual({ 3: { epoch: 1, oldestHeld: 1 } });
  });

  it('a restart given up is no longer in progress and not counted; only the latest records are kept', () => {
    const records = new RecoveryRecords();
    const r = records.begin({ cause: 'crash', period: -1, step: -1, board: 'b0', roles, nowMs: 0 });
    records.gaveUp(r);
    expect(r.gaveUp).toBe(true);
    expect(records.active.size).toBe(0);
    for (let i = 0; i < MAX_RECORDS + 5; i++) {
      const x = records.begin({ cause: 'latched', period: -1, step: -1, board: 'b2', roles, nowMs: i });
      records.rejoined(x, i + 1);
    }
    const report = records.report({ periodMs: 0, k: 1, statement: '', keys: {} });
    expect(report.records).toHaveLength(MAX_RECORDS);
    expect(report.records[0]!.startedAtMs).toBe(5); // the given-up one and the first five are dropped
    expect(report.perBoard).toEqual({ b2: MAX_RECORDS + 5 });
  });
});
