/**
 * Synchronization primitive: a condition variable (asyncio.Condition): tasks holding its lock
 * wait to be notified, and always hold the lock again when `wait()` returns or throws.
 *
 * @module
 */
import { type Future, WaitFuture } from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
import { currentTask, type Task } from "./core/task.ts";
import { Deque } from "./deque.ts";
import { CancelledError, RuntimeError } from "./errors.ts";
import { type Guard, Lock, type LockStatistics, tryAcquire, waitForLock } from "./lock.ts";
import { checkFunction, checkNumber, typeError } from "./validate.ts";
import { asTask, bindLoop, park } from "./waiting.ts";

/** How a `wait()` in progress ends: its task, and the promise it returns. */
interface WaitEnd {
  readonly task: Task<unknown> | undefined;
  readonly resolve: (value: true) => void;
  readonly reject: (error: unknown) => void;
}

/** What `Condition.statistics()` returns. */
export interface ConditionStatistics {
  /** How many tasks are blocked in `wait()` (not counting those re-acquiring the lock). */
  readonly tasksWaiting: number;
  /** The statistics of the underlying lock. */
  readonly lock: LockStatistics;
}

/**
 * A condition variable: a lock plus a queue of tasks waiting to be notified.
 * Mirrors `asyncio.Condition`.
 *
 * - `new Condition(lock?)` uses the given `Lock` or makes one; `acquire()`, `release()`,
 *   `locked()`, `withLock(fn)` and `lock()` act on that lock.
 * - `wait()` releases the lock, waits for `notify()`, and re-acquires the lock before it returns
 *   **or throws**, even when cancelled. A cancelled waiter passes its notification on, so a
 *   notification is never lost, at the price of possible spurious wake-ups: re-check your
 *   condition, or use `waitFor(predicate)`.
 *
 * @example
 * const cond = new Condition();
 * const items: string[] = [];
 * async function consume() {
 *   return cond.withLock(async () => {
 *     await cond.waitFor(() => items.length > 0);
 *     return items.shift();
 *   });
 * }
 * async function produce(item: string) {
 *   await cond.withLock(() => {
 *     items.push(item);
 *     cond.notify();
 *   });
 * }
 */
export class Condition {
  readonly #lock: Lock;
  // Futures of the tasks blocked in wait(), notified in FIFO order.
  readonly #waiters = new Deque<Future<boolean>>();
  #loop: Loop | undefined = undefined;

  /**
   * @param lock the lock to use (default: a new `Lock`).
   * @throws {TypeError} if `lock` is not a `Lock`.
   */
  constructor(lock?: Lock) {
    if (lock !== undefined && !(lock instanceof Lock)) {
      throw typeError("new Condition()", "lock", "a Lock", lock);
    }
    this.#lock = lock ?? new Lock();
  }

  /** True while the underlying lock is held. */
  locked(): boolean {
    return this.#lock.locked();
  }

  /** Acquire the underlying lock (see `Lock.acquire`). */
  acquire(): Promise<true> {
    return this.#lock.acquire();
  }

  /**
   * Release the underlying lock.
   * @throws {RuntimeError} if it is not held.
   */
  release(): void {
    this.#lock.release();
  }

  /**
   * Run `fn` holding the lock. Mirrors `async with condition:`.
   * @example
   * await cond.withLock(() => cond.notifyAll());
   */
  withLock<T>(fn: () => PromiseLike<T> | T): Promise<T> {
    return this.#lock.withLock(fn);
  }

  /**
   * Acquire the lock and return a `Guard` releasing it, for `await using`.
   * @example
   * {
   *   await using _held = await cond.lock();
   *   await cond.wait();
   * }
   */
  lock(): Promise<Guard> {
    return this.#lock.lock();
  }

  /**
   * Release the lock, wait until notified, re-acquire the lock; resolves with `true`.
   *
   * The lock is held again when this returns **or throws**. If the task is cancelled, `wait()`
   * still re-acquires the lock first (retrying if cancelled again), then throws the most recent
   * `CancelledError`.
   *
   * @throws {RuntimeError} "cannot wait on un-acquired lock" if the lock is not held.
   * @throws {CancelledError} if the task is cancelled while waiting.
   */
  wait(): Promise<true> {
    const { promise, resolve, reject } = Promise.withResolvers<true>();
    this.#wait({ task: currentTask(), resolve, reject });
    return promise;
  }

