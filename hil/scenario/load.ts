/**
 * Loading a scenario file (YAML or JSON; JSON is read as YAML so both get positions): parse with a line counter,
 * validate with the one schema, check each fault against the grid and the config's topology, then compile into
 * the runtime Scenario. Every error is a ScenarioError naming the file, the line and column, and the field.
 *
 * @example
 * const { scenario, topology } = loadScenarioFile('hil/scenarios/channel-garbage.yaml');
 * // bad field: ScenarioError "hil/scenarios/x.yaml:7:16: timeline.0.severity: expected number, received string"
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isNode, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, loadTopology, parseTopology, type Topology } from '../../src/runtime/config.ts';
import { type AppliesCell, COMPONENTS, type Component, cell, typesOf } from '../grid.ts';
import type { GridFault, Scenario } from '../scenario.ts';
import { CsvError, PilotProfile } from './pilot.ts';
import { type ScenarioFile, scenarioFileSchema } from './schema.ts';
import { checkTarget } from './targets.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Largest scenario file read (a scenario is a page of text; a huge file is a mistake). */
const MAX_FILE_BYTES = 1 << 20;

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${column}: ${field}: ${problem}`);
    this.name = 'ScenarioError';
  }
}

export interface LoadedScenario {
  readonly file: string;
  readonly scenario: Scenario;
  readonly topology: Topology;
  readonly raw: ScenarioFile;
}

type Path = readonly (string | number)[];

/** Positions of a parsed document: the line and column of the node at a path, or of its nearest ancestor. */
class Positions {
  constructor(
    private readonly doc: ReturnType<typeof parseDocument>,
    private readonly lines: LineCounter,
  ) {}

  of(path: Path, key?: string): { line: number; column: number } {
    let node: unknown = this.doc.contents;
    let found = node;
    for (const part of path) {
      const next = child(node, part);
      if (next === undefined) break;
      node = next;
      found = next;
    }
    if (key !== undefined && isMap(found)) {
      const pair = found.items.find((p) => isScalar(p.key) && p.key.value === key);
      if (pair && isNode(pair.key)) found = pair.key;
    }
    const offset = isNode(found) ? ((found as Node).range?.[0] ?? 0) : 0;
    const pos = this.lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  }
}

function child(node: unknown, part: string | number): unknown {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part));
    return pair?.value ?? undefined;
  }
  if (isSeq(node) && typeof part === 'number') return node.items[part];
  return undefined;
}

const fieldName = (path: Path): string => (path.length === 0 ? '(root)' : path.map(String).join('.'));

/** The most specific issue: for a union, the branch whose error got deepest into the value. */
function deepest(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  let best: z.core.$ZodIssue | undefined;
  let depth = -1;
  for (const branch of issue.errors) {
    for (const sub of branch) {
      const unknownKeyAtRoot = sub.code === 'unrecognized_keys' && sub.path.length === 0;
      const d = unknownKeyAtRoot ? -1 : sub.path.length;
      if (d > depth) {
        depth = d;
        best = { ...sub, path: [...issue.path, ...sub.path] } as z.core.$ZodIssue;
      }
    }
  }
  return best === undefined ? issue : deepest(best);
}

/** Reads and validates a scenario file; `configOverride` flies another topology file (`--config`). */
export function loadScenarioFile(file: string, configOverride?: string): LoadedScenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScenarioError(file, 0, 0, '(file)', `cannot read: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  if (text.length > MAX_FILE_BYTES) {
    throw new ScenarioError(file, 0, 0, '(file)', `larger than ${MAX_FILE_BYTES} bytes`);
  }
  return parseScenarioText(text, file, configOverride);
}

/** Validates scenario text; `file` names it in errors and anchors relative paths (config, CSV). */
export function parseScenarioText(text: string, file: string, configOverride?: string): LoadedScenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    throw new ScenarioError(file, pos.line, pos.col, '(syntax)', e.message.split('\n')[0]!);
  }
  const positions = new Positions(doc, lines);
  const fail = (path: Path, problem: string, key?: string): never => {
    const { line, column } = positions.of(path, key);
    throw new ScenarioError(file, line, column, fieldName(key ? [...path, key] : path), problem);
  };
  const parsed = scenarioFileSchema.safeParse(doc.toJS({ maxAliasCount: 100 }));
  if (!parsed.success) {
    const issue = deepest(parsed.error.issues[0]!);
    if (issue.code === 'unrecognized_keys') {
      fail(issue.path as Path, `unknown field (allowed: ${allowedKeys(issue.path as Path)})`, issue.keys[0]);
    }
    fail(issue.path as Path, issue.message);
  }
  const raw = parsed.data as ScenarioFile;
  const dir = dirname(file);
  const topology = loadConfig(raw, dir, configOverride, (problem) => fail(['config'], problem));
  const rate = raw.rate ?? topology.frameRateHz;
  const topo = rate === topology.frameRateHz ? topology : { ...topology, frameRateHz: rate };
  const faults = raw.timeline.flatMap((entry, i) =>
    'fault' in entry ? [compileFault(entry, i, topo, file, positions, fail)] : [],
  );
  checkAssertionTargets(raw, topo, fail);
  let profile: PilotProfile;
  try {
    profile = PilotProfile.from(raw.pilot, (f) => (isAbsolute(f) ? f : join(dir, f)));
  } catch (e) {
    if (e instanceof CsvError) {
      const at = raw.pilot.findIndex((s) => 'csv' in s);
      fail(['pilot', at, 'csv', 'file'], e.message);
    }
    throw e;
  }
  const name = raw.name ?? basename(file, extname(file));
  const scenario: Scenario = {
    name,
    description: raw.description,
    durationS: raw.duration,
    pilot: [],
    events: [],
    maxConsecutiveMisses: raw.assertions.maxFramesWithoutWrite ?? Number.POSITIVE_INFINITY,
    profile,
    sensors: [0, 1, 2].map((i) => {
      const m = raw.sensors[i];
      return { noiseStd: m?.noise ?? 0.0005, bias: m?.bias ?? 0 };
    }),
    faults,
    marks: raw.timeline.flatMap((e) => ('mark' in e ? [{ atS: e.at, text: e.mark }] : [])),
    spec: {
      file,
      promise: raw.promise,
      tags: raw.tags ?? [],
      seed: raw.seed,
      assertions: raw.assertions,
      allowUnapplied: raw.allowUnapplied,
      knownIssue: raw.knownIssue,
    },
  };
  return { file, scenario, topology: topo, raw };
}

