/**
 * `sleep(ms)`: suspend the current task (asyncio.sleep).
 *
 * @module
 */
import { getRunningLoop, storedTask } from "./core/context.ts";
import { Future, PENDING, Waiter } from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
import type { Task } from "./core/task.ts";
import type { TimerEntry } from "./core/timer-heap.ts";
import { checkNumber } from "./validate.ts";

/**
 * A future that resolves when its deadline passes. It is its own entry in the loop's timer heap
 * (no separate timer handle), and cancelling it removes it from there: 100k sleeping tasks cost
 * 100k of these and nothing else of ours.
 */
class SleepFuture<T> extends Future<T> implements TimerEntry {
  /** @internal */ readonly _when: number;
  /** @internal */ readonly _seq: number;
  /** @internal */ _index = -1;

  constructor(loop: Loop, when: number, result: T) {
    super(loop);
    this._when = when;
    this._seq = loop._nextTimerSeq();
    // The result waits in _result until the deadline: the state says it is not settled yet.
    this._result = result;
  }

  /** @internal */
  _fire(): void {
    if (this._state === PENDING) this._resolve(this._result as T);
  }

  override cancel(msg?: string): boolean {
    if (this._state !== PENDING) return super.cancel(msg);
    this._result = undefined;
    this._loop._removeTimer(this);
    return super.cancel(msg);
  }
}

/**
 * The bare yield of `sleep(0)`: the awaiting task resumes after exactly one loop iteration, and
 * a cancellation requested meanwhile is delivered there.
 */
class Yield<T> implements Promise<T> {
  readonly #loop: Loop;
  readonly #value: T;

  constructor(loop: Loop, value: T) {
    this.#loop = loop;
    this.#value = value;
  }

  get [Symbol.toStringTag](): string {
    return "Yield";
  }

  // biome-ignore lint/suspicious/noThenProperty: awaitable by design.
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const w = new Waiter(undefined, onFulfilled, onRejected);
    const task = storedTask();
    w.task = task;
    w.value = this.#value;
    this.#loop._schedule(wakeYield, w);
    if (task !== undefined) task._loop._suspended(task);
    return w as unknown as Promise<R1 | R2>;
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onFinally);
  }
}

function wakeYield(w: Waiter): void {
  const task = w.task;
  if (task !== undefined && task._state === PENDING) task._loop._resume(task, resumeYield, w);
  else w._settle(true, w.value);
}

function resumeYield(w: Waiter): void {
  const task = w.task as Task<unknown>;
  if (task._mustCancel) {
    task._mustCancel = false;
    w._settle(false, task._makeCancelledError());
    return;
  }
  w._settle(true, w.value);
}

/**
 * Suspend the current task for `ms` milliseconds, then resolve with `result`.
 * Mirrors `asyncio.sleep` (with milliseconds).
 *
 * `sleep(0)` (or a negative delay) yields for exactly one loop iteration: other tasks, timers and
 * I/O get to run. Every sleep is a cancellation point; cancelling it also removes its timer.
 *
 * @throws {RangeError} if `ms` is NaN.
 * @example
 * const value = await sleep(100, "done"); // "done", 100 ms later
 */
export function sleep<T = void>(ms: number, result?: T): Promise<T> {
  checkNumber("sleep()", "ms", ms);
  const loop = getRunningLoop();
  loop._checkpoint();
  if (ms <= 0) return new Yield(loop, result as T);
  const future = new SleepFuture<T>(loop, loop.time() + ms, result as T);
  if (future._when !== Number.POSITIVE_INFINITY) loop._addTimer(future);
  return future;
}
