/**
 * Wire budget: what the protocol's messages cost on each link, computed from the config with the real encoder
 * and framing. Pure. worst-case.ts and problems.ts: does every message fit every link; frame-budget.ts: the
 * fewest bytes a control frame needs and the frame rate that bounds; can-bits.ts and link-cost.ts: the
 * physics of CAN and serial frames.
 */
export * from './can-bits.ts';
export * from './frame-budget.ts';
export * from './link-cost.ts';
export * from './maximal.ts';
export * from './problems.ts';
export * from './worst-case.ts';