function allowedKeys(path: Path): string {
  let shape: unknown = scenarioFileSchema;
  for (const part of path) {
    const def = (shape as { def?: { type?: string; shape?: Record<string, unknown>; element?: unknown } })
      .def;
    if (def?.type === 'object') shape = def.shape?.[String(part)];
    else if (def?.type === 'array') shape = def.element;
    else break;
    shape = unwrap(shape);
  }
  const keys = Object.keys((unwrap(shape) as { shape?: object }).shape ?? {});
  return keys.length > 0 ? keys.join(', ') : 'see hil/scenario/schema.ts';
}

function unwrap(s: unknown): unknown {
  let x = s as { def?: { type?: string; innerType?: unknown } } | undefined;
  for (
    let i = 0;
    i < 8 && x?.def && ['optional', 'default', 'prefault', 'nullable'].includes(x.def.type!);
    i++
  ) {
    x = x.def.innerType as typeof x;
  }
  return x;
}

function loadConfig(
  raw: ScenarioFile,
  dir: string,
  override: string | undefined,
  fail: (problem: string) => never,
): Topology {
  try {
    if (override !== undefined) return loadTopology(override);
    if (typeof raw.config !== 'string') return parseTopology(raw.config, `${dir}/(inline config)`);
    const name = raw.config;
    const path = /^[a-z0-9-]+$/.test(name) ? join(ROOT, 'config', `${name}.json`) : resolve(dir, name);
    return loadTopology(path);
  } catch (e) {
    if (e instanceof ConfigError) return fail(e.message);
    throw e;
  }
}

type Fail = (path: Path, problem: string, key?: string) => never;

function compileFault(
  entry: Extract<ScenarioFile['timeline'][number], { fault: string }>,
  i: number,
  topo: Topology,
  file: string,
  positions: Positions,
  fail: Fail,
): GridFault {
  const at = ['timeline', i];
  const [componentName, type] = entry.fault.split(' ') as [string, string];
  if (!(COMPONENTS as readonly string[]).includes(componentName)) {
    fail([...at, 'fault'], `unknown component '${componentName}' (components: ${COMPONENTS.join(', ')})`);
  }
  const component = componentName as Component;
  const c = cell(component, type);
  if (c === undefined)
    fail(
      [...at, 'fault'],
      `unknown type '${type}' for ${component} (types: ${typesOf(component).join(', ')})`,
    );
  if (!c!.applies) fail([...at, 'fault'], `${component} ${type} does not apply: ${c!.why}`);
  const applies = c as AppliesCell;
  const periodMs = 1000 / topo.frameRateHz;
  if (entry.until !== undefined && entry.until <= entry.at) fail([...at, 'until'], 'must be after at');
  if (entry.until !== undefined && !applies.endable) {
    fail([...at, 'until'], `${entry.fault} is permanent (no recovery yet, issue 8): remove until`);
  }
  if (entry.severity !== undefined) {
    const s = applies.severity;
    if (s === undefined) fail([...at, 'severity'], `severity does not apply to ${entry.fault}`);
    if (entry.severity < s!.min || entry.severity > s!.max) {
      fail([...at, 'severity'], `${s!.meaning} in ${s!.unit} must be within [${s!.min}, ${s!.max}]`);
    }
  }
  if (entry.period !== undefined && type !== 'intermittent') {
    fail([...at, 'period'], 'period applies to intermittent faults only');
  }
  if (type === 'intermittent' && (entry.period ?? 1) < 2 * (periodMs / 1000)) {
    fail([...at, 'period'], `must be at least two frames (${(2 * periodMs) / 1000} s)`);
  }
  const problem = checkTarget(component, entry.target, topo);
  if (problem !== undefined) fail([...at, entry.target === undefined ? 'fault' : 'target'], problem);
  const { line } = positions.of(at);
  return {
    component,
    type,
    target: entry.target,
    atS: entry.at,
    untilS: entry.until,
    severity: entry.severity,
    periodS: entry.period,
    allowUnapplied: entry.allowUnapplied ?? false,
    source: `${file}:${line}`,
  };
}

function checkAssertionTargets(raw: ScenarioFile, topo: Topology, fail: Fail): void {
  const m = topo.channels.length;
  const a = raw.assertions;
  a.latched?.forEach((l, i) => {
    if (l.channel >= m) fail(['assertions', 'latched', i, 'channel'], `no channel ${l.channel} (have ${m})`);
  });
  a.neverLatched?.forEach((c, i) => {
    if (c >= m) fail(['assertions', 'neverLatched', i], `no channel ${c} (have ${m})`);
  });
  a.deviation?.forEach((d, i) => {
    if (d.from !== undefined && d.to !== undefined && d.to <= d.from) {
      fail(['assertions', 'deviation', i, 'to'], 'must be after from');
    }
  });
  if (raw.duration * topo.frameRateHz > 2_000_000) {
    fail(['duration'], `${raw.duration} s at ${topo.frameRateHz} Hz is more than 2,000,000 frames`);
  }
}
