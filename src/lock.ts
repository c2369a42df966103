/**
 * Synchronization primitive: a mutual-exclusion lock (asyncio.Lock), and the `Guard` that the
 * `await using` forms of Lock, Condition and Semaphore return.
 *
 * Fair: waiters acquire in FIFO order, and a releaser cannot barge ahead of the waiter it just
 * woke. Cancelling a waiter, even one that was already handed the lock, never loses the lock.
 *
 * @module
 */
import { type Future, WaitFuture } from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
import { currentTask, type Task } from "./core/task.ts";
import { Deque } from "./deque.ts";
import { RuntimeError } from "./errors.ts";
import { checkFunction } from "./validate.ts";
import { bindLoop, park } from "./waiting.ts";

/** @internal Shared by every fast path: awaiting it does not suspend the task. */
export const RESOLVED_TRUE: Promise<true> = Promise.resolve(true);
const RESOLVED_VOID: Promise<void> = Promise.resolve();

/** @internal What a `Guard` releases. */
export interface Releasable {
  release(): void;
}

/**
 * A held lock or semaphore permit, released by `release()` or at the end of an `await using`
 * (or `using`) block: the explicit-resource-management form of asyncio's `async with lock:`.
 * Returned by `lock.lock()`, `condition.lock()` and `semaphore.permit()`; releasing it a second
 * time does nothing.
 *
 * @example
 * {
 *   await using _held = await lock.lock();
 *   await writeFile(path, data); // the lock is released when the block exits, even on error
 * }
 */
export class Guard implements Disposable, AsyncDisposable {
  #owner: Releasable | undefined;

  /** @internal Use `lock.lock()` or `semaphore.permit()`. */
  constructor(owner: Releasable) {
    this.#owner = owner;
  }

  /** True once the guard has released what it held. */
  get released(): boolean {
    return this.#owner === undefined;
  }

  /** Release the lock or permit now; later calls do nothing. */
  release(): void {
    const owner = this.#owner;
    if (owner === undefined) return;
    this.#owner = undefined;
    owner.release();
  }

  /** Release at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Release at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return RESOLVED_VOID;
  }
}

/** @internal `async with x: return await fn()` for anything with acquire()/release(). */
export async function runHeld<T>(
  owner: { acquire(): Promise<unknown>; release(): void },
  fn: () => PromiseLike<T> | T,
): Promise<T> {
  await owner.acquire();
  try {
    return await fn();
  } finally {
    owner.release();
  }
}

/** What `Lock.statistics()` returns. */
export interface LockStatistics {
  /** Whether the lock is held. */
  readonly locked: boolean;
  /** The task that acquired it, while it is held (undefined if acquired outside a task). */
  readonly owner: Task<unknown> | undefined;
  /** How many tasks are blocked in `acquire()`. */
  readonly tasksWaiting: number;
}

// Access to a Lock's private state for Condition, set up by Lock's static block.
let takeIfFree: (lock: Lock, owner: Task<unknown> | undefined) => boolean;
let waitFor: (
  lock: Lock,
  onAcquired: (value: true) => void,
  onCancelled: (error: unknown) => void,
  fail: (error: unknown) => void,
) => void;

/** @internal Take the lock for `owner` if `acquire()` would not wait; true if taken. */
export function tryAcquire(lock: Lock, owner: Task<unknown> | undefined): boolean {
  return takeIfFree(lock, owner);
}

/**
 * @internal `acquire()` with callbacks instead of a promise, for a primitive that waits for the
 * lock as part of its own wait (Condition): one of them runs in the loop iteration that wakes
 * the current task. Throws `RuntimeError` at once if the lock is bound to another loop.
 */
export function waitForLock(
  lock: Lock,
  onAcquired: (value: true) => void,
  onCancelled: (error: unknown) => void,
  fail: (error: unknown) => void,
): void {
  waitFor(lock, onAcquired, onCancelled, fail);
}

/**
 * A mutual-exclusion lock for tasks. Mirrors `asyncio.Lock`.
 *
 * - `acquire()` returns at once (without suspending) if the lock is free and nobody is queued;
 *   otherwise the task waits its turn, in FIFO order.
 * - As in asyncio, the lock is not owned: any task may `release()` it, and it is not reentrant
 *   (acquiring it twice in one task deadlocks).
 * - asyncio's `async with lock:` is `lock.withLock(fn)`, or `await using _ = await lock.lock()`.
 * - Not thenable: `await lock` does not acquire it (asyncio raises `TypeError` for that).
 *
 * @example
 * const lock = new Lock();
 * let counter = 0;
 * async function increment() {
 *   await lock.withLock(async () => {
 *     const value = counter;
 *     await sleep(1);
 *     counter = value + 1;
 *   });
 * }
 */
export class Lock {
  #locked = false;
  #owner: Task<unknown> | undefined = undefined;
  // FIFO of the futures of tasks blocked in acquire(). A future stays in it until its task
  // resumes, even once resolved or cancelled: the task removes it itself.
  #waiters: Deque<Future<true>> | undefined = undefined;
  #loop: Loop | undefined = undefined;

