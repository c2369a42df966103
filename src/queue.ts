/**
 * Queues for tasks: FIFO `Queue`, `PriorityQueue` and `LifoQueue` (asyncio.Queue,
 * asyncio.PriorityQueue, asyncio.LifoQueue), with `join()`/`taskDone()` and `shutdown()`.
 *
 * Nothing is lost to cancellation: a woken getter does not own an item until it runs, so a
 * getter cancelled after being woken leaves the item in the queue and wakes the next getter; a
 * cancelled `put()` never inserts its item. Beyond asyncio, a queue is async-iterable until it
 * is shut down.
 *
 * @module
 */
import { type Future, WaitFuture } from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
import { currentTask, type Task } from "./core/task.ts";
import { Deque } from "./deque.ts";
import { QueueEmpty, QueueFull, QueueShutDown } from "./errors.ts";
import { checkFunction, checkNumber, checkOptions, describe } from "./validate.ts";
import { asTask, bindLoop, park, waitInQueue } from "./waiting.ts";

const RESOLVED_VOID: Promise<void> = Promise.resolve();

/** Where a queue keeps its items; the only thing the three queue classes do differently. */
interface Items<T> {
  readonly length: number;
  push(item: T): void;
  /** Remove and return the next item (the queue is not empty). */
  take(): T;
  clear(): void;
}

class FifoItems<T> extends Deque<T> implements Items<T> {
  take(): T {
    return this.shift() as T;
  }
}

class LifoItems<T> implements Items<T> {
  readonly #stack: T[] = [];

  get length(): number {
    return this.#stack.length;
  }

  push(item: T): void {
    this.#stack.push(item);
  }

  take(): T {
    return this.#stack.pop() as T;
  }

  clear(): void {
    this.#stack.length = 0;
  }
}

/**
 * A binary min-heap. A comparator that throws (items that cannot be compared) leaves every item
 * in the heap: `push` compares before it moves anything, and `take` puts things back.
 */
class HeapItems<T> implements Items<T> {
  readonly #heap: T[] = [];
  readonly #compare: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get length(): number {
    return this.#heap.length;
  }

  push(item: T): void {
    const heap = this.#heap;
    const compare = this.#compare;
    // Find the slot first (this may throw), then move the ancestors down.
    let slot = heap.length;
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      if (compare(item, heap[parent] as T) >= 0) break;
      slot = parent;
    }
    let i = heap.length;
    heap.push(item);
    while (i > slot) {
      const parent = (i - 1) >> 1;
      heap[i] = heap[parent] as T;
      i = parent;
    }
    heap[slot] = item;
  }

  take(): T {
    const heap = this.#heap;
    const top = heap[0] as T;
    const last = heap.pop() as T;
    const n = heap.length;
    if (n === 0) return top;
    const compare = this.#compare;
    let i = 0; // the hole where `last` goes
    try {
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && compare(heap[child + 1] as T, heap[child] as T) < 0) child++;
        if (compare(heap[child] as T, last) >= 0) break;
        heap[i] = heap[child] as T;
        i = child;
      }
    } catch (error) {
      // Keep every item: fill the hole, put the old top back at the root.
      heap[i] = last;
      heap.push(heap[0] as T);
      heap[0] = top;
      throw error;
    }
    heap[i] = last;
    return top;
  }

  clear(): void {
    this.#heap.length = 0;
  }
}

/** What `Queue.statistics()` returns. */
export interface QueueStatistics {
  /** Items in the queue. */
  readonly qsize: number;
  /** The capacity (0 or less: unbounded). */
  readonly maxsize: number;
  /** Items put and not yet marked done with `taskDone()`. */
  readonly unfinishedTasks: number;
  /** Tasks blocked in `get()`. */
  readonly tasksWaitingGet: number;
  /** Tasks blocked in `put()`. */
  readonly tasksWaitingPut: number;
  /** Tasks blocked in `join()`. */
  readonly tasksWaitingJoin: number;
  /** Whether `shutdown()` was called. */
  readonly shutdown: boolean;
}

