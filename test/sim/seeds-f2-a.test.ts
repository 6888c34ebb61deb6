import { describe } from 'vitest';
import { seededSuite } from './seeds.ts';

// 150 seeded simulations: random network faults before GST and random issue-3 catalog behaviours (up to f).
describe('seeded simulations f=2 from seed 1', () => seededSuite(2, 1, 150));