  /** `wait()` for the current task, ending through `end`. */
  #wait(end: WaitEnd): void {
    if (!this.locked()) {
      end.reject(new RuntimeError("cannot wait on un-acquired lock"));
      return;
    }
    let loop: Loop;
    try {
      loop = bindLoop(this.#loop, this);
    } catch (error) {
      end.reject(error);
      return;
    }
    this.#loop = loop;
    this.release();
    const fut = new WaitFuture<boolean>(loop, this, "wait");
    const waiters = this.#waiters;
    waiters.push(fut);
    park(
      fut,
      (failure) => {
        waiters.remove(fut);
        this.#relock(end, failure !== undefined, failure);
      },
      end.reject,
    );
  }

  /**
   * The end of `wait()`: re-acquire the lock whatever happened. If cancelled while waiting for
   * it, keep trying; the most recent `CancelledError` is then thrown, once the lock is held.
   */
  #relock(end: WaitEnd, failed: boolean, failure: unknown): void {
    if (tryAcquire(this.#lock, end.task)) {
      this.#endWait(end, failed, failure);
      return;
    }
    try {
      asTask(end.task, () => {
        waitForLock(
          this.#lock,
          () => this.#endWait(end, failed, failure),
          // Only CancelledError is retried: anything else escaping the wait is a bug, and
          // spinning on it would hang.
          (error) => {
            if (error instanceof CancelledError) this.#relock(end, true, error);
            else this.#endWait(end, true, error);
          },
          end.reject,
        );
      });
    } catch (error) {
      this.#endWait(end, true, error);
    }
  }

  #endWait(end: WaitEnd, failed: boolean, failure: unknown): void {
    if (failed) {
      // We may have consumed a notification before failing: pass it on to another waiter.
      // Scenario: notify(1) picks us, then we are cancelled before we run; without this, the
      // other waiters would sleep on although there is something to consume.
      this.#notify(1);
      end.reject(failure);
    } else {
      end.resolve(true);
    }
  }

  /**
   * Wait until `predicate()` is truthy and return its value. The predicate is checked first, and
   * again after every wake-up, with the lock held. A predicate that is already truthy returns
   * without needing the lock.
   *
   * @throws {RuntimeError} if the predicate is false and the lock is not held.
   * @throws {CancelledError} if the task is cancelled while waiting (the lock is held again).
   */
  waitFor<T>(predicate: () => T): Promise<T> {
    checkFunction("condition.waitFor()", "predicate", predicate);
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const task = currentTask();
    // Each check runs in the task (the first one in the caller's code, the next ones when a
    // wait() ends), and the result settles the promise directly: no extra hop per wait.
    const check = (): void => {
      let result: T;
      try {
        result = asTask(task, predicate);
      } catch (error) {
        reject(error);
        return;
      }
      if (result) resolve(result);
      else asTask(task, () => this.#wait({ task, resolve: check, reject }));
    };
    check();
    return promise;
  }

  /**
   * Wake up to `n` (default 1) waiting tasks, in FIFO order. They resume once they can
   * re-acquire the lock, so release it after notifying.
   *
   * @throws {RuntimeError} "cannot notify on un-acquired lock" if the lock is not held.
   */
  notify(n = 1): void {
    checkNumber("condition.notify()", "n", n);
    if (!this.locked()) throw new RuntimeError("cannot notify on un-acquired lock");
    this.#notify(n);
  }

  /**
   * Wake every waiting task.
   * @throws {RuntimeError} if the lock is not held.
   */
  notifyAll(): void {
    this.notify(this.#waiters.length);
  }

  /** A snapshot for debugging: waiting tasks and the lock's statistics. */
  statistics(): ConditionStatistics {
    return { tasksWaiting: this.#waiters.length, lock: this.#lock.statistics() };
  }

  /** `<Condition [locked, waiters:1]>`, as asyncio's repr. */
  toString(): string {
    const waiting = this.#waiters.length;
    const extra = waiting > 0 ? `, waiters:${waiting}` : "";
    return `<Condition [${this.locked() ? "locked" : "unlocked"}${extra}]>`;
  }

  #notify(n: number): void {
    const waiters = this.#waiters;
    let woken = 0;
    for (let i = 0; i < waiters.length && woken < n; i++) {
      const fut = waiters.at(i);
      if (!fut.done()) {
        woken++;
        fut._resolve(false);
      }
    }
  }
}