let setItems: <T>(queue: Queue<T>, items: Items<T>) => void;

/**
 * A first-in, first-out queue for passing items between tasks. Mirrors `asyncio.Queue`.
 *
 * - `new Queue(maxsize)`: `put()` waits while `maxsize` items are queued; `maxsize <= 0`
 *   (the default) means unbounded.
 * - `put()`/`get()` wait; `putNowait()`/`getNowait()` throw `QueueFull`/`QueueEmpty` instead.
 *   Blocked tasks are served in FIFO order.
 * - `taskDone()` and `join()` count unfinished work: `join()` resolves once every item put has
 *   been marked done.
 * - `shutdown(immediate)` (asyncio 3.13) makes `put` throw `QueueShutDown` and wakes every
 *   blocked task; `get` keeps draining the remaining items (unless `immediate`), then throws.
 * - Beyond asyncio: `for await (const item of queue)` takes items with `get()` until the queue is
 *   shut down and empty. It does not call `taskDone()`.
 *
 * **When to use**: hand work from producers to consumers with back-pressure (`maxsize`), and
 * learn when it is all processed (`join()`).
 *
 * @example
 * const queue = new Queue<string>(10);
 * await taskGroup(async (tg) => {
 *   for (let i = 0; i < 3; i++) {
 *     tg.createTask(async () => {
 *       for await (const url of queue) {
 *         await fetchPage(url);
 *         queue.taskDone();
 *       }
 *     });
 *   }
 *   for (const url of urls) await queue.put(url);
 *   await queue.join(); // every url fetched
 *   queue.shutdown(); // the workers' loops end
 * });
 */
export class Queue<T> implements AsyncIterable<T> {
  readonly #maxsize: number;
  #items: Items<T> = new FifoItems<T>();
  // Futures of tasks blocked in get() and put(). Unlike the locks, a waiter is removed from
  // here when it is woken, so these hold only tasks that are still waiting.
  readonly #getters = new Deque<Future<void>>();
  readonly #putters = new Deque<Future<void>>();
  #unfinished = 0;
  // Futures of tasks blocked in join(), all woken when the unfinished count drops to 0 (asyncio
  // uses an Event); like an Event's waiters, each task removes its own when it resumes.
  readonly #joiners = new Deque<Future<void>>();
  #isShutdown = false;
  #loop: Loop | undefined = undefined;

  static {
    setItems = (queue, items) => {
      queue.#items = items;
    };
  }

  /**
   * @param maxsize the capacity (default 0: unbounded; fractions allowed, as in asyncio).
   * @throws {TypeError} if `maxsize` is not a number.
   * @throws {RangeError} if `maxsize` is NaN.
   */
  constructor(maxsize = 0) {
    checkNumber(`new ${new.target.name}()`, "maxsize", maxsize);
    this.#maxsize = maxsize;
  }

  /** The capacity given to the constructor (0 or less: unbounded). */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** The number of items in the queue. */
  qsize(): number {
    return this.#items.length;
  }

  /** True if the queue holds no item. */
  empty(): boolean {
    return this.#items.length === 0;
  }

  /** True if the queue holds `maxsize` items (never for an unbounded queue). */
  full(): boolean {
    return this.#maxsize > 0 && this.#items.length >= this.#maxsize;
  }

