/**
 * Worst-case stack of the Cortex-M3 image, statically: the per-function frames gcc reports with
 * -fstack-usage / -fcallgraph-info=su (the .ci call graphs of every object), the longest call chain from the
 * reset handler, plus one exception frame and handler per preemption level (IRQs at one priority, then NMI,
 * then HardFault). Library functions without .su data (libgcc soft float, newlib memcpy) are sized from their
 * prologues in the disassembly (push and sub sp), and named in the result.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StackReport {
  readonly worstBytes: number;
  readonly mainBytes: number;
  readonly mainPath: readonly string[];
  readonly interruptBytes: Record<string, number>;
  /** Frame of each function on the path, bytes. */
  readonly frames: Record<string, number>;
  readonly fromDisassembly: readonly string[];
  readonly dynamicOrUnbounded: readonly string[];
  readonly recursion: readonly string[];
}

/** Cortex-M3 exception entry: 8 words stacked, plus 4 bytes of alignment padding at worst. */
const EXCEPTION_FRAME = 36;

/**
 * The firmware's only function pointer: the voter's judgment sink, which the board sets to judgment_out
 * (src/board.c). gcc names an indirect call `__indirect_call` in the call graph.
 */
const INDIRECT_TARGETS = ['judgment_out'];

function ciFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...ciFiles(p));
    else if (e.name.endsWith('.ci')) out.push(p);
  }
  return out;
}

function prologueSizes(elf: string): Map<string, number> {
  const text = execFileSync('arm-none-eabi-objdump', ['-d', elf], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const sizes = new Map<string, number>();
  let current: string | undefined;
  let seen = 0;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+ <([^>]+)>:$/.exec(line);
    if (head) {
      current = head[1];
      seen = 0;
      sizes.set(current!, 0);
      continue;
    }
    if (current === undefined || seen++ > 8) continue; // the prologue is at the top
    const push =
      /\tpush(?:\.w)?\s+\{([^}]*)\}/.exec(line) ?? /\tstmdb(?:\.w)?\s+sp!,\s*\{([^}]*)\}/.exec(line);
    if (push) sizes.set(current, sizes.get(current)! + 4 * push[1]!.split(',').length);
    const sub = /\tsub(?:\.w)?\s+sp,\s*(?:sp,\s*)?#(\d+)/.exec(line);
    if (sub) sizes.set(current, sizes.get(current)! + Number(sub[1]));
  }
  return sizes;
}

export function analyzeStack(objDir: string, elf: string): StackReport {
  const frame = new Map<string, number>();
  const dynamic: string[] = [];
  const edges = new Map<string, Set<string>>();
  const titleOf = (t: string): string => t.slice(t.lastIndexOf(':') + 1);
  for (const file of ciFiles(objDir)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/node: \{ title: "([^"]+)" label: "([^"]*)"/g)) {
      const name = titleOf(m[1]!);
      const su = /\\n(\d+) bytes \(([^)]+)\)/.exec(m[2]!);
      if (su) {
        frame.set(name, Number(su[1]));
        if (su[2] !== 'static') dynamic.push(`${name} (${su[2]})`);
      }
    }
    for (const m of text.matchAll(/edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"/g)) {
      const from = titleOf(m[1]!);
      const set = edges.get(from) ?? new Set<string>();
      edges.set(from, set);
      set.add(titleOf(m[2]!));
    }
  }
  const prologues = prologueSizes(elf);
  const fromDisassembly = new Set<string>();
  const sizeOf = (f: string): number => {
    if (f === '__indirect_call') return 0;
    const known = frame.get(f);
    if (known !== undefined) return known;
    fromDisassembly.add(f);
    return prologues.get(f) ?? 0;
  };
  const recursion: string[] = [];
  const memo = new Map<string, { bytes: number; path: string[] }>();
  const worst = (f: string, onPath: Set<string>): { bytes: number; path: string[] } => {
    const cached = memo.get(f);
    if (cached !== undefined) return cached;
    if (onPath.has(f)) {
      recursion.push(f);
      return { bytes: 0, path: [`${f} (recursion)`] };
    }
    onPath.add(f);
    let best = { bytes: 0, path: [] as string[] };
    const callees = f === '__indirect_call' ? INDIRECT_TARGETS : [...(edges.get(f) ?? [])];
    for (const callee of callees) {
      const w = worst(callee, onPath);
      if (w.bytes > best.bytes) best = w;
    }
    onPath.delete(f);
    const result = { bytes: sizeOf(f) + best.bytes, path: [f, ...best.path] };
    memo.set(f, result);
    return result;
  };
  // main is called from Reset_Handler.
  const reset = worst('Reset_Handler', new Set());
  const main = worst('main', new Set());
  const mainBytes = Math.max(reset.bytes, sizeOf('Reset_Handler') + main.bytes);
  const mainPath =
    reset.bytes >= sizeOf('Reset_Handler') + main.bytes ? reset.path : ['Reset_Handler', ...main.path];
  const isr = (f: string): number => worst(f, new Set()).bytes;
  const interruptBytes = {
    SysTick_Handler: isr('SysTick_Handler'),
    UART0_RX_Handler: isr('UART0_RX_Handler'),
    NMI_Handler: isr('NMI_Handler'),
    HardFault_Handler: isr('HardFault_Handler'),
  };
  const irqLevel =
    EXCEPTION_FRAME + Math.max(interruptBytes.SysTick_Handler, interruptBytes.UART0_RX_Handler);
  const worstBytes =
    mainBytes +
    irqLevel +
    EXCEPTION_FRAME +
    interruptBytes.NMI_Handler +
    EXCEPTION_FRAME +
    interruptBytes.HardFault_Handler;
  return {
    worstBytes,
    mainBytes,
    mainPath,
    interruptBytes,
    frames: Object.fromEntries(mainPath.map((f) => [f.replace(' (recursion)', ''), sizeOf(f)])),
    fromDisassembly: [...fromDisassembly].sort(),
    dynamicOrUnbounded: dynamic,
    recursion,
  };
}
