/** Shared by the config tests: the shipped configs as raw JSON, and the ConfigError a refused config throws. */
import { readFileSync } from 'node:fs';
import { ConfigError, parseTopology } from '../../src/runtime/config.ts';

/** A shipped config file as the raw object the parser takes (mutable copies for each test to change). */
export const readConfig = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, 'utf8'));

/** The ConfigError `raw` is refused with, as 'my.json'; fails the test if it is accepted or throws otherwise. */
export function refusal(raw: unknown): ConfigError {
  try {
    parseTopology(raw, 'my.json');
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected the config to be refused');
}
