/**
 * A binary min-heap of timers ordered by (deadline, insertion order), with O(log n) removal so
 * that a cancelled sleep or timeout does not linger: 100k tasks that each start and cancel a
 * timeout must not leave 100k dead entries behind.
 *
 * @internal
 * @module
 */
import type { TimerHandle } from "./handle.ts";

function before(a: TimerHandle, b: TimerHandle): boolean {
  return a._when < b._when || (a._when === b._when && a._seq < b._seq);
}

export class TimerHeap {
  readonly #items: TimerHandle[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): TimerHandle | undefined {
    return this.#items[0];
  }

  push(timer: TimerHandle): void {
    const items = this.#items;
    timer._index = items.length;
    items.push(timer);
    this.#up(timer._index);
  }

  pop(): TimerHandle | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined) return undefined;
    this.#removeAt(0);
    return top;
  }

  remove(timer: TimerHandle): void {
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
    const removed = items[i] as TimerHandle;
    removed._index = -1;
    const last = items.pop() as TimerHandle;
    if (i === items.length) return;
    items[i] = last;
    last._index = i;
    this.#down(i);
    this.#up(last._index);
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i] as TimerHandle;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = items[parentIndex] as TimerHandle;
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
    const item = items[i] as TimerHandle;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(items[r] as TimerHandle, items[l] as TimerHandle)) c = r;
      const child = items[c] as TimerHandle;
      if (!before(child, item)) break;
      items[i] = child;
      child._index = i;
      i = c;
    }
    items[i] = item;
    item._index = i;
  }
}
