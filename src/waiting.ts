/**
 * How the synchronization primitives and queues make a task wait.
 *
 * - `bindLoop`: a primitive takes no loop argument and binds to the running loop the first time
 *   it has to wait; using it from another loop then throws (asyncio's `_LoopBoundMixin`).
 * - `park`: suspend the current task on a waiter future, and run the primitive's bookkeeping at
 *   the moment the task is woken: in the loop iteration that wakes it, which is where asyncio
 *   runs the rest of the coroutine (the task's step). The bookkeeping settles the promise the
 *   task awaits directly, so the task's own code resumes one microtask later, as after any fast
 *   path, however many waits the primitive needed (Condition.wait waits twice).
 *
 * @internal
 * @module
 */
import { getRunningLoop, setInLoopCallbacks, taskStorage } from "./core/context.ts";
import { type Future, type NativeWaiter, nativeWaiter, settleNative } from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
import type { Task } from "./core/task.ts";
import type { Deque } from "./deque.ts";
import { RuntimeError } from "./errors.ts";

/**
 * The running loop, checked against the loop `bound` (undefined: not bound yet) of `owner`.
 * Store the result as the new binding.
 *
 * @throws {RuntimeError} outside `run()`, or if `owner` is bound to another loop.
 * @internal
 */
export function bindLoop(bound: Loop | undefined, owner: { toString(): string }): Loop {
  const loop = getRunningLoop();
  if (bound !== undefined && bound !== loop) {
    throw new RuntimeError(`${owner.toString()} is bound to a different event loop`);
  }
  return loop;
}

/**
 * Suspend the calling task on `waiter` (it must be pending, and this must be called from the
 * task's own code, so that cancelling the task cancels `waiter`). When the task is woken,
 * `onWoken(error)` runs once: `error` is undefined if `waiter` succeeded (it must be resolved
 * with `true`, `false` or `undefined`), else the `CancelledError` if the task was cancelled (its
 * `waiter` was cancelled, or the task was cancelled after `waiter` succeeded but before the task
 * was woken), or whatever else the await failed with.
 *
 * `onWoken` runs inside the loop iteration that wakes the task, outside the task's async
 * context, and settles the caller's promise itself (to wait again, call `park` inside
 * `asTask`). Whatever it throws goes to `fail`.
 *
 * @internal
 */
export function park(
  waiter: Future<unknown>,
  onWoken: (error: unknown) => void,
  fail: (error: unknown) => void,
): void {
  // The waiter futures are resolved with true, false or undefined, and a failed wait delivers
  // an error: one handler tells the two outcomes apart by the value (one closure, not two).
  const handler = (outcome: unknown): void => {
    try {
      onWoken(outcome === true || outcome === false ? undefined : outcome);
    } catch (error) {
      fail(error);
    }
  };
  waiter._loop._checkpoint();
  // Future.then, called from the task, makes the task wait on `waiter` exactly as `await`
  // would; the handler runs when the task is woken.
  void waiter.then(handler, handler);
}

/**
 * `park` without closures, for the hot waits: suspend the calling task on `waiter` and return
 * the promise it awaits (native: V8 awaits it on its fast path). When the task is woken,
 * `woken(w, failure)` runs as `park`'s `onWoken` would, and settles the promise with
 * `settleNative(w, ...)`; `w.future` is `waiter`, `w.value` is `value`.
 *
 * @internal
 */
export function parkNative<T>(
  waiter: Future<unknown>,
  woken: (w: NativeWaiter, failure: unknown) => void,
  value?: unknown,
): Promise<T> {
  waiter._loop._checkpoint();
  const w = nativeWaiter(waiter, value, undefined, woken);
  waiter._await(w);
  return w.promise as Promise<T>;
}

/**
 * The simplest wait: queue `waiter` in `queue` and park the calling task on it. Woken, the task
 * takes it out of the queue and the promise settles with `waiter`'s outcome (Event.wait,
 * Queue.join).
 *
 * @internal
 */
export function waitInQueue<T>(waiter: Future<T>, queue: Deque<Future<T>>): Promise<T> {
  queue.push(waiter);
  return parkNative(waiter, leaveQueue, queue);
}

function leaveQueue(w: NativeWaiter, failure: unknown): void {
  const waiter = w.future as Future<unknown>;
  (w.value as Deque<Future<unknown>>).remove(waiter);
  if (failure === undefined) settleNative(w, true, waiter._result);
  else settleNative(w, false, failure);
}

/**
 * Run `fn` as if from `task`'s own code (`currentTask()` is `task`): a `park` handler that must
 * wait again calls `park` through this, so that cancelling the task still reaches the new wait.
 *
 * @internal
 */
export function asTask<T>(task: Task<unknown> | undefined, fn: () => T): T {
  if (task === undefined) return fn();
  // Handlers run among the loop's callbacks, which hide the current task (as Task._create does
  // for an eager start, make it visible again).
  const previous = setInLoopCallbacks(false);
  try {
    return taskStorage.run(task, fn);
  } finally {
    setInLoopCallbacks(previous);
  }
}
