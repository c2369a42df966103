/**
 * Timeouts that stop the work: `timeout`, `timeoutAt`, `Timeout` and `waitFor`
 * (asyncio.timeout, asyncio.timeout_at, asyncio.Timeout, asyncio.wait_for).
 *
 * At the deadline the current task is cancelled; the body sees `CancelledError` at the await
 * where it is suspended, unwinds, and at the block boundary the cancellation becomes a
 * `TimeoutError` (whose `cause` is that `CancelledError`). Only the timeout's own cancellation
 * is converted: the task's `cancelling()` count tells whether someone else asked too.
 *
 * @module
 */
import { getRunningLoop } from "./core/context.ts";
import { type Awaitable, ensureFuture, isThenable } from "./core/ensure-future.ts";
import { type CallbackFn, Future, releaseWaiter } from "./core/future.ts";
import { Handle, runHandle } from "./core/handle.ts";
import type { Loop } from "./core/loop.ts";
import { currentTask, type Task } from "./core/task.ts";
import {
  asCancelledError,
  CancelledError,
  ExceptionGroup,
  RuntimeError,
  TimeoutError,
} from "./errors.ts";
import { checkFunction, checkOptionalNumber, typeError } from "./validate.ts";

type State = "created" | "active" | "expiring" | "expired" | "finished";

/** A deadline for a block of code; `timeout()` and `timeoutAt()` pass it to their body. */
export class Timeout {
  #state: State = "created";
  #when: number | null;
  #loop: Loop;
  #task: Task<unknown> | undefined;
  #cancelling = 0;
  #handle: Handle | undefined;

  /** A timeout with deadline `when` (loop time, ms), or none if null. Enter it with `timeoutAt`. */
  constructor(when: number | null, loop: Loop = getRunningLoop()) {
    checkOptionalNumber("new Timeout()", "when", when);
    this.#when = when;
    this.#loop = loop;
  }

  /** The deadline in loop time (ms), or null. */
  when(): number | null {
    return this.#when;
  }

