/**
 * A double-ended queue on a ring buffer (Python's `collections.deque`, the part asyncio's
 * locks.py and queues.py use): the FIFO of waiter futures in every primitive, and the items of a
 * `Queue`.
 *
 * @internal
 * @module
 */

/**
 * A growable ring buffer. Pushing at the tail and shifting from the head are O(1) and allocate
 * nothing once the buffer is large enough; `remove()` is O(n) like Python's `deque.remove`, but
 * O(1) for the head, which is where a woken waiter removes itself.
 *
 *     buffer:  [ d  e  .  .  .  a  b  c ]      capacity 8 (a power of two, from 8 up)
 *                      ^tail     ^head          items in order: a b c d e
 *
 * @internal
 */
export class Deque<T> implements Iterable<T> {
  // Allocated on the first push: most primitives never have a waiter.
  #buffer: (T | undefined)[] = [];
  #mask = 0;
  #head = 0;
  #size = 0;

  /** The number of items. */
  get length(): number {
    return this.#size;
  }

  /** Append at the tail. */
  push(item: T): void {
    if (this.#size === this.#buffer.length) this.#grow();
    this.#buffer[(this.#head + this.#size) & this.#mask] = item;
    this.#size++;
  }

  /** Remove and return the head, or undefined when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const buffer = this.#buffer;
    const item = buffer[this.#head];
    buffer[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#size--;
    return item;
  }

  /** The head, or undefined when empty. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#buffer[this.#head];
  }

  /** The item at position `index` from the head (0 ≤ index < length). */
  at(index: number): T {
    return this.#buffer[(this.#head + index) & this.#mask] as T;
  }

  /** Remove the first occurrence of `item`; false if it is not there. */
  remove(item: T): boolean {
    const size = this.#size;
    if (size === 0) return false;
    const buffer = this.#buffer;
    const mask = this.#mask;
    if (buffer[this.#head] === item) {
      this.shift();
      return true;
    }
    for (let i = 1; i < size; i++) {
      if (buffer[(this.#head + i) & mask] !== item) continue;
      // Close the gap by moving the items behind it one slot forward.
      for (let j = i; j < size - 1; j++) {
        buffer[(this.#head + j) & mask] = buffer[(this.#head + j + 1) & mask];
      }
      buffer[(this.#head + size - 1) & mask] = undefined;
      this.#size--;
      return true;
    }
    return false;
  }

  /** Remove every item. */
  clear(): void {
    this.#buffer.fill(undefined);
    this.#head = 0;
    this.#size = 0;
  }

  /** The items from head to tail. */
  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.#size; i++) yield this.at(i);
  }

  #grow(): void {
    const old = this.#buffer;
    const size = this.#size;
    const capacity = Math.max(8, old.length * 2);
    const buffer: (T | undefined)[] = [];
    for (let i = 0; i < size; i++) buffer.push(old[(this.#head + i) & this.#mask]);
    while (buffer.length < capacity) buffer.push(undefined);
    this.#buffer = buffer;
    this.#mask = buffer.length - 1;
    this.#head = 0;
  }
}
