/**
 * The layer table of docs/ARCHITECTURE.md is enforced by the lint (biome.json's noRestrictedImports overrides),
 * not only by architecture.test.ts: for every import the table forbids, a probe file that makes that import is
 * shown to fail `biome lint` under the project's own biome.json, and an allowed import is shown to pass.
 * The probes live in a scratch copy of the tree's folder shape, so the real tree never holds a wrong import.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIOME = join(ROOT, 'node_modules', '.bin', 'biome');

/** The folder of each layer and one real module in it, the target of a probe's import. */
const LAYERS = {
  core: { folder: 'src/core', target: 'src/core/prng.ts' },
  sim: { folder: 'src/sim', target: 'src/sim/network.ts' },
  io: { folder: 'src/io', target: 'src/io/transport.ts' },
  runtime: { folder: 'src/runtime', target: 'src/runtime/scheduler.ts' },
  hil: { folder: 'hil', target: 'hil/clock.ts' },
  cli: { folder: 'src/cli', target: 'src/cli/args.ts' },
  bench: { folder: 'bench', target: 'bench/busy-start.ts' },
} as const;
type LayerName = keyof typeof LAYERS;

/** The "may import" column of docs/ARCHITECTURE.md's layer table. */
function allowedImports(): Map<LayerName, Set<string>> {
  const doc = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const out = new Map<LayerName, Set<string>>();
  for (const row of doc.split('\n').filter((l) => /^\| [a-z]+ \| `/.test(l))) {
    const [, name, , , may] = row.split('|').map((c) => c.trim());
    out.set(name as LayerName, new Set(may!.split(',').map((s) => s.trim())));
  }
  return out;
}

interface Probe {
  readonly file: string;
  readonly from: LayerName;
  readonly to: LayerName | string;
  readonly forbidden: boolean;
}

/** A probe per (from, to) pair, at the top of the layer's folder and one folder down. */
function probes(): Probe[] {
  const allowed = allowedImports();
  const out: Probe[] = [];
  for (const from of Object.keys(LAYERS) as LayerName[]) {
    for (const to of Object.keys(LAYERS) as LayerName[]) {
      if (from === to) continue;
      const forbidden = !allowed.get(from)!.has(to);
      for (const sub of ['', 'probe-sub/']) {
        out.push({ file: `${LAYERS[from].folder}/${sub}layer-probe-${to}.ts`, from, to, forbidden });
      }
    }
  }
  out.push({ file: 'src/core/layer-probe-node-fs.ts', from: 'core', to: 'node:fs', forbidden: true });
  out.push({ file: 'src/core/layer-probe-pino.ts', from: 'core', to: 'pino', forbidden: true });
  out.push({ file: 'src/core/layer-probe-crypto.ts', from: 'core', to: 'node:crypto', forbidden: false });
  return out;
}

function probeSource(p: Probe): string {
  const spec =
    p.to in LAYERS
      ? relative(dirname(p.file), LAYERS[p.to as LayerName].target).replace(/^(?!\.)/, './')
      : p.to;
  return `import * as target from '${spec}';\n\nexport const probe = target;\n`;
}

const scratch = mkdtempSync(join(tmpdir(), 'triplex-layer-lint-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the lint enforces the layer table', () => {
  it('every import the table forbids fails biome lint; every import it allows passes', () => {
    const all = probes();
    expect(all.filter((p) => p.forbidden).length).toBeGreaterThan(40);
    copyFileSync(join(ROOT, 'biome.json'), join(scratch, 'biome.json'));
    for (const p of all) {
      mkdirSync(dirname(join(scratch, p.file)), { recursive: true });
      writeFileSync(join(scratch, p.file), probeSource(p));
    }
    const run = spawnSync(BIOME, ['lint', '--max-diagnostics=none', '--colors=off', '.'], {
      cwd: scratch,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const report = `${run.stdout}\n${run.stderr}`;
    const flagged = new Set(
      [...report.matchAll(/^(\S+\.ts):\d+:\d+ lint\/style\/noRestrictedImports/gm)].map((m) => m[1]!),
    );
    const missed = all.filter((p) => p.forbidden && !flagged.has(p.file)).map((p) => `${p.file} (${p.to})`);
    const wrong = all.filter((p) => !p.forbidden && flagged.has(p.file)).map((p) => `${p.file} (${p.to})`);
    expect({ missed, wrong }).toEqual({ missed: [], wrong: [] });
    expect(run.status).not.toBe(0);
  }, 90_000);
});
