/**
 * Principal ids: one id space for every MAC key and signature. Replicas keep their PBFT ids (0..n-1) so the
 * replica's own authenticators need no translation; the other roles sit in disjoint ranges.
 */
export const INPUT_BASE = 100;
export const CHANNEL_BASE = 200;
export const VOTER_BASE = 300;

export const principalOf = {
  replica: (id: number): number => id,
  input: (id: number): number => INPUT_BASE + id,
  channel: (id: number): number => CHANNEL_BASE + id,
  voter: (id: number): number => VOTER_BASE + id,
} as const;
