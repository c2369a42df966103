/**
 * Task: a coroutine function running concurrently on the loop (asyncio.Task).
 *
 * A task starts one iteration after it is created (or at once with `eagerStart`). Its body runs
 * in the async context captured at creation, with the task itself as the current task, so every
 * aiots await inside it, however deeply nested, knows which task is suspending.
 *
 * Cancellation follows asyncio exactly:
 * - `cancel()` cancels the Future the task is suspended on, so the task's `await` throws
 *   `CancelledError`; if the task is not suspended on one, the request is remembered
 *   (`_mustCancel`) and lands on its next aiots await, or cancels the task when its body returns;
 * - `cancelling()` counts requests, `uncancel()` withdraws one: `timeout()` and `TaskGroup` use
 *   the pair to convert or swallow only the cancellations they caused themselves;
 * - a task cancelled before its first step never runs its body.
 *
 * @module
 */
import { asCancelledError, CancelledError, RuntimeError } from "../errors.ts";
import { describe } from "../validate.ts";
import {
  getRunningLoop,
  peekRunningLoop,
  setInLoopCallbacks,
  storedTask,
  taskStorage,
} from "./context.ts";
import { CANCELLED, Future, PENDING } from "./future.ts";
import type { Loop } from "./loop.ts";

/** Options of `createTask` and `tg.createTask`. */
export interface TaskOptions {
  /** The task's name (default `Task-<n>`). */
  name?: string | undefined;
  /** Run the body synchronously inside `createTask` up to its first suspension (asyncio 3.12). */
  eagerStart?: boolean | undefined;
}

let taskCounter = 0;

/**
 * How a task starts. At creation, in the creator's async context, a reaction is registered on a
 * pending "start gate" promise (see Loop._startGate): a promise reaction runs in the async
 * context of its registration, so the creator's AsyncLocalStorage values travel to the task for
 * free. One iteration later the loop opens the gate; each reaction then enters a fresh context
 * for its task (`enterWith`: one context frame, which the microtask ends by itself) and runs the
 * body in it.
 *
 * `taskStorage.run()` at creation would do the same with two frames (it builds another one to
 * restore the creator's), and a task would hold its frame while it waits to start; that made
 * spawning 100k tasks 1.6x slower.
 */
export function startTask(task: Task<unknown>): void {
  taskStorage.enterWith(task);
  runBody(task);
}

function runBody(task: Task<unknown>): void {
  if (task._state !== PENDING) return;
  task._loop._stepStarted(task);
  if (task._mustCancel) {
    // Cancelled before its first step: the body never runs, not even its finally blocks.
    task._mustCancel = false;
    task._finishCancelled();
    return;
  }
  try {
    const fn = task._fn; // called through a local, so stack traces show its own name
    const promise = fn();
    if (promise === null || typeof promise !== "object" || typeof promise.then !== "function") {
      throw new TypeError(
        `createTask(): "fn" must return a promise (use an async function), got ${describe(promise)}`,
      );
    }
    // bodyReturned/bodyThrew are promise reactions registered in the task's context, which is
    // where they run: they find their task with getStore() and need no closure, which keeps a
    // sleeping task small (see the memory figure in the benchmarks). Any thenable other than a
    // native promise (an aiots Future, say) is adopted by a native promise first, which also
    // registers the Future as what the task awaits.
    (promise instanceof Promise ? promise : Promise.resolve(promise)).then(bodyReturned, bodyThrew);
  } catch (error) {
    task._bodyThrew(error);
  }
}

function bodyReturned(value: unknown): void {
  (taskStorage.getStore() as Task<unknown>)._bodyReturned(value);
}

function bodyThrew(error: unknown): void {
  (taskStorage.getStore() as Task<unknown>)._bodyThrew(error);
}

/**
 * A coroutine function scheduled to run concurrently. Create one with `createTask(fn)` or
 * `tg.createTask(fn)`; await it for its result; `cancel()` it to throw `CancelledError` into it
 * at the await where it is suspended.
 *
 * Mirrors `asyncio.Task`. Like asyncio, the loop keeps every pending task alive and `run()`
 * cancels the ones left over when its main function returns.
 *
 * @example
 * const task = createTask(async () => { await sleep(1000); return "done" });
 * await sleep(10);
 * task.cancel();
 * try { await task } catch (e) { console.log(isCancelled(e)) } // true
 */
