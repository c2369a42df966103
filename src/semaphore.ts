/**
 * Synchronization primitives: a counting semaphore and its bounded variant (asyncio.Semaphore,
 * asyncio.BoundedSemaphore).
 *
 * Fair: a task cannot take a free permit while others are queued, and a releaser hands the
 * permit to the first waiter directly. A waiter cancelled after it was handed a permit gives it
 * back, so permits are never lost.
 *
 * @module
 */
import { type NativeWaiter, settleNative, WaitFuture } from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
import { Deque } from "./deque.ts";
import { Guard, RESOLVED_TRUE, runHeld } from "./lock.ts";
import { checkFunction, checkInteger } from "./validate.ts";
import { bindLoop, parkNative } from "./waiting.ts";

/** What `Semaphore.statistics()` returns. */
export interface SemaphoreStatistics {
  /** Permits available now (already decremented for woken waiters that have not run yet). */
  readonly value: number;
  /** How many tasks are blocked in `acquire()`. */
  readonly tasksWaiting: number;
}

/** What `BoundedSemaphore.statistics()` returns. */
export interface BoundedSemaphoreStatistics extends SemaphoreStatistics {
  /** The initial value, which `value` may not exceed. */
  readonly bound: number;
}

let permitsOf: (sem: Semaphore) => number;

/**
 * A counter of permits: `acquire()` takes one (waiting while there are none), `release()` gives
 * one back. Mirrors `asyncio.Semaphore`.
 *
 * - FIFO: once a task is queued, newcomers queue behind it even if a permit is free.
 * - `release()` may be called more times than `acquire()` (the value grows); use
 *   `BoundedSemaphore` to catch that mistake.
 * - asyncio's `async with sem:` is `sem.withPermit(fn)`, or
 *   `await using _ = await sem.permit()`.
 *
 * @example
 * const sem = new Semaphore(3);
 * await gather(...urls.map((url) => () => sem.withPermit(() => fetchPage(url))));
 * // at most 3 fetches run at once
 */
export class Semaphore {
  #value: number;
  // FIFO of the futures of tasks blocked in acquire(). A release takes the first one out as it
  // wakes it (asyncio leaves it in until its task runs; then every release would scan past the
  // woken ones); a cancelled one takes itself out when its task runs.
  #waiters: Deque<WaitFuture<true>> | undefined = undefined;
  // Tasks woken with a permit that have not run yet: asyncio still counts them as waiters.
  #woken = 0;
  #loop: Loop | undefined = undefined;

  static {
    permitsOf = (sem) => sem.#value;
  }

  /**
   * @param value the number of permits (default 1).
   * @throws {TypeError} if `value` is not a number.
   * @throws {RangeError} if `value` is not an integer >= 0.
   */
  constructor(value = 1) {
    checkInteger(`new ${new.target.name}()`, "value", value, 0);
    this.#value = value;
  }

