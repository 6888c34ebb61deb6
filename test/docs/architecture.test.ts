/**
 * Keeps docs/ARCHITECTURE.md true. The layer table is checked against every import in src/, hil/ and bench/
 * (and a deliberate wrong import is shown to be caught); every step of the frame path names a file and a
 * function, and each is imported here and must exist.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DOC = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');

// ---------------------------------------------------------------- the layer table

interface Layer {
  readonly name: string;
  readonly folder: string;
  readonly mayImport: ReadonlySet<string>;
}

function parseLayers(doc: string): Layer[] {
  const section = doc.slice(doc.indexOf('## Layers'), doc.indexOf('\n## ', doc.indexOf('## Layers') + 1));
  const rows = section.split('\n').filter((l) => /^\| [a-z]+ \| `/.test(l));
  return rows.map((row) => {
    const cells = row.split('|').map((c) => c.trim());
    const [, name, folder, , may] = cells;
    return {
      name: name!,
      folder: folder!.replaceAll('`', ''),
      mayImport: new Set(may!.split(',').map((s) => s.trim())),
    };
  });
}

const LAYERS = parseLayers(DOC);
const CORE_BANNED = [
  'node:fs',
  'node:net',
  'node:os',
  'node:dgram',
  'node:child_process',
  'node:timers',
  'serialport',
  'socketcan',
  'pino',
  'rxjs',
];

function layerOf(file: string): Layer | undefined {
  return LAYERS.find((l) => file === l.folder || file.startsWith(`${l.folder}/`));
}

/** Every module specifier a source imports (static, side-effect, re-export and dynamic with a literal). */
function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*'([^']+)'/g)) out.push(m[1]!);
  for (const m of source.matchAll(/(?:^|\n)\s*import\s*'([^']+)'/g)) out.push(m[1]!);
  for (const m of source.matchAll(/import\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

/** The layer rules broken by `file` (a path from the repository root) with contents `source`. */
function layerViolations(file: string, source: string): string[] {
  const from = layerOf(file);
  if (from === undefined) return [];
  const bad: string[] = [];
  for (const spec of specifiers(source)) {
    if (spec.startsWith('.')) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
      const to = layerOf(target);
      if (to === undefined) {
        if (!target.endsWith('.json')) bad.push(`${file}: imports ${spec} (${target}), which is in no layer`);
      } else if (!from.mayImport.has(to.name)) {
        bad.push(`${file}: ${from.name} may not import ${to.name} (${spec})`);
      }
    } else if (from.name === 'core' && CORE_BANNED.some((b) => spec === b || spec.startsWith(`${b}/`))) {
      bad.push(`${file}: the core may not import ${spec}`);
    }
  }
  return bad;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(path));
    else if (e.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

describe('docs/ARCHITECTURE.md: layers', () => {
  it('lists every layer of the tree, each allowed to import itself', () => {
    expect(LAYERS.map((l) => l.name)).toEqual(['core', 'sim', 'io', 'runtime', 'hil', 'cli', 'bench']);
    for (const l of LAYERS) expect(l.mayImport.has(l.name)).toBe(true);
  });

  it('every import in src/, hil/ and bench/ follows the table', () => {
    const files = [...sources('src'), ...sources('hil'), ...sources('bench')];
    expect(files.length).toBeGreaterThan(50);
    const bad = files.flatMap((f) => layerViolations(f, readFileSync(join(ROOT, f), 'utf8')));
    expect(bad).toEqual([]);
  });

  it('catches a deliberate wrong import (and an I/O package in the core)', () => {
    expect(
      layerViolations('src/core/pbft/x.ts', "import { Router } from '../../runtime/loop/board.ts';\n"),
    ).toEqual(['src/core/pbft/x.ts: core may not import runtime (../../runtime/loop/board.ts)']);
    expect(layerViolations('src/io/x.ts', "export { a } from '../runtime/config.ts';\n")).toHaveLength(1);
    expect(layerViolations('src/sim/x.ts', "const m = await import('../io/memory.ts');\n")).toHaveLength(1);
    expect(layerViolations('src/runtime/x.ts', "import '../../hil/rig.ts';\n")).toHaveLength(1);
    expect(layerViolations('src/core/x.ts', "import type { Logger } from 'pino';\n")).toEqual([
      'src/core/x.ts: the core may not import pino',
    ]);
    expect(layerViolations('hil/x.ts', "import { Replica } from '../src/core/pbft/replica.ts';\n")).toEqual(
      [],
    );
  });
});

// ---------------------------------------------------------------- the frame path

interface Step {
  readonly n: number;
  readonly file: string;
  readonly name: string;
}

function parseFramePath(doc: string): Step[] {
  const section = doc.slice(doc.indexOf('## One control frame'));
  return [...section.matchAll(/^(\d+)\. `([^`]+)`: `([^`]+)`/gm)].map((m) => ({
    n: Number(m[1]),
    file: m[2]!,
    name: m[3]!,
  }));
}

const STEPS = parseFramePath(DOC);

describe('docs/ARCHITECTURE.md: one control frame', () => {
  it('is a numbered list of at most 12 steps', () => {
    expect(STEPS.length).toBeGreaterThanOrEqual(8);
    expect(STEPS.length).toBeLessThanOrEqual(12);
    expect(STEPS.map((s) => s.n)).toEqual(STEPS.map((_, i) => i + 1));
  });

  for (const step of STEPS) {
    it(`step ${step.n}: ${step.file} exports ${step.name}`, async () => {
      const mod = (await import(pathToFileURL(join(ROOT, step.file)).href)) as Record<string, unknown>;
      const [exported, member] = step.name.split('.');
      const value = mod[exported!];
      if (member === undefined) {
        expect(typeof value, `${step.file} exports no function ${exported}`).toBe('function');
        return;
      }
      expect(typeof value, `${step.file} exports no class ${exported}`).toBe('function');
      const cls = value as { prototype: Record<string, unknown> } & Record<string, unknown>;
      const method = cls.prototype[member] ?? cls[member];
      expect(typeof method, `${exported} has no method ${member}`).toBe('function');
    });
  }
});
