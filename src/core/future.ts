/**
 * Future: a result that will be set later (asyncio.Future), and the one mechanism by which a
 * task suspends.
 *
 * Awaiting a pending Future from a task registers the Future as what the task is blocked on;
 * `task.cancel()` then cancels that Future, and the task's `await` throws `CancelledError`. That
 * is how cancellation reaches the exact await where a task is suspended. Every aiots primitive
 * suspends through a Future, so every one of them is a cancellation point.
 *
 * As in asyncio, completion never runs callbacks synchronously: each done-callback, including
 * the wake-up of an awaiting task, runs in a later loop iteration.
 *
 * @module
 */
import { CancelledError, InvalidStateError, RuntimeError } from "../errors.ts";
import { checkFunction, typeError } from "../validate.ts";
import { getRunningLoop, storedTask } from "./context.ts";
import { bindHandle, Handle, runHandle } from "./handle.ts";
import type { Loop } from "./loop.ts";
import type { Task } from "./task.ts";

/** @internal */ export const PENDING = 0;
/** @internal */ export const FULFILLED = 1;
/** @internal */ export const REJECTED = 2;
/** @internal */ export const CANCELLED = 3;
/** @internal */ export type State = 0 | 1 | 2 | 3;

/** @internal A done-callback as stored and scheduled: `fn(arg)`. */
export type CallbackFn = (arg: never) => void;

const resolvedPromise = Promise.resolve();

/**
 * One `then()` registration, and the thenable that `then()` returns.
 *
 * `await future` calls `future.then(resolve, reject)` and ignores what it returns, so the
 * returned value is lazy: it is this record itself, and a real Promise is created only if
 * someone chains on it (or if it rejects with no handler, so that Node still reports the
 * unhandled rejection). An `await` therefore allocates no promise of ours.
 */
export class Waiter implements Promise<unknown> {
  /** The awaiting task, when a task called `then()`. */
  task: Task<unknown> | undefined = undefined;
  readonly future: Future<unknown> | undefined;
  readonly onFulfilled: unknown;
  readonly onRejected: unknown;
  #state: State = PENDING;
  #outcome: unknown = undefined;
  #derived: PromiseWithResolvers<unknown> | Promise<unknown> | undefined = undefined;

  constructor(future: Future<unknown> | undefined, onFulfilled: unknown, onRejected: unknown) {
    this.future = future;
    this.onFulfilled = onFulfilled;
    this.onRejected = onRejected;
  }

  get [Symbol.toStringTag](): string {
    return "Promise";
  }

  /** @internal Settle through the registered handlers, as a derived promise would be. */
  _settle(ok: boolean, value: unknown): void {
    const handler = ok ? this.onFulfilled : this.onRejected;
    if (typeof handler === "function") {
      try {
        value = (handler as (v: unknown) => unknown)(value);
        ok = true;
      } catch (error) {
        value = error;
        ok = false;
      }
    }
    this.#state = ok ? FULFILLED : REJECTED;
    this.#outcome = value;
    const derived = this.#derived;
    if (derived !== undefined && !(derived instanceof Promise)) {
      if (ok) derived.resolve(value);
      else derived.reject(value);
      this.#derived = derived.promise;
    } else if (!ok && derived === undefined) {
      // Nobody chained: a real rejected promise lets Node report it as unhandled.
      // oxlint-disable-next-line typescript/prefer-promise-reject-errors -- the future's own error
      this.#derived = Promise.reject(value);
    }
  }

  #promise(): Promise<unknown> {
    const derived = this.#derived;
    if (derived instanceof Promise) return derived;
    if (derived !== undefined) return derived.promise;
    if (this.#state === FULFILLED) {
      const p = Promise.resolve(this.#outcome);
      this.#derived = p;
      return p;
    }
    const d = Promise.withResolvers<unknown>();
    this.#derived = d;
    return d.promise;
  }