export class Task<T = unknown> extends Future<T> {
  /** @internal the body */ readonly _fn: () => PromiseLike<T>;
  /** @internal a cancel() waits to be delivered at the next suspension */ _mustCancel = false;
  /** @internal */ _numCancelsRequested = 0;
  /** @internal the future this task is suspended on */ _waiter: Future<unknown> | undefined;
  /** @internal */ readonly _id: number;
  /** @internal */ _name: string | undefined;
  /** @internal */ _controller: AbortController | undefined;
  /** @internal the loop iteration that last woke this task, -1 once it suspended */
  _wokenIn = -1;

  /** @internal Use `createTask`. */
  constructor(loop: Loop, fn: () => PromiseLike<T>, name: string | undefined) {
    super(loop);
    this._id = ++taskCounter;
    this._name = name;
    this._waiter = undefined;
    this._controller = undefined;
    this._fn = fn;
  }

  /** @internal */
  static _create<T>(loop: Loop, fn: () => PromiseLike<T>, options?: TaskOptions): Task<T> {
    const name = options?.name;
    if (name !== undefined && typeof name !== "string") {
      throw new TypeError(`createTask(): "name" must be a string, got ${describe(name)}`);
    }
    const task = new Task<T>(loop, fn, name) as Task<unknown>;
    loop._tasks.add(task);
    if (options?.eagerStart === true && loop.isRunning()) {
      // Run the first step right here, in the caller's context with the task as current.
      loop._woke(task);
      // Possibly inside a loop callback: the body is task code, so the task must be visible.
      const previous = setInLoopCallbacks(false);
      try {
        taskStorage.run(task, runBody, task);
      } finally {
        setInLoopCallbacks(previous);
      }
    } else {
      loop._startGate(task);
    }
    return task as Task<T>;
  }

  override get [Symbol.toStringTag](): string {
    return "Task";
  }

  /** The task's name: the one given at creation, else `Task-<n>`. */
  getName(): string {
    return this._name ?? `Task-${this._id}`;
  }

  setName(name: string): void {
    this._name = String(name);
  }

  /**
   * An AbortSignal that aborts when this task is cancelled, with the `CancelledError` as its
   * `reason`: pass it to APIs that are not aiots-aware (`fetch`, `fs`, `child_process`,
   * `timers/promises`) so that they stop too. Created on first use. After a cancellation was
   * withdrawn with `uncancel()` (as `timeout()` does), the next read returns a fresh signal.
   */
  get signal(): AbortSignal {
    let controller = this._controller;
    if (controller === undefined) {
      controller = new AbortController();
      this._controller = controller;
      if (this._state === CANCELLED || (this._state === PENDING && this._numCancelsRequested > 0)) {
        controller.abort(new CancelledError(this._cancelMessage));
      }
    }
    return controller.signal;
  }

  /**
   * Request cancellation: throws `CancelledError(msg)` into the task at the aiots await where it
   * is suspended, or at its next one. Returns false if the task is already done.
   */
  override cancel(msg?: string): boolean {
    if (this._state !== PENDING) return super.cancel(msg);
    this._numCancelsRequested++;
    const message = msg === undefined || msg === null ? undefined : String(msg);
    const controller = this._controller;
    if (controller !== undefined && !controller.signal.aborted) {
      controller.abort(new CancelledError(message));
    }
    const waiter = this._waiter;
    // The waiter stays registered: it may be a task that swallows the cancellation, and then
    // this task keeps waiting for its result.
    if (waiter?.cancel(message)) return true;
    this._mustCancel = true;
    this._cancelMessage = message;
    return true;
  }

  /** The number of pending cancellation requests. */
  cancelling(): number {
    return this._numCancelsRequested;
  }

  /**
   * Withdraw one cancellation request; returns the remaining count. At zero, a request not yet
   * delivered is rescinded (asyncio 3.13).
   */
  uncancel(): number {
    if (this._numCancelsRequested > 0) {
      this._numCancelsRequested--;
      if (this._numCancelsRequested === 0) {
        this._mustCancel = false;
        if (this._controller?.signal.aborted && this._state === PENDING)
          this._controller = undefined;
      }
    }
    return this._numCancelsRequested;
  }

