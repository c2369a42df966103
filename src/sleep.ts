/**
 * `sleep(ms)`: suspend the current task (asyncio.sleep).
 *
 * @module
 */
import { getRunningLoop, storedTask } from "./core/context.ts";
import {
  awaitFuture,
  Future,
  type NativeWaiter,
  nativeWaiter,
  PENDING,
  wakeWaiter,
} from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
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
 * The bare yield of `sleep(0)`: the promise settles after exactly one loop iteration, and a
 * cancellation requested meanwhile is delivered there.
 *
 * The wake-up is queued one microtask after the call, where `await` on a thenable would have
 * queued it: a task that completes in the microtask just before (an eager task whose body threw
 * at once, say) then gets its done-callbacks queued first, as asyncio orders them. The microtask
 * carries no closure: `yielded` holds the pending yields in call order, which is the order in
 * which their microtasks run.
 */
function yieldOnce<T>(loop: Loop, value: T): Promise<T> {
  const task = storedTask();
  const w = nativeWaiter(undefined, value, task?._state === PENDING ? task : undefined);
  const t = yieldedTail;
  yielded[t] = loop;
  yielded[t + 1] = w;
  yieldedTail = t + 2;
  void resolvedPromise.then(queueYield);
  return w.promise as Promise<T>;
}

const resolvedPromise = Promise.resolve();
// [loop, waiter, loop, waiter, ...] from yieldedHead to yieldedTail; never truncated when it
// empties (setting an array's length is a call into the runtime), its slots are cleared.
let yielded: (Loop | NativeWaiter | undefined)[] = [];
let yieldedHead = 0;
let yieldedTail = 0;

function queueYield(): void {
  const i = yieldedHead;
  const loop = yielded[i] as Loop;
  const w = yielded[i + 1] as NativeWaiter;
  yielded[i] = yielded[i + 1] = undefined;
  yieldedHead = i + 2;
  if (yieldedHead === yieldedTail) {
    // A burst (100k tasks yielding at once) left a large array: let it go.
    if (yieldedTail > 8192) yielded = [];
    yieldedHead = yieldedTail = 0;
  }
  loop._schedule(wakeWaiter, w);
  if (w.task !== undefined) loop._suspended(w.task);
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
  if (ms <= 0) return yieldOnce(loop, result as T);
  const future = new SleepFuture<T>(loop, loop.time() + ms, result as T);
  if (future._when !== Number.POSITIVE_INFINITY) loop._addTimer(future);
  return awaitFuture(future);
}