  // biome-ignore lint/suspicious/noThenProperty: the lazy result of Future.then().
  then<R1 = unknown, R2 = never>(
    onFulfilled?: ((value: unknown) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#promise().then(onFulfilled, onRejected);
  }

  catch<R = never>(
    onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null,
  ): Promise<unknown> {
    return this.#promise().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<unknown> {
    return this.#promise().finally(onFinally);
  }
}

let capturedResolve: ((value: unknown) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;

/** A Promise executor that hands its resolving functions over without a closure. */
function capture(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

function ignore(): void {}

/**
 * The other registration record: a native promise settled when the waiter is woken, returned
 * by `awaitFuture` (and by `sleep`). V8 awaits a native promise on its fast path, where a
 * thenable costs a wrapper promise, two resolving functions, a job and a `then()` call: that
 * made spawning 100k tasks that each `await sleep(0)` 1.6x slower.
 */
export interface NativeWaiter {
  /** The awaiting task, when called from a task. */
  task: Task<unknown> | undefined;
  readonly future: Future<unknown> | undefined;
  readonly promise: Promise<unknown>;
  /** What the promise resolves with when no future supplies it (a `sleep(0)`). */
  readonly value: unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /**
   * A primitive's bookkeeping, run instead of settling when the waiter is woken (see
   * waiting.ts `parkNative`): `failure` is undefined if the future succeeded. It must settle `w`
   * with `settleNative`; what it throws rejects the promise.
   */
  readonly woken: ((w: NativeWaiter, failure: unknown) => void) | undefined;
}

// An object literal, not a class instance: V8 allocates literals from an allocation site, which
// it moves to old space when most of them survive (pretenuring), as waiters of parked tasks do;
// class instances always start young and get copied by every scavenge. With a class,
// spawn-join ran 1.5x slower.
export function nativeWaiter(
  future: Future<unknown> | undefined,
  value: unknown,
  task: Task<unknown> | undefined,
  woken?: (w: NativeWaiter, failure: unknown) => void,
): NativeWaiter {
  const promise = new Promise(capture);
  return {
    task,
    future,
    promise,
    value,
    resolve: capturedResolve as (value: unknown) => void,
    reject: capturedReject as (error: unknown) => void,
    woken,
  };
}

/** Settle the awaiting code with the outcome. */
export function settle(w: Waiter | NativeWaiter, ok: boolean, value: unknown): void {
  if (w instanceof Waiter) {
    w._settle(ok, value);
  } else if (w.woken === undefined) {
    settleNative(w, ok, value);
  } else {
    try {
      w.woken(w, ok ? undefined : value);
    } catch (error) {
      settleNative(w, false, error);
    }
  }
}

/** Resolve or reject a native waiter's promise. */
export function settleNative(w: NativeWaiter, ok: boolean, value: unknown): void {
  if (ok) {
    w.resolve(value);
    return;
  }
  // The promise was registered when it was created, not when it was awaited: if its caller
  // never awaits it, a cancellation must not become an unhandled rejection.
  if (value instanceof CancelledError) void w.promise.then(undefined, ignore);
  w.reject(value);
}

/**
 * @internal The done-callback of a wait: runs in the loop, one iteration after completion. It
 * resumes the waiting task if the task still waits on this future; a yield (`sleep(0)`, no
 * future) resumes its task in any case.
 */
export function wakeWaiter(w: Waiter | NativeWaiter): void {
  const task = w.task;
  const future = w.future;
  if (
    task !== undefined &&
    task._state === PENDING &&
    (future === undefined || task._waiter === future)
  ) {
    if (future !== undefined) task._waiter = undefined;
    task._loop._woke(task);
    resumeWaiter(w);
  } else {
    deliver(w);
  }
}

/** Resume the task that awaited the future (see Loop._woke). */
function resumeWaiter(w: Waiter | NativeWaiter): void {
  const task = w.task as Task<unknown>;
  // cancel() arrived after the future completed but before the task resumed: the task gets
  // CancelledError instead of the result (asyncio's Task.__step with _must_cancel).
  if (task._mustCancel) {
    task._mustCancel = false;
    settle(w, false, task._makeCancelledError());
    return;
  }
  deliver(w);
}

/** Settle with the future's outcome, or with the value of a yield. */
function deliver(w: Waiter | NativeWaiter): void {
  const future = w.future;
  if (future === undefined) settle(w, true, (w as NativeWaiter).value);
  else if (future._state === FULFILLED) settle(w, true, future._result);
  else if (future._state === CANCELLED) settle(w, false, future._makeCancelledError());
  else settle(w, false, future._result);
}

function stateName(state: State): string {
  return state === PENDING
    ? "pending"
    : state === FULFILLED
      ? "finished"
      : state === REJECTED
        ? "failed"
        : "cancelled";
}

/**
 * A placeholder for a result that is set later by `setResult`, `setException` or `cancel`.
 * Mirrors `asyncio.Future`; awaitable, and usable wherever a `Promise` is.
 *
 * @example
 * const fut = new Future<number>();
 * getRunningLoop().callLater(10, () => fut.setResult(42));
 * console.log(await fut); // 42
 */
export class Future<T = unknown> implements Promise<T> {
  /** @internal */ _state: State = PENDING;
  /**
   * @internal the value (fulfilled), the error (rejected), or the CancelledError a task body
   * raised, handed out once (cancelled)
   */
  _result: unknown = undefined;
  /** @internal */ _cancelMessage: string | undefined = undefined;
  /** @internal */ readonly _loop: Loop;
  // Done-callbacks: the first inline (almost every future has exactly one: its awaiter), the
  // rest as flat [fn, arg, fn, arg, ...].
  /** @internal */ _cbFn: CallbackFn | undefined = undefined;
  /** @internal */ _cbArg: unknown = undefined;
  /** @internal */ _cbMore: unknown[] | undefined = undefined;
  /**
   * @internal undefined: nobody has looked at the outcome yet; null: someone has (or awaits it);
   * else the record of an error reported if it stays unretrieved
   */
  _retrieval: ReturnType<Loop["_trackUnretrieved"]> | null | undefined = undefined;

  /** A pending future on `loop` (default: the running loop). */
  constructor(loop?: Loop) {
    if (loop !== undefined && typeof (loop as Partial<Loop>)._schedule !== "function") {
      throw typeError("new Future()", "loop", "a Loop or undefined", loop);
    }
    this._loop = loop ?? getRunningLoop();
  }

  get [Symbol.toStringTag](): string {
    return "Future";
  }

  /** The loop this future belongs to. */
  getLoop(): Loop {
    return this._loop;
  }

  done(): boolean {
    return this._state !== PENDING;
  }

  cancelled(): boolean {
    return this._state === CANCELLED;
  }

  /**
   * The result; throws the exception if the future failed, `CancelledError` if it was cancelled.
   * @throws {InvalidStateError} if it is not done yet.
   */
  result(): T {
    switch (this._state) {
      case FULFILLED:
        return this._result as T;
      case REJECTED:
        this._markRetrieved();
        throw this._result;
      case CANCELLED:
        throw this._makeCancelledError();
      default:
        throw new InvalidStateError("Result is not ready.");
    }
  }

  /**
   * The exception the future failed with, or `undefined` if it succeeded.
   * @throws {CancelledError} if it was cancelled.
   * @throws {InvalidStateError} if it is not done yet.
   */
  exception(): unknown {
    switch (this._state) {
      case FULFILLED:
        return undefined;
      case REJECTED:
        this._markRetrieved();
        return this._result;
      case CANCELLED:
        throw this._makeCancelledError();
      default:
        throw new InvalidStateError("Exception is not set.");
    }
  }

  /** Mark the future done with `value` and schedule its callbacks. */
  setResult(value: T): void {
    if (this._state !== PENDING) {
      throw new InvalidStateError(`invalid state: the future is already ${stateName(this._state)}`);
    }
    this._resolve(value);
  }

  /** Mark the future failed with `error` and schedule its callbacks. */
  setException(error: unknown): void {
    if (this._state !== PENDING) {
      throw new InvalidStateError(`invalid state: the future is already ${stateName(this._state)}`);
    }
    // asyncio instantiates an exception class passed in place of an instance.
    if (typeof error === "function" && error.prototype instanceof Error) {
      error = new (error as new () => Error)();
    }
    this._reject(error);
  }

  /** Cancel the future: false if it is already done, else it ends cancelled and returns true. */
  cancel(msg?: string): boolean {
    if (this._state === REJECTED) this._markRetrieved();
    if (this._state !== PENDING) return false;
    this._cancelMessage = msg === undefined || msg === null ? undefined : String(msg);
    this._finish(CANCELLED);
    return true;
  }

  /**
   * Call `callback(future)` in a later loop iteration once the future is done, in the async
   * context of this call (asyncio copies the context the same way).
   */
  addDoneCallback(callback: (future: this) => void): void {
    checkFunction("future.addDoneCallback()", "callback", callback);
    const handle = new Handle(callback as (...args: never[]) => unknown, undefined, this);
    this._addCallback(runHandle as CallbackFn, bindHandle(handle, this._loop));
  }

  /** Remove every registration of `callback`; returns how many were removed. */
  removeDoneCallback(callback: (future: this) => void): number {
    let removed = 0;
    const drop = (fn: CallbackFn, arg: unknown): boolean => {
      if (fn !== (runHandle as CallbackFn) || (arg as Handle)._callback !== callback) {
        return false;
      }
      removed++;
      return true;
    };
    this._filterCallbacks(drop);
    return removed;
  }

  // ---------------------------------------------------------------- awaiting

  /**
   * Promise-compatible `then`. Awaiting a pending future inside a task suspends the task on it:
   * cancelling the task then cancels this future.
   */
  // biome-ignore lint/suspicious/noThenProperty: a Future is deliberately awaitable.
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const w = new Waiter(this as Future<unknown>, onFulfilled, onRejected);
    this._await(w);
    return w as unknown as Promise<R1 | R2>;
  }

  /**
   * @internal What `await future` does, for either kind of waiter: mark the outcome retrieved
   * and, from a task, suspend the task on this future, so that cancelling the task cancels it.
   */
  _await(w: Waiter | NativeWaiter): void {
    this._markRetrieved();
    if (this._state !== PENDING) {
      // Awaiting a done future does not suspend the task and is not a cancellation point
      // (asyncio's Future.__await__ returns at once); the handlers still run asynchronously.
      void resolvedPromise.then(() => deliver(w));
      return;
    }
    const task = storedTask();
    if (task !== undefined && task._state === PENDING) {
      if ((task as unknown) === this) {
        const error = new RuntimeError("Task cannot await on itself");
        void resolvedPromise.then(() => settle(w, false, error));
        return;
      }
      if (task._loop !== this._loop) {
        const error = new RuntimeError(
          `Task ${task.toString()} got Future ${this.toString()} attached to a different loop`,
        );
        void resolvedPromise.then(() => settle(w, false, error));
        return;
      }
      w.task = task;
      task._waiter = this as Future<unknown>;
      this._addCallback(wakeWaiter as CallbackFn, w);
      task._loop._suspended(task);
      // A cancellation requested while the task was not suspended lands on the first future
      // it suspends on.
      if (task._mustCancel && this.cancel(task._cancelMessage)) task._mustCancel = false;
    } else {
      this._addCallback(wakeWaiter as CallbackFn, w);
    }
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onFinally);
  }

  toString(): string {
    return `<${this.constructor.name} ${stateName(this._state)}>`;
  }

  // ---------------------------------------------------------------- internals

  /** @internal */
  _resolve(value: T): void {
    this._result = value;
    this._finish(FULFILLED);
  }

  /**
   * @internal `_resolve` for an event from outside the loop: a single done-callback (the
   * waiting task's wake-up) runs at once if the loop is idle (see `Loop._scheduleEvent`). Only
   * for internal futures that nothing but native waits (`parkNative`, `awaitFuture`) can be
   * registered on: their wake-up settles a native promise and runs no user code.
   */
  _resolveEvent(value: T): void {
    const fn = this._cbFn;
    if (fn === undefined || this._cbMore !== undefined) {
      this._resolve(value);
      return;
    }
    this._result = value;
    this._state = FULFILLED;
    const arg = this._cbArg;
    this._cbFn = undefined;
    this._cbArg = undefined;
    this._loop._scheduleEvent(fn, arg as never);
  }

  /** @internal */
  _reject(error: unknown): void {
    this._result = error;
    this._finish(REJECTED);
    if (this._retrieval === undefined) {
      this._retrieval = this._loop._trackUnretrieved(
        this as Future<unknown>,
        error,
        this.toString(),
      );
    }
  }

  /** @internal */
  _finish(state: State): void {
    this._state = state;
    const loop = this._loop;
    const fn = this._cbFn;
    if (fn !== undefined) {
      loop._schedule(fn, this._cbArg as never);
      this._cbFn = undefined;
      this._cbArg = undefined;
    }
    const more = this._cbMore;
    if (more !== undefined) {
      this._cbMore = undefined;
      for (let i = 0; i < more.length; i += 2)
        loop._schedule(more[i] as CallbackFn, more[i + 1] as never);
    }
  }

  /** @internal */
  _markRetrieved(): void {
    const record = this._retrieval;
    this._retrieval = null;
    if (record) this._loop._untrack(record);
  }

  /** @internal The CancelledError to raise for a cancelled future. */
  _makeCancelledError(): CancelledError {
    const original = this._result;
    if (original instanceof CancelledError) {
      this._result = undefined;
      return original;
    }
    return new CancelledError(this._cancelMessage);
  }

  /** @internal Register `fn(arg)` to run (in a later iteration) once done. */
  _addCallback(fn: CallbackFn, arg: unknown): void {
    if (this._state !== PENDING) {
      this._loop._schedule(fn, arg as never);
    } else if (this._cbFn === undefined) {
      this._cbFn = fn;
      this._cbArg = arg;
    } else {
      if (this._cbMore === undefined) this._cbMore = [fn, arg];
      else this._cbMore.push(fn, arg);
    }
  }

  /** @internal Remove every registration of `fn(arg)`; returns how many. */
  _removeCallback(fn: CallbackFn, arg: unknown): number {
    let removed = 0;
    this._filterCallbacks((f, a) => {
      if (f !== fn || a !== arg) return false;
      removed++;
      return true;
    });
    return removed;
  }

  /** @internal Remove the registrations for which `drop(fn, arg)` is true. */
  _filterCallbacks(drop: (fn: CallbackFn, arg: unknown) => boolean): void {
    if (this._cbFn !== undefined && drop(this._cbFn, this._cbArg)) {
      this._cbFn = undefined;
      this._cbArg = undefined;
    }
    const more = this._cbMore;
    if (more !== undefined) {
      const kept: unknown[] = [];
      for (let i = 0; i < more.length; i += 2) {
        if (!drop(more[i] as CallbackFn, more[i + 1])) kept.push(more[i], more[i + 1]);
      }
      this._cbMore = kept.length > 0 ? kept : undefined;
    }
    // Keep registration order: if the inline slot emptied, promote the oldest remaining entry.
    if (this._cbFn === undefined && this._cbMore !== undefined) {
      const rest = this._cbMore;
      this._cbFn = rest[0] as CallbackFn;
      this._cbArg = rest[1];
      this._cbMore = rest.length > 2 ? rest.slice(2) : undefined;
    }
  }
}

/**
 * @internal A Future on which a primitive parks a waiting task (a Lock's acquire, a Queue's
 * get, ...). It names its owner and the operation, so the call graph and the debug reports can
 * say what a task waits for.
 */
export class WaitFuture<T> extends Future<T> {
  /** @internal */ readonly _owner: { toString(): string };
  /** @internal */ _op: string;
  /** @internal set by a primitive that took this future out of its queue of waiters */
  _dequeued = false;

