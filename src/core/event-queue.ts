/**
 * Min-heap of timed events; ties broken by insertion order, so a run is a pure function of its seed. The
 * simulator's event loop and the runtime's virtual clock both run on it.
 */
export class EventQueue<T> {
  private readonly heap: { time: number; order: number; value: T }[] = [];
  private order = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Time of the earliest event, without removing it. */
  peekTime(): number | undefined {
    return this.heap[0]?.time;
  }

  push(time: number, value: T): void {
    const item = { time, order: this.order++, value };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): { time: number; value: T } | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return { time: top.time, value: top.value };
  }
}

function less(a: { time: number; order: number }, b: { time: number; order: number }): boolean {
  return a.time < b.time || (a.time === b.time && a.order < b.order);
}
