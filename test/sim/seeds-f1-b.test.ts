import { describe } from 'vitest';
import { seededSuite } from './seeds.ts';

// 150 seeded simulations: random network faults before GST and random issue-3 catalog behaviours (up to f).
describe('seeded simulations f=1 from seed 151', () => seededSuite(1, 151, 150));