  /** Move the deadline (null removes it; a past value fires on the next iteration). */
  reschedule(when: number | null): void {
    if (this.#state !== "active") {
      if (this.#state === "created") throw new RuntimeError("Timeout has not been entered");
      throw new RuntimeError(`Cannot change state of ${this.#state} Timeout`);
    }
    checkOptionalNumber("timeout.reschedule()", "when", when);
    this.#when = when;
    this.#handle?.cancel();
    this.#handle = undefined;
    if (when === null) return;
    const loop = this.#loop;
    if (when <= loop.time()) {
      // A deadline already past fires on the next iteration, in FIFO order with the callbacks
      // already queued (asyncio's call_soon), so even a body that only yields sees it.
      const handle = new Handle(onTimeout as (arg: never) => void, undefined, this);
      loop._schedule(runHandle, handle);
      this.#handle = handle;
    } else {
      this.#handle = loop._timer(when, onTimeout as (arg: never) => void, undefined, this);
    }
  }

  /** True once the deadline has passed (the block was or is being cancelled by it). */
  expired(): boolean {
    return this.#state === "expiring" || this.#state === "expired";
  }

  toString(): string {
    const when = this.#state === "active" ? ` when=${this.#when}` : "";
    return `<Timeout [${this.#state}]${when}>`;
  }

  /** @internal */
  _onTimeout(): void {
    if (this.#state !== "active") return;
    this.#task?.cancel();
    this.#state = "expiring";
    this.#handle = undefined;
  }

  /** @internal Enter the block in the current task. */
  _enter(): void {
    if (this.#state !== "created") throw new RuntimeError("Timeout has already been entered");
    const task = currentTask();
    if (task === undefined) throw new RuntimeError("Timeout should be used inside a task");
    this.#task = task;
    this.#cancelling = task.cancelling();
    this.#state = "active";
    this.reschedule(this.#when);
  }

  /**
   * @internal Leave the block; `outcome` is what the body threw, if it threw. Returns the error
   * to throw instead, if any.
   */
  _exit(threw: boolean, error: unknown): unknown {
    this.#handle?.cancel();
    this.#handle = undefined;
    if (this.#state === "expiring") {
      this.#state = "expired";
      const task = this.#task as Task<unknown>;
      if (task.uncancel() <= this.#cancelling && threw) {
        // No cancellation request is left but ours: this one is ours to convert.
        const cancelled = asCancelledError(error);
        if (cancelled !== undefined) return new TimeoutError("timed out", { cause: cancelled });
        insertTimeoutError(error);
        if (error instanceof ExceptionGroup)
          for (const e of error.exceptions) insertTimeoutError(e);
      }
    } else if (this.#state === "active") {
      this.#state = "finished";
    }
    return error;
  }
}

function onTimeout(scope: Timeout): void {
  scope._onTimeout();
}

/**
 * A cleanup that failed while the timeout's cancellation unwound: splice a TimeoutError into its
 * `cause` chain just above the CancelledError (asyncio 3.13, gh-96037).
 */
function insertTimeoutError(error: unknown): void {
  let current = error;
  for (let depth = 0; depth < 100 && current instanceof Error; depth++) {
    const cause: unknown = current.cause;
    if (cause instanceof CancelledError) {
      Object.defineProperty(current, "cause", {
        value: new TimeoutError("timed out", { cause }),
        writable: true,
        configurable: true,
      });
      return;
    }
    current = cause;
  }
}

async function runIn<T>(scope: Timeout, body: (scope: Timeout) => PromiseLike<T> | T): Promise<T> {
  scope._enter();
  let result: T;
  try {
    result = await body(scope);
  } catch (error) {
    throw scope._exit(true, error);
  }
  scope._exit(false, undefined);
  return result;
}

/**
 * Run `body` with a deadline `ms` milliseconds from now (null: no deadline, but `reschedule` may
 * set one). At the deadline the task is cancelled, and `timeout` throws `TimeoutError`.
 * Mirrors `async with asyncio.timeout(delay)`.
 *
 * Inside the body the expiry shows as `CancelledError` at the pending await: let it propagate.
 *
 * @throws {TimeoutError} when the deadline passed and the body let the cancellation through.
 * @throws {RuntimeError} outside a task.
 * @example
 * try {
 *   await timeout(1000, async () => { await slowOperation() });
 * } catch (e) {
 *   if (e instanceof TimeoutError) console.log("too slow, and it was stopped");
 * }
 */
export function timeout<T>(
  ms: number | null,
  body: (scope: Timeout) => PromiseLike<T> | T,
): Promise<T> {
  checkOptionalNumber("timeout()", "ms", ms);
  checkFunction("timeout()", "body", body);
  const loop = getRunningLoop();
  return runIn(new Timeout(ms === null ? null : loop.time() + ms, loop), body);
}

/**
 * Like `timeout`, with an absolute deadline in loop time (`getRunningLoop().time()` + ms).
 * Mirrors `async with asyncio.timeout_at(when)`.
 */
export function timeoutAt<T>(
  when: number | null,
  body: (scope: Timeout) => PromiseLike<T> | T,
): Promise<T> {
  checkOptionalNumber("timeoutAt()", "when", when);
  checkFunction("timeoutAt()", "body", body);
  return runIn(new Timeout(when), body);
}

/** Cancel `future` and wait until it is really done, without awaiting it directly. */
async function cancelAndWait(loop: Loop, future: Future<unknown>): Promise<void> {
  const waiter = new Future<void>(loop);
  future._addCallback(releaseWaiter as CallbackFn, waiter);
  try {
    future.cancel();
    await waiter;
  } finally {
    future._removeCallback(releaseWaiter as CallbackFn, waiter);
  }
}

/**
 * Await `aw`, but give up after `ms` milliseconds (null: wait forever): `aw` is cancelled, and
 * `waitFor` throws `TimeoutError` once it has really stopped. Mirrors `asyncio.wait_for`
 * (3.12 semantics). If `aw` swallows the cancellation and returns a value, that value is
 * returned. A function is run in the current task, like a coroutine in Python.
 *
 * @example
 * const page = await waitFor(() => fetchPage(url), 5000);
 */
export async function waitFor<T>(aw: Awaitable<T>, ms: number | null): Promise<T> {
  checkOptionalNumber("waitFor()", "ms", ms);
  if (typeof aw !== "function" && !isThenable(aw)) {
    throw typeError("waitFor()", "aw", "a Task, a Future, a promise or an async function", aw);
  }
  const loop = getRunningLoop();
  if (ms !== null && ms <= 0) {
    const future = ensureFuture(aw, loop, "waitFor()");
    if (future.done()) return future.result();
    await cancelAndWait(loop, future as Future<unknown>);
    try {
      return future.result();
    } catch (error) {
      if (error instanceof CancelledError) throw new TimeoutError("timed out", { cause: error });
      throw error;
    }
  }
  return timeout(ms, () => (typeof aw === "function" ? aw() : aw));
}
