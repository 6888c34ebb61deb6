/**
 * Input-to-actuator latency across processes at a given rate: five `triplex node` processes on UDP loopback,
 * and `triplex sim --processes` over a paced pty serial mesh and over the emulated CAN bus (SLCAN ptys).
 *
 *   npm run bench:links:latency -- --latency-seconds 10 --latency-rate 100
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopology, type Topology } from '../../src/runtime/config.ts';
import {
  ChildProc,
  ChildSet,
  REPO_ROOT,
  runToExit,
  triplexCommand,
} from '../../src/runtime/process/child.ts';
import { type LinksOptions, parseLinksArgs, round } from './args.ts';

type Options = Pick<LinksOptions, 'latencySeconds' | 'latencyRate'>;

// The board processes are killed if this process exits first (ChildSet), runs of the CLI likewise (runToExit).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => process.exit(130));
}

/** Run the triplex CLI to its end (SIGKILL past `timeoutMs`); its stdout, stderr and exit code. */
function triplex(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runToExit(triplexCommand(args), { timeoutMs });
}

export interface LatencyRun {
  link: string;
  ok: boolean;
  frameRateHz?: number;
  framesFlown?: number;
  voter?: unknown;
  latencyMs?: unknown;
  /** From the run's trace.csv: latency of the frames the voter wrote (majority in before the deadline). */
  writtenFramesLatencyMs?: { frames: number; p50: number; p99: number; max: number } | null;
  passed?: boolean;
  error?: string;
}

/** Latency percentiles of the written frames of a report folder's trace.csv (null when there is none). */
function writtenLatency(reportDir: string): LatencyRun['writtenFramesLatencyMs'] {
  const file = join(reportDir, 'trace.csv');
  if (!existsSync(file)) return null;
  const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = header?.split(',') ?? [];
  const outcome = cols.indexOf('outcome');
  const latency = cols.indexOf('latency_ms');
  if (outcome < 0 || latency < 0) return null;
  const xs = rows
    .map((r) => r.split(','))
    .filter((c) => c[outcome] === 'write')
    .map((c) => Number(c[latency]))
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  const at = (q: number): number =>
    round(xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN, 3);
  return { frames: xs.length, p50: at(0.5), p99: at(0.99), max: round(xs[xs.length - 1] ?? Number.NaN, 3) };
}

function pickSummary(link: string, out: { code: number | null; stdout: string; stderr: string }): LatencyRun {
  const at = out.stdout.indexOf('{');
  try {
    const s = JSON.parse(out.stdout.slice(at)) as Record<string, unknown>;
    return {
      link,
      ok: true,
      frameRateHz: s.frameRateHz as number,
      framesFlown: s.framesFlown as number,
      voter: s.voter,
      latencyMs: s.latencyMs,
      passed: s.passed as boolean,
    };
  } catch {
    return {
      link,
      ok: false,
      error: `exit ${out.code}: ${out.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    };
  }
}

/** Five `triplex node` processes on UDP loopback; the voter's board flies the emulated rig and reports. */
export async function latencyUdp(t: Topology, o: Options): Promise<LatencyRun> {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-links-'));
  const started = new ChildSet();
  try {
    const basePort = 20000 + Math.floor(Math.random() * 20000);
    const { file: _file, ...raw } = t as Topology & { file?: string };
    const config = {
      name: `${t.name}-udp`,
      f: t.f,
      frameRateHz: o.latencyRate,
      boards: t.boards,
      links: [{ type: 'udp', host: '127.0.0.1', basePort }],
      timing: raw.timing,
      voter: raw.voter,
      recovery: raw.recovery,
      crypto: raw.crypto,
    };
    const configFile = join(dir, 'udp.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const keysDir = join(dir, 'keys');
    const gen = await triplex(['keys', 'gen', '--out', keysDir, '--config', configFile], 60_000);
    if (gen.code !== 0) return { link: 'udp', ok: false, error: `keys gen: ${gen.stderr.trim()}` };
    const rigBoard = t.voters[0]!.board;
    for (const b of t.boards) {
      if (b.name === rigBoard) continue;
      started.add(
        ChildProc.spawn({
          ...triplexCommand([
            'node',
            '--config',
            configFile,
            '--board',
            b.name,
            '--keys',
            keysDir,
            '--log-level',
            'warn',
            '--log-file',
            join(dir, `${b.name}.log`),
          ]),
          label: `board ${b.name}`,
          stderr: false,
        }),
      );
    }
    // Let the board processes load and bind before the rig's first frame.
    await new Promise((ok) => setTimeout(ok, 4000));
    const rig = await triplex(
      [
        'node',
        '--config',
        configFile,
        '--board',
        rigBoard,
        '--keys',
        keysDir,
        '--rig',
        'emulated',
        '--duration',
        String(o.latencySeconds),
        '--json',
        '--no-status',
        '--log-level',
        'warn',
        '--log-file',
        join(dir, `${rigBoard}.log`),
        '--out',
        join(dir, 'report'),
      ],
      (o.latencySeconds + 60) * 1000,
    );
    return {
      ...pickSummary('udp loopback (triplex node x5)', rig),
      writtenFramesLatencyMs: writtenLatency(join(dir, 'report')),
    };
  } finally {
    await started.stopAll(2000);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `triplex sim --processes`: board processes on a pty serial mesh (paced) or the emulated CAN bus. */
export async function latencySim(link: 'serial' | 'can', config: string, o: Options): Promise<LatencyRun> {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-links-sim-'));
  try {
    const out = await triplex(
      [
        'sim',
        '--processes',
        '--link',
        link,
        '--config',
        config,
        '--rate',
        String(o.latencyRate),
        '--duration',
        String(o.latencySeconds),
        '--json',
        '--no-status',
        '--out',
        dir,
      ],
      (o.latencySeconds + 90) * 1000,
    );
    return pickSummary(
      link === 'serial'
        ? `serial pty mesh, paced (${config})`
        : `emulated CAN bus over SLCAN ptys (${config})`,
      out,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The three cross-process runs. */
export async function latencyRuns(o: Options): Promise<LatencyRun[]> {
  const laptop = loadTopology(join(REPO_ROOT, 'config/laptop.json'));
  return [
    await latencyUdp(laptop, o),
    await latencySim('serial', 'config/serial-mesh.json', o),
    await latencySim('can', 'config/can-bus.json', o),
  ];
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = parseLinksArgs(process.argv.slice(2));
  latencyRuns(o).then(
    (runs) => {
      const out = {
        bench: 'links-latency',
        rateHz: o.latencyRate,
        seconds: o.latencySeconds,
        runs,
        node: process.version,
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
