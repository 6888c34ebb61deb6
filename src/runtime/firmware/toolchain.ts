/**
 * Builds the firmware with make (into firmware-bridge/build/, git-ignored) and says what this machine can
 * run: the host build needs a C compiler; the Cortex-M3 build needs gcc-arm-none-eabi with newlib and
 * qemu-system-arm. A missing piece is a reason to print and skip, never a crash.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIRMWARE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../firmware-bridge');
export const BUILD_DIR = join(FIRMWARE_DIR, 'build');

/** Time a test file allows its builds on a fresh clone (a loaded 2-core machine builds everything in ~40 s). */
export const BUILD_TIMEOUT_MS = 240_000;

/** Build what a test file needs, skipping the Cortex-M3 images when that toolchain is missing. */
export function buildFor(artifacts: readonly Artifact[]): void {
  for (const a of artifacts) {
    const ok = a.startsWith('m3') ? m3Toolchain().ok : hostToolchain().ok;
    if (ok) build(a);
  }
}

/** make targets and what they produce (firmware-bridge/Makefile). */
export const ARTIFACTS = {
  host: 'host/triplex-fw-host',
  'host-test': 'host-test/triplex-fw-host',
  tool: 'host/triplex-fw-tool',
  fuzz: 'asan/triplex-fw-fuzz',
  m3: 'm3/triplex-fw.elf',
  'm3-test': 'm3-test/triplex-fw.elf',
} as const;
export type Artifact = keyof typeof ARTIFACTS;

export type Availability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

function has(cmd: string, args: readonly string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

let hostCache: Availability | undefined;
let m3Cache: Availability | undefined;

/** Whether the host builds can be made here (cc and make). */
export function hostToolchain(): Availability {
  hostCache ??= !has('make', ['--version'])
    ? { ok: false, reason: 'make is not installed' }
    : !has(process.env.CC ?? 'cc', ['--version'])
      ? { ok: false, reason: 'no C compiler (cc) is installed' }
      : { ok: true };
  return hostCache;
}

/** Whether the Cortex-M3 build can be made and run here (gcc-arm-none-eabi, newlib, qemu-system-arm). */
export function m3Toolchain(): Availability {
  m3Cache ??= probeM3();
  return m3Cache;
}

function probeM3(): Availability {
  const host = hostToolchain();
  if (!host.ok) return host;
  if (!has('arm-none-eabi-gcc', ['--version']))
    return { ok: false, reason: 'gcc-arm-none-eabi is not installed (apt install gcc-arm-none-eabi)' };
  const specs = spawnSync('arm-none-eabi-gcc', ['-print-file-name=nano.specs'], { encoding: 'utf8' });
  if (specs.status !== 0 || !existsSync(specs.stdout.trim()))
    return { ok: false, reason: 'newlib is not installed (apt install libnewlib-arm-none-eabi)' };
  if (!has('qemu-system-arm', ['--version']))
    return { ok: false, reason: 'qemu-system-arm is not installed (apt install qemu-system-arm)' };
  return { ok: true };
}

/**
 * Make `artifact` (incremental; serialized across processes by flock on build/.lock, so parallel test files
 * do not race) and return its path. Throws with make's output when the build fails. Tests call it from a
 * beforeAll with a long timeout, so a fresh clone's first build does not eat a test's own time.
 */
export function build(artifact: Artifact): string {
  const [cmd, ...args] = makeCommand(artifact);
  try {
    execFileSync(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`make ${artifact} failed:\n${err.stdout ?? ''}${err.stderr ?? err.message}`);
  }
  return join(BUILD_DIR, ARTIFACTS[artifact]);
}

function makeCommand(artifact: Artifact): string[] {
  const need = artifact.startsWith('m3') ? m3Toolchain() : hostToolchain();
  if (!need.ok) throw new Error(`cannot build ${artifact}: ${need.reason}`);
  execFileSync('mkdir', ['-p', BUILD_DIR]);
  const make = ['make', '-s', '-j2', '-C', FIRMWARE_DIR, artifact];
  return has('flock', ['--version']) ? ['flock', join(BUILD_DIR, '.lock'), ...make] : make;
}

/**
 * `build` without blocking the event loop: what a running process uses (the rig's process of `triplex sim
 * --processes` talks to its board processes while the firmware builds; a fresh build takes 3 s at load 5 and
 * tens of seconds at load 15 on 2 cores).
 */
export function buildAsync(artifact: Artifact): Promise<string> {
  const [cmd, ...args] = makeCommand(artifact);
  return new Promise((resolve, reject) => {
    execFile(cmd!, args, { encoding: 'utf8' }, (e, stdout, stderr) => {
      if (e) reject(new Error(`make ${artifact} failed:\n${stdout}${stderr || e.message}`));
      else resolve(join(BUILD_DIR, ARTIFACTS[artifact]));
    });
  });
}

/** The image a voter implementation runs (test hooks: the build with the HANG request). */
export function voterArtifact(impl: 'firmware-host' | 'firmware-qemu', testHooks = false): Artifact {
  if (impl === 'firmware-host') return testHooks ? 'host-test' : 'host';
  return testHooks ? 'm3-test' : 'm3';
}