  /**
   * Put `item` in the queue, waiting while it is full. Returns without suspending when there is
   * room.
   *
   * @throws {QueueShutDown} if the queue is shut down, before or while waiting.
   * @throws {CancelledError} if the task is cancelled while waiting; the item is then not put.
   */
  put(item: T): Promise<void> {
    if (!this.full()) {
      try {
        this.putNowait(item);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      return RESOLVED_VOID;
    }
    return this.#putSlow(item);
  }

  #putSlow(item: T): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    try {
      this.#waitToPut(item, currentTask(), resolve, reject);
    } catch (error) {
      reject(error);
    }
    return promise;
  }

  /** One wait of a blocked `put()`: the queue is full. */
  #waitToPut(
    item: T,
    task: Task<unknown> | undefined,
    resolve: () => void,
    reject: (error: unknown) => void,
  ): void {
    if (this.#isShutdown) throw new QueueShutDown("Queue is shut down");
    this.#loop = bindLoop(this.#loop, this);
    const putter = new WaitFuture<void>(this.#loop, this, "put");
    this.#putters.push(putter);
    park(
      putter,
      (failure) => {
        if (failure !== undefined) {
          putter.cancel(); // in case it is still pending
          // Usually still queued; a get or shutdown that woke us has removed it already.
          this.#putters.remove(putter);
          // Woken by a get, but cancelled before running: the free slot is the next putter's.
          if (!this.full() && !putter.cancelled()) wakeUpNext(this.#putters);
          reject(failure);
        } else if (this.full()) {
          // Woken by a get, but a task that did not wait filled the slot first: wait again.
          asTask(task, () => this.#waitToPut(item, task, resolve, reject));
        } else {
          // (After a shutdown, putNowait throws QueueShutDown.)
          this.putNowait(item);
          resolve();
        }
      },
      reject,
    );
  }

  /**
   * Put `item` in the queue without waiting.
   *
   * @throws {QueueShutDown} if the queue is shut down.
   * @throws {QueueFull} if the queue is full.
   */
  putNowait(item: T): void {
    if (this.#isShutdown) throw new QueueShutDown("Queue is shut down");
    if (this.full()) throw new QueueFull("Queue is full");
    this.#items.push(item);
    this.#unfinished++;
    wakeUpNext(this.#getters);
  }

  /**
   * Remove and return the next item, waiting while the queue is empty. Returns without
   * suspending when there is an item.
   *
   * @throws {QueueShutDown} if the queue is shut down and empty (or shut down immediately).
   * @throws {CancelledError} if the task is cancelled while waiting; no item is taken.
   */
  get(): Promise<T> {
    if (this.#items.length > 0) {
      try {
        return Promise.resolve(this.getNowait());
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    return this.#getSlow();
  }

  #getSlow(): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    try {
      this.#waitToGet(currentTask(), resolve, reject);
    } catch (error) {
      reject(error);
    }
    return promise;
  }

  /** One wait of a blocked `get()`: the queue is empty. */
  #waitToGet(
    task: Task<unknown> | undefined,
    resolve: (item: T) => void,
    reject: (error: unknown) => void,
  ): void {
    if (this.#isShutdown) throw new QueueShutDown("Queue is shut down");
    this.#loop = bindLoop(this.#loop, this);
    const getter = new WaitFuture<void>(this.#loop, this, "get");
    this.#getters.push(getter);
    park(
      getter,
      (failure) => {
        if (failure !== undefined) {
          getter.cancel(); // in case it is still pending
          this.#getters.remove(getter);
          // Woken by a put, but cancelled before running: the item is still in the queue, and
          // another getter must come for it. Scenario: t1 and t2 wait; putNowait("X") wakes
          // t1; t1 is cancelled before it runs; t1 wakes t2 here, and t2 gets "X".
          if (this.#items.length > 0 && !getter.cancelled()) wakeUpNext(this.#getters);
          reject(failure);
        } else if (this.#items.length === 0) {
          // Woken by a put, but a task that did not wait took the item first: wait again
          // (after a shutdown, that throws QueueShutDown).
          asTask(task, () => this.#waitToGet(task, resolve, reject));
        } else {
          // The item stayed in the queue until now: a woken getter does not own one.
          resolve(this.getNowait());
        }
      },
      reject,
    );
  }

  /**
   * Remove and return the next item without waiting.
   *
   * @throws {QueueShutDown} if the queue is empty and shut down.
   * @throws {QueueEmpty} if the queue is empty.
   */
  getNowait(): T {
    if (this.#items.length === 0) {
      if (this.#isShutdown) throw new QueueShutDown("Queue is shut down");
      throw new QueueEmpty("Queue is empty");
    }
    const item = this.#items.take();
    wakeUpNext(this.#putters);
    return item;
  }

  /**
   * Mark one item taken from the queue as processed. When every item put so far is done,
   * `join()` resolves.
   *
   * @throws {RangeError} "taskDone() called too many times" if more calls than items put.
   */
  taskDone(): void {
    if (this.#unfinished <= 0) throw new RangeError("taskDone() called too many times");
    this.#unfinished--;
    if (this.#unfinished === 0) this.#wakeJoiners();
  }

  /**
   * Wait until every item put has been marked done with `taskDone()`. Returns without
   * suspending when nothing is unfinished.
   *
   * @throws {CancelledError} if the task is cancelled while waiting.
   */
  join(): Promise<void> {
    if (this.#unfinished === 0) return RESOLVED_VOID;
    let loop: Loop;
    try {
      loop = bindLoop(this.#loop, this);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.#loop = loop;
    // Done once woken, even if more items were put since (as an Event's waiter).
    return waitInQueue(new WaitFuture<void>(loop, this, "join"), this.#joiners);
  }

  /**
   * Shut the queue down: every later `put`/`putNowait` throws `QueueShutDown`, and every task
   * blocked in `put()` or `get()` is woken (blocked putters throw; getters throw once the queue
   * is empty). With `immediate`, the remaining items are dropped (each counted as done for
   * `join()`), so every `get` throws too. Mirrors `asyncio.Queue.shutdown` (3.13).
   */
  shutdown(immediate = false): void {
    this.#isShutdown = true;
    if (immediate) {
      const items = this.#items;
      while (items.length > 0) {
        items.take();
        if (this.#unfinished > 0) this.#unfinished--;
      }
      if (this.#unfinished === 0) this.#wakeJoiners();
    }
    // Every blocked task re-checks the queue and throws if it must.
    wakeAll(this.#getters);
    wakeAll(this.#putters);
  }

  /**
   * Take items with `get()` until the queue is shut down and empty. Does not call `taskDone()`.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (error) {
        if (error instanceof QueueShutDown) return;
        throw error;
      }
      yield item;
    }
  }

  /** Wake every join() waiter not already woken; they remove themselves when they run. */
  #wakeJoiners(): void {
    const joiners = this.#joiners;
    for (let i = 0; i < joiners.length; i++) {
      const fut = joiners.at(i);
      if (!fut.done()) fut._resolve(undefined);
    }
  }

  /** A snapshot for debugging: sizes, unfinished work and waiting tasks. */
  statistics(): QueueStatistics {
    return {
      qsize: this.#items.length,
      maxsize: this.#maxsize,
      unfinishedTasks: this.#unfinished,
      tasksWaitingGet: this.#getters.length,
      tasksWaitingPut: this.#putters.length,
      tasksWaitingJoin: this.#joiners.length,
      shutdown: this.#isShutdown,
    };
  }

  /** `<Queue maxsize=10 qsize=3 tasks=5 getters=1 putters=2 shutdown>`, parts as they apply. */
  toString(): string {
    let s = `<${this.constructor.name} maxsize=${this.#maxsize} qsize=${this.#items.length}`;
    if (this.#unfinished > 0) s += ` tasks=${this.#unfinished}`;
    if (this.#getters.length > 0) s += ` getters=${this.#getters.length}`;
    if (this.#putters.length > 0) s += ` putters=${this.#putters.length}`;
    if (this.#isShutdown) s += " shutdown";
    return `${s}>`;
  }
}

/** Wake the first waiter that is not cancelled, removing it (and the cancelled ones before it). */
function wakeUpNext(waiters: Deque<Future<void>>): void {
  while (waiters.length > 0) {
    const waiter = waiters.shift() as Future<void>;
    if (!waiter.done()) {
      waiter._resolve(undefined);
      return;
    }
  }
}

function wakeAll(waiters: Deque<Future<void>>): void {
  while (waiters.length > 0) {
    const waiter = waiters.shift() as Future<void>;
    if (!waiter.done()) waiter._resolve(undefined);
  }
}

/** Options of `new PriorityQueue()`. */
export interface PriorityQueueOptions<T> {
  /**
   * The order: negative if `a` comes out first, positive if `b` does (like `Array#sort`).
   * Default: `comparePython`.
   */
  compare?: ((a: T, b: T) => number) | undefined;
}

/**
 * Python's `<` for the values that have it: numbers, bigints and booleans by value (mixed freely,
 * like Python's int, float and bool), strings by UTF-16 code units, and arrays (tuples)
 * element-wise, a shorter prefix first. The default order of `PriorityQueue`.
 *
 * @throws {TypeError} for values that cannot be ordered (objects, undefined, a string against a
 * number, ...), as Python raises `TypeError` for `'<' not supported`.
 * @example
 * comparePython([1, "b"], [1, "a"]); // 1
 * comparePython(2n, 3); // -1
 */
export function comparePython(a: unknown, b: unknown): number {
  const ta = typeof a;
  const tb = typeof b;
  if (
    (ta === "number" || ta === "bigint" || ta === "boolean") &&
    (tb === "number" || tb === "bigint" || tb === "boolean")
  ) {
    const x = ta === "boolean" ? Number(a) : (a as number | bigint);
    const y = tb === "boolean" ? Number(b) : (b as number | bigint);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (ta === "string" && tb === "string") {
    return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      // As Python's tuple comparison: identical elements are equal without being ordered.
      if (a[i] === b[i]) continue;
      const c = comparePython(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  throw new TypeError(
    `PriorityQueue: cannot order ${describe(a)} and ${describe(b)}; pass a "compare" option`,
  );
}

/**
 * A queue that returns the lowest item first. Mirrors `asyncio.PriorityQueue`.
 *
 * The default order is Python's (`comparePython`): numbers, strings, and arrays compared
 * element-wise, so `[priority, data]` pairs work as in Python; pass `{ compare }` for anything
 * else. Items of equal priority come out in no particular order (a binary heap, as in asyncio).
 *
 * @example
 * const queue = new PriorityQueue<[number, string]>();
 * queue.putNowait([2, "later"]);
 * queue.putNowait([1, "first"]);
 * queue.getNowait(); // [1, "first"]
 *
 * const byDeadline = new PriorityQueue<Job>(0, { compare: (a, b) => a.deadline - b.deadline });
 */
export class PriorityQueue<T> extends Queue<T> {
  /**
   * @param maxsize the capacity (default 0: unbounded).
   * @param options `compare`: the order (default `comparePython`).
   */
  constructor(maxsize = 0, options?: PriorityQueueOptions<T>) {
    super(maxsize);
    checkOptions("new PriorityQueue()", options);
    const compare = options?.compare ?? comparePython;
    checkFunction("new PriorityQueue()", "compare", compare);
    setItems(this, new HeapItems<T>(compare));
  }
}

/**
 * A queue that returns the most recently put item first (a stack). Mirrors `asyncio.LifoQueue`.
 *
 * @example
 * const stack = new LifoQueue<number>();
 * stack.putNowait(1);
 * stack.putNowait(2);
 * stack.getNowait(); // 2
 */
export class LifoQueue<T> extends Queue<T> {
  /** @param maxsize the capacity (default 0: unbounded). */
  constructor(maxsize = 0) {
    super(maxsize);
    setItems(this, new LifoItems<T>());
  }
}