  static {
    takeIfFree = (lock, owner) => {
      if (!lock.#isFree()) return false;
      lock.#locked = true;
      lock.#owner = owner;
      return true;
    };
    waitFor = (lock, onAcquired, onCancelled, fail) => lock.#wait(onAcquired, onCancelled, fail);
  }

  /** True while the lock is held. */
  locked(): boolean {
    return this.#locked;
  }

  /**
   * Acquire the lock, waiting in FIFO order if it is held or other tasks are queued.
   * Resolves with `true`.
   *
   * @throws {CancelledError} if the task is cancelled while waiting; the lock is then not held.
   */
  acquire(): Promise<true> {
    if (!this.#isFree()) return this.#acquireSlow();
    this.#locked = true;
    this.#owner = currentTask();
    return RESOLVED_TRUE;
  }

  /**
   * Whether `acquire()` would take the lock at once: it is free and nobody is queued. A waiter
   * that was woken but has not run yet must not be overtaken; cancelled waiters do not count
   * (they will leave without the lock).
   */
  #isFree(): boolean {
    return !this.#locked && (this.#waiters === undefined || allCancelled(this.#waiters));
  }

  #acquireSlow(): Promise<true> {
    const { promise, resolve, reject } = Promise.withResolvers<true>();
    try {
      this.#wait(resolve, reject, reject);
    } catch (error) {
      reject(error);
    }
    return promise;
  }

  /**
   * Queue the current task for the lock. When the task is woken, `onAcquired()` runs with the
   * lock held, or `onCancelled(error)` without it; what they throw goes to `fail`.
   */
  #wait(
    onAcquired: (value: true) => void,
    onCancelled: (error: unknown) => void,
    fail: (error: unknown) => void,
  ): void {
    const loop = bindLoop(this.#loop, this);
    this.#loop = loop;
    this.#waiters ??= new Deque();
    const waiters = this.#waiters;
    const fut = new WaitFuture<true>(loop, this, "acquire");
    const task = currentTask();
    waiters.push(fut);
    park(
      fut,
      (failure) => {
        waiters.remove(fut);
        if (failure === undefined) {
          this.#locked = true;
          this.#owner = task;
          onAcquired(true);
          return;
        }
        // Cancelled, possibly after release() had already chosen us: whoever is first in line
        // now must be woken, or the lock would stay free with tasks waiting for it.
        // Scenario: A holds; B, C wait. A releases (B's future resolved), then B is cancelled
        // before it runs; B lands here with the lock free and wakes C.
        if (!this.#locked) this.#wakeUpFirst();
        onCancelled(failure);
      },
      fail,
    );
  }

  /**
   * Release the lock and wake the first waiting task. The lock stays free until that task
   * runs, but nobody else can take it in between.
   *
   * @throws {RuntimeError} "Lock is not acquired" if the lock is not held.
   */
  release(): void {
    if (!this.#locked) throw new RuntimeError("Lock is not acquired");
    this.#locked = false;
    this.#owner = undefined;
    this.#wakeUpFirst();
  }

  /**
   * Run `fn` holding the lock, and release it however `fn` ends. Mirrors `async with lock:`.
   *
   * @throws {CancelledError} if cancelled while waiting for the lock (`fn` does not run).
   * @example
   * const rows = await lock.withLock(() => db.query("SELECT 1"));
   */
  withLock<T>(fn: () => PromiseLike<T> | T): Promise<T> {
    checkFunction("lock.withLock()", "fn", fn);
    return runHeld(this, fn);
  }

  /**
   * Acquire the lock and return a `Guard` that releases it: the `await using` form of
   * `async with lock:`.
   *
   * @throws {CancelledError} if cancelled while waiting (then nothing is held).
   * @example
   * {
   *   await using _held = await lock.lock();
   *   counter++;
   * } // released here
   */
  async lock(): Promise<Guard> {
    await this.acquire();
    return new Guard(this);
  }

  /** A snapshot for debugging: whether it is held, by which task, and how many tasks wait. */
  statistics(): LockStatistics {
    return {
      locked: this.#locked,
      owner: this.#locked ? this.#owner : undefined,
      tasksWaiting: this.#waiters?.length ?? 0,
    };
  }

  /** `<Lock [locked, waiters:2]>`, as asyncio's repr. */
  toString(): string {
    const waiting = this.#waiters?.length ?? 0;
    const extra = waiting > 0 ? `, waiters:${waiting}` : "";
    return `<Lock [${this.#locked ? "locked" : "unlocked"}${extra}]>`;
  }

  /** Wake the first waiter, unless it is already woken (or cancelled: it will pass it on). */
  #wakeUpFirst(): void {
    const fut = this.#waiters?.peek();
    if (fut !== undefined && !fut.done()) fut._resolve(true);
  }
}

function allCancelled(waiters: Deque<Future<true>>): boolean {
  for (let i = 0; i < waiters.length; i++) if (!waiters.at(i).cancelled()) return false;
  return true;
}