  /** @throws {RuntimeError} a task's result comes from its body. */
  override setResult(_value: T): never {
    throw new RuntimeError("Task does not support setResult()");
  }

  /** @throws {RuntimeError} a task's exception comes from its body. */
  override setException(_error: unknown): never {
    throw new RuntimeError("Task does not support setException()");
  }

  override toString(): string {
    const state =
      this._state === PENDING
        ? this._numCancelsRequested > 0
          ? "cancelling"
          : "pending"
        : this._state === CANCELLED
          ? "cancelled"
          : "finished";
    const fn = this._fn.name ? ` fn=${this._fn.name}` : "";
    return `<Task ${state} name='${this.getName()}'${fn}>`;
  }

  // ---------------------------------------------------------------- internals

  /** @internal The body returned. */
  _bodyReturned(value: T): void {
    if (this._state !== PENDING) return;
    this._loop._suspended(this as Task<unknown>);
    if (this._mustCancel) {
      // cancel() came while the body ran its last stretch without suspending: the task ends
      // cancelled and the value is discarded (asyncio test_cancel_at_end).
      this._mustCancel = false;
      this._finishCancelled();
      return;
    }
    this._loop._tasks.finished();
    if (this._numCancelsRequested > 0 && this._loop.getDebug()) {
      this._loop.callExceptionHandler({
        message: `${this.toString()} swallowed a cancellation: it finished normally with cancelling() = ${this._numCancelsRequested} (re-throw CancelledError, or call uncancel() if you mean to)`,
        task: this as Task<unknown>,
      });
    }
    this._resolve(value);
  }

  /** @internal The body threw. */
  _bodyThrew(error: unknown): void {
    if (this._state !== PENDING) return;
    this._loop._suspended(this as Task<unknown>);
    const cancelled = asCancelledError(error);
    if (cancelled !== undefined) {
      error = cancelled;
      this._result = error;
      this._cancelMessage = cancelled.message === "" ? this._cancelMessage : cancelled.message;
      this._finishCancelled();
      return;
    }
    this._loop._tasks.finished();
    this._reject(error);
  }

  /** @internal */
  _finishCancelled(): void {
    this._loop._tasks.finished();
    this._loop._suspended(this as Task<unknown>);
    this._mustCancel = false;
    const controller = this._controller;
    if (controller !== undefined && !controller.signal.aborted) {
      controller.abort(new CancelledError(this._cancelMessage));
    }
    this._finish(CANCELLED);
  }
}

/** The directory of aiots' own modules (src/ or dist/), to skip its frames in stack traces. */
const OWN_DIR = new URL("..", import.meta.url).pathname;

/** @internal Whether a stack-trace line belongs to aiots itself or to Node's internals. */
export function isOwnFrame(line: string): boolean {
  return line.includes(OWN_DIR) || line.includes("node:internal");
}

/**
 * @internal The first frame of `stack` outside aiots and Node's internals, as
 * "file:line:column".
 */
export function firstForeignFrame(stack: string | undefined): string | undefined {
  for (const line of (stack ?? "").split("\n").slice(1)) {
    if (isOwnFrame(line)) continue;
    const match = /\(?((?:file:\/\/)?[^()\s]+:\d+:\d+)\)?\s*$/.exec(line);
    if (match) return match[1];
  }
  return undefined;
}

// ---------------------------------------------------------------- module functions

/**
 * Start `fn` concurrently as a Task and return the Task. Mirrors `asyncio.create_task`.
 *
 * The body starts on a later loop iteration (so a task cancelled right away never runs), in the
 * async context of the caller: AsyncLocalStorage values visible here are visible in the task.
 * Keep the Task or put it in a `taskGroup` to await it; `run()` cancels leftover tasks when its
 * main function returns.
 *
 * @throws {RuntimeError} outside `run()`.
 */
export function createTask<T>(fn: () => PromiseLike<T>, options?: TaskOptions): Task<T> {
  return getRunningLoop().createTask(fn, options);
}

/** The task whose code is running, or undefined (outside a task or outside `run()`). */
export function currentTask(): Task<unknown> | undefined {
  const task = storedTask();
  return task !== undefined && task._state === PENDING ? task : undefined;
}

/** The tasks of the running loop that are not done yet (empty outside `run()`). */
export function allTasks(): Set<Task<unknown>> {
  return new Set(peekRunningLoop()?._tasks.pending());
}
