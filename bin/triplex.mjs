#!/usr/bin/env node
// The `triplex` command (`npx triplex` in a clone). It registers tsx's loader in this very process and imports the
// TypeScript CLI, so a fresh clone needs no build step, and there is no launcher process between the terminal and
// the command: a launcher that relays Ctrl-C (as `tsx` does) would send the command a second SIGINT, and kill it
// if it did not answer within 30 ms, for example while it writes its report.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
register({ tsconfig: join(root, 'tsconfig.json') });
await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