  constructor(loop: Loop, owner: { toString(): string }, op: string) {
    super(loop);
    this._owner = owner;
    this._op = op;
  }

  /**
   * @internal Make a done future pending again, for its owner's next wait. Only once the wait it
   * ended has been delivered (its wake-up ran): no callback of the old wait can still come.
   */
  _reuse(op: string): void {
    this._state = PENDING;
    this._result = undefined;
    this._cancelMessage = undefined;
    this._retrieval = undefined;
    this._dequeued = false;
    this._op = op;
  }

  override toString(): string {
    return `<${this._owner.constructor.name}.${this._op}() ${stateName(this._state)}>`;
  }
}

/** @internal A done-callback that resolves `waiter` unless it is already done. */
export function releaseWaiter(waiter: Future<void>): void {
  if (waiter._state === PENDING) waiter._resolve(undefined);
}

/** True for aiots Futures and Tasks. */
export function isFuture(value: unknown): value is Future<unknown> {
  return value instanceof Future;
}

/**
 * @internal `await future` as a native promise, with the awaiting task registered now, at the
 * call, rather than when the promise is awaited: for aiots functions that return a promise
 * their caller awaits at once (`sleep`). Cancelling the task cancels `future` from here on.
 */
export function awaitFuture<T>(future: Future<T>): Promise<T> {
  const w = nativeWaiter(future as Future<unknown>, undefined, undefined);
  future._await(w);
  return w.promise as Promise<T>;
}
