/**
 * The scenario library (hil/scenarios/*.yaml and *.json): listing, lookup by name, and the grid coverage report
 * (`triplex hil list --grid`): for every cell, whether it applies, where the rig can reach it, and which library
 * scenarios exercise it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allCells, BACKENDS, type Cell } from './grid.ts';
import { type LoadedScenario, loadScenarioFile, ScenarioError } from './scenario/load.ts';

export const LIBRARY_DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'scenarios');

/** Scenario files of the library, sorted by name. */
export function libraryFiles(dir = LIBRARY_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => ['.yaml', '.yml', '.json'].includes(extname(f)))
    .sort()
    .map((f) => join(dir, f));
}

/** A scenario argument: a file path, or a library scenario's name (`channel-garbage`). */
export function resolveScenario(arg: string, dir = LIBRARY_DIR): string | undefined {
  if (existsSync(arg)) return arg;
  for (const ext of ['.yaml', '.yml', '.json']) {
    const f = join(dir, `${arg}${ext}`);
    if (existsSync(f)) return f;
  }
  return undefined;
}

export interface LibraryEntry {
  readonly file: string;
  readonly loaded?: LoadedScenario;
  readonly error?: ScenarioError;
}

/** Every library scenario, loaded (a file that does not load carries its error). */
export function loadLibrary(dir = LIBRARY_DIR): LibraryEntry[] {
  return libraryFiles(dir).map((file) => {
    try {
      return { file, loaded: loadScenarioFile(file) };
    } catch (e) {
      if (e instanceof ScenarioError) return { file, error: e };
      throw e;
    }
  });
}

/** One line per scenario: name, tags, what happens, what is promised. */
export function listLines(entries: readonly LibraryEntry[]): string[] {
  const width = Math.max(4, ...entries.map((e) => basename(e.file, extname(e.file)).length));
  return entries.map((e) => {
    if (e.error) return `${basename(e.file).padEnd(width)}  ERROR ${e.error.message}`;
    const s = e.loaded!.scenario;
    const tags = s.spec!.tags.length > 0 ? ` [${s.spec!.tags.join(',')}]` : '';
    const known = s.spec!.knownIssue ? ` (known failure: ${s.spec!.knownIssue})` : '';
    return `${s.name.padEnd(width)}  ${s.description}${s.spec!.promise ? ` -> ${s.spec!.promise}` : ''}${tags}${known}`;
  });
}

export interface CellCoverage {
  readonly cell: Cell;
  /** Library scenarios that apply this cell. */
  readonly scenarios: readonly string[];
}

export function coverage(entries: readonly LibraryEntry[]): CellCoverage[] {
  return allCells().map((cell) => ({
    cell,
    scenarios: entries
      .filter((e) =>
        e.loaded?.scenario.faults?.some((f) => f.component === cell.component && f.type === cell.type),
      )
      .map((e) => e.loaded!.scenario.name),
  }));
}

/** The grid as text: one line per cell. */
export function gridLines(cov: readonly CellCoverage[]): string[] {
  return cov.map(({ cell, scenarios }) => {
    const name = `${cell.component} ${cell.type}`.padEnd(30);
    if (!cell.applies) return `${name} does not apply: ${cell.why}`;
    const reach = BACKENDS.map((b) => {
      const r = cell.reach[b];
      return `${b}: ${r === true ? 'yes' : `no (${r})`}`;
    }).join('; ');
    const lib = scenarios.length > 0 ? scenarios.join(', ') : 'NOT IN THE LIBRARY';
    return `${name} ${reach}; library: ${lib}`;
  });
}

/** The grid's legend: backends, and what "not applied" means. */
export const GRID_LEGEND = [
  'Each cell: where the rig can apply it (in-process: the board emulated in the rig process; child: an emulated',
  'board process; real: hardware), and the library scenarios that apply it. A scenario with a cell its bench',
  'cannot apply reports it as not applied and fails, unless it says allowUnapplied.',
  '',
];
