/**
 * A binary min-heap of timers ordered by (deadline, insertion order), with O(log n) removal so
 * that a cancelled sleep or timeout does not linger: 100k tasks that each start and cancel a
 * timeout must not leave 100k dead entries behind.
 *
 * @internal
 * @module
 */
/** What the heap orders: a deadline, a tie-breaker, and the entry's own position. */
export interface TimerEntry {
  readonly _when: number;
  readonly _seq: number;
  _index: number;
  /** Called by the loop when the deadline has passed. */
  _fire(): void;
}

function before(a: TimerEntry, b: TimerEntry): boolean {
  return a._when < b._when || (a._when === b._when && a._seq < b._seq);
}

export class TimerHeap {
  readonly #items: TimerEntry[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): TimerEntry | undefined {
    return this.#items[0];
  }

  push(timer: TimerEntry): void {
    const items = this.#items;
    timer._index = items.length;
    items.push(timer);
    this.#up(timer._index);
  }

  pop(): TimerEntry | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined) return undefined;
    this.#removeAt(0);
    return top;
  }

  remove(timer: TimerEntry): void {
    const i = timer._index;
    if (i < 0 || this.#items[i] !== timer) return;
    this.#removeAt(i);
  }

  clear(): void {
    for (const t of this.#items) t._index = -1;
    this.#items.length = 0;
  }

  #removeAt(i: number): void {
    const items = this.#items;
    const removed = items[i] as TimerEntry;
    removed._index = -1;
    const last = items.pop() as TimerEntry;
    if (i === items.length) return;
    items[i] = last;
    last._index = i;
    this.#down(i);
    this.#up(last._index);
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i] as TimerEntry;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = items[parentIndex] as TimerEntry;
      if (!before(item, parent)) break;
      items[i] = parent;
      parent._index = i;
      i = parentIndex;
    }
    items[i] = item;
    item._index = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const item = items[i] as TimerEntry;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(items[r] as TimerEntry, items[l] as TimerEntry)) c = r;
      const child = items[c] as TimerEntry;
      if (!before(child, item)) break;
      items[i] = child;
      child._index = i;
      i = c;
    }
    items[i] = item;
    item._index = i;
  }
}