  /**
   * True if `acquire()` would wait: no permit is free, or other tasks are queued first.
   */
  locked(): boolean {
    if (this.#value === 0 || this.#woken > 0) return true;
    const waiters = this.#waiters;
    if (waiters !== undefined) {
      for (let i = 0; i < waiters.length; i++) if (!waiters.at(i).cancelled()) return true;
    }
    return false;
  }

  /**
   * Take a permit, waiting in FIFO order if none is free; resolves with `true`.
   *
   * @throws {CancelledError} if the task is cancelled while waiting; no permit is then held.
   */
  acquire(): Promise<true> {
    if (!this.locked()) {
      this.#value--;
      return RESOLVED_TRUE;
    }
    return this.#acquireSlow();
  }

  #acquireSlow(): Promise<true> {
    let loop: Loop;
    try {
      loop = bindLoop(this.#loop, this);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.#loop = loop;
    this.#waiters ??= new Deque();
    const fut = new WaitFuture<true>(loop, this, "acquire");
    this.#waiters.push(fut);
    return parkNative(fut, Semaphore.#acquireWoken);
  }

  /** The rest of a waiting acquire(), run when its task is woken (see waiting.ts). */
  static #acquireWoken(this: void, w: NativeWaiter, failure: unknown): void {
    const fut = w.future as WaitFuture<true>;
    const sem = fut._owner as Semaphore;
    if (fut.done() && !fut.cancelled()) {
      // release() woke us with a permit, and took our future out of the queue.
      sem.#woken--;
      if (failure !== undefined) {
        // ...but we were cancelled before running: give the permit back, to be passed on
        // below. Scenario: Semaphore(0), A and B wait; release() wakes A; A is cancelled
        // before it runs.
        sem.#value++;
      }
    } else if (!fut._dequeued) {
      sem.#waiters?.remove(fut);
    }
    // Waiters queued behind us may be able to go now (FIFO made them wait).
    sem.#wakeUpWhileFree();
    settleNative(w, failure === undefined, failure === undefined ? true : failure);
  }

  /** Give a permit back and hand it to the first waiting task, if any. */
  release(): void {
    this.#value++;
    this.#wakeUpNext();
  }

  /**
   * Run `fn` holding a permit, and release it however `fn` ends. Mirrors `async with sem:`.
   *
   * @throws {CancelledError} if cancelled while waiting for a permit (`fn` does not run).
   * @example
   * const page = await sem.withPermit(() => fetchPage(url));
   */
  withPermit<T>(fn: () => PromiseLike<T> | T): Promise<T> {
    checkFunction("semaphore.withPermit()", "fn", fn);
    return runHeld(this, fn);
  }

  /**
   * Take a permit and return a `Guard` that releases it: the `await using` form of
   * `async with sem:`.
   *
   * @throws {CancelledError} if cancelled while waiting (then nothing is held).
   * @example
   * {
   *   await using _permit = await sem.permit();
   *   await fetchPage(url);
   * } // released here
   */
  async permit(): Promise<Guard> {
    await this.acquire();
    return new Guard(this);
  }

  /** A snapshot for debugging: free permits and waiting tasks. */
  statistics(): SemaphoreStatistics {
    return { value: this.#value, tasksWaiting: (this.#waiters?.length ?? 0) + this.#woken };
  }

  /** `<Semaphore [unlocked, value:2]>` or `<Semaphore [locked, waiters:3]>`, as asyncio's repr. */
  toString(): string {
    const waiting = (this.#waiters?.length ?? 0) + this.#woken;
    const state = this.locked() ? "locked" : `unlocked, value:${this.#value}`;
    return `<${this.constructor.name} [${state}${waiting > 0 ? `, waiters:${waiting}` : ""}]>`;
  }

  /** Wake as many waiters as there are free permits. */
  #wakeUpWhileFree(): void {
    while (this.#value > 0 && this.#wakeUpNext()) {
      // each wake-up took one permit
    }
  }

  /** Hand a permit to the first waiter not cancelled; false if none. */
  #wakeUpNext(): boolean {
    const waiters = this.#waiters;
    if (waiters === undefined) return false;
    while (waiters.length > 0) {
      const fut = waiters.shift() as WaitFuture<true>;
      fut._dequeued = true;
      if (fut.done()) continue; // cancelled: its task has not run yet
      this.#value--;
      this.#woken++;
      fut._resolve(true);
      return true;
    }
    return false;
  }
}

/**
 * A `Semaphore` that refuses to be released above its initial value.
 * Mirrors `asyncio.BoundedSemaphore` (which raises `ValueError`).
 *
 * @example
 * const sem = new BoundedSemaphore(2);
 * await sem.acquire();
 * sem.release();
 * sem.release(); // RangeError: BoundedSemaphore released too many times
 */
export class BoundedSemaphore extends Semaphore {
  readonly #bound: number;

  /**
   * @param value the number of permits, and the most there can ever be (default 1).
   * @throws {RangeError} if `value` is not an integer >= 0.
   */
  constructor(value = 1) {
    super(value);
    this.#bound = value;
  }

  /**
   * Give a permit back.
   * @throws {RangeError} "BoundedSemaphore released too many times" if every permit is free.
   */
  override release(): void {
    if (permitsOf(this) >= this.#bound) {
      throw new RangeError("BoundedSemaphore released too many times");
    }
    super.release();
  }

  /** A snapshot for debugging: free permits, the bound and waiting tasks. */
  override statistics(): BoundedSemaphoreStatistics {
    return { ...super.statistics(), bound: this.#bound };
  }
}
