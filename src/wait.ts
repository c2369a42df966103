/**
 * `wait` and `asCompleted`: wait on several tasks at once (asyncio.wait, asyncio.as_completed).
 *
 * @module
 */
import { getRunningLoop } from "./core/context.ts";
import { type Awaitable, ensureFuture } from "./core/ensure-future.ts";
import { type CallbackFn, Future, REJECTED, releaseWaiter } from "./core/future.ts";
import type { TimerHandle } from "./core/handle.ts";
import type { Loop } from "./core/loop.ts";
import { TimeoutError } from "./errors.ts";
import { Queue } from "./queue.ts";
import { checkOptionalNumber, checkOptions, describe, rangeError, typeError } from "./validate.ts";

/** `wait()` returns when any future finishes or is cancelled. */
export const FIRST_COMPLETED = "FIRST_COMPLETED";
/** `wait()` returns when any future fails (cancellation does not count), else when all are done. */
export const FIRST_EXCEPTION = "FIRST_EXCEPTION";
/** `wait()` returns when all futures are done. */
export const ALL_COMPLETED = "ALL_COMPLETED";

/** When `wait()` returns. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/** Options of `wait()`. */
export interface WaitOptions {
  /** Milliseconds; on expiry `wait()` returns (it does not throw and cancels nothing). */
  timeout?: number | null | undefined;
  returnWhen?: ReturnWhen | undefined;
}

function toList(where: string, aws: unknown): unknown[] {
  if (
    aws === null ||
    typeof aws !== "object" ||
    !(Symbol.iterator in aws) ||
    typeof (aws as unknown as PromiseLike<unknown>).then === "function"
  ) {
    throw typeError(where, "aws", "an iterable of tasks or futures", aws);
  }
  return [...(aws as Iterable<unknown>)];
}

/** @internal What the internal waiter of each `wait()` call stands for (for the call graph). */
export const waitingFor: WeakMap<Future<unknown>, ReadonlySet<Future<unknown>>> = new WeakMap();

interface WaitState {
  counter: number;
  readonly returnWhen: ReturnWhen;
  readonly waiter: Future<void>;
  timer: TimerHandle | undefined;
}

function onCompletion(state: WaitState, f: Future<unknown>): void {
  state.counter--;
  if (
    state.counter <= 0 ||
    state.returnWhen === FIRST_COMPLETED ||
    (state.returnWhen === FIRST_EXCEPTION && f._state === REJECTED)
  ) {
    state.timer?.cancel();
    if (!state.waiter.done()) state.waiter._resolve(undefined);
  }
}

/**
 * Wait for tasks or futures; returns `{ done, pending }` as sets. Mirrors `asyncio.wait`.
 *
 * Nothing is cancelled, neither on timeout nor when the awaiting task is cancelled.
 *
 * @throws {TypeError} for a non-iterable, or an element that is not a Task or Future
 *   (start coroutine functions with `createTask` first).
 * @throws {RangeError} for an empty iterable or an unknown `returnWhen`.
 */
export async function wait<F extends Future<unknown>>(
  aws: Iterable<F>,
  options?: WaitOptions,
): Promise<{ done: Set<F>; pending: Set<F> }> {
  const list = toList("wait()", aws);
  checkOptions("wait()", options);
  const timeout = options?.timeout ?? null;
  checkOptionalNumber("wait()", "timeout", timeout);
  const returnWhen = options?.returnWhen ?? ALL_COMPLETED;
  if (
    returnWhen !== FIRST_COMPLETED &&
    returnWhen !== FIRST_EXCEPTION &&
    returnWhen !== ALL_COMPLETED
  ) {
    throw rangeError(
      "wait()",
      "returnWhen",
      "FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED",
      returnWhen,
    );
  }
  const fs = new Set<F>();
  for (const [i, f] of list.entries()) {
    if (!(f instanceof Future)) {
      const hint =
        typeof f === "function"
          ? " (passing coroutine functions is forbidden: start them with createTask() first)"
          : "";
      throw new TypeError(
        `wait(): "aws[${i}]" must be a Task or a Future, got ${describe(f)}${hint}`,
      );
    }
    fs.add(f as F);
  }
  if (fs.size === 0) throw new RangeError('wait(): "aws" must not be empty');
  const loop = getRunningLoop();
  const state: WaitState = {
    counter: fs.size,
    returnWhen,
    waiter: new Future<void>(loop),
    timer: undefined,
  };
  if (timeout !== null) {
    state.timer = loop._timer(
      loop.time() + timeout,
      releaseWaiter as (arg: never) => void,
      undefined,
      state.waiter,
    );
  }
  waitingFor.set(state.waiter, fs);
  const callback = (f: Future<unknown>): void => onCompletion(state, f);
  for (const f of fs) f._addCallback(callback as CallbackFn, f);
  try {
    await state.waiter;
  } finally {
    state.timer?.cancel();
    for (const f of fs) f._removeCallback(callback as CallbackFn, f);
  }
  const done = new Set<F>();
  const pending = new Set<F>();
  for (const f of fs) (f.done() ? done : pending).add(f);
  return { done, pending };
}

/**
 * A completed input, or null once the timeout passed. Boxed: a Future is thenable, and a promise
 * resolved with it would adopt it.
 */
interface Box {
  readonly future: Future<unknown> | null;
}

/** An awaitable that starts its work only when awaited (like an un-awaited Python coroutine). */
class Lazy<T> implements PromiseLike<T> {
  readonly #start: () => Promise<T>;
  #promise: Promise<T> | undefined;

  constructor(start: () => Promise<T>) {
    this.#start = start;
  }

  // biome-ignore lint/suspicious/noThenProperty: awaitable by design.
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.#promise ??= this.#start();
    return this.#promise.then(onFulfilled, onRejected);
  }
}

/**
 * Iterates awaitables in completion order. Mirrors `asyncio.as_completed` (3.13): it is both
 * - an async iterable: `for await (const task of asCompleted(tasks))` yields each Task or
 *   Future itself as it completes;
 * - a plain iterable: `for (const next of asCompleted(tasks)) await next` yields awaitables, each
 *   resolving with the result of the next input to complete, whichever one you await first.
 *
 * Iteration can stop (`break`) and resume on the same object. With `timeout`, each remaining
 * step throws `TimeoutError` once it passes; the inputs are not cancelled.
 */
export class AsCompleted<T> implements AsyncIterable<Future<T>>, Iterable<PromiseLike<T>> {
  readonly #done = new Queue<Box>();
  readonly #todo: Set<Future<unknown>>;
  #left: number;
  #timer: TimerHandle | undefined;
  readonly #onCompletion = (f: Future<unknown>): void => {
    if (!this.#todo.delete(f)) return; // the timeout came first
    this.#done.putNowait({ future: f });
    if (this.#todo.size === 0) this.#timer?.cancel();
  };

  /** @internal Use `asCompleted()`. */
  constructor(loop: Loop, todo: Set<Future<unknown>>, timeout: number | null) {
    this.#todo = todo;
    this.#left = todo.size;
    for (const f of todo) f._addCallback(this.#onCompletion as CallbackFn, f);
    if (todo.size > 0 && timeout !== null) {
      this.#timer = loop._timer(loop.time() + timeout, () => this.#onTimeout(), undefined);
    }
  }

  #onTimeout(): void {
    for (const f of this.#todo) {
      f._removeCallback(this.#onCompletion as CallbackFn, f);
      this.#done.putNowait({ future: null });
    }
    this.#todo.clear();
  }

  async #waitForOne(): Promise<Box> {
    const box = await this.#done.get();
    if (box.future === null) throw new TimeoutError("asCompleted() timed out");
    return box;
  }

  [Symbol.asyncIterator](): AsyncIterator<Future<T>, undefined> {
    return {
      next: async (): Promise<IteratorResult<Future<T>, undefined>> => {
        if (this.#left === 0) return { done: true, value: undefined };
        this.#left--;
        const { future } = await this.#waitForOne();
        return { done: false, value: future as Future<T> };
      },
      // `break` leaves the iterator usable: a later loop continues where this one stopped.
      return: async (): Promise<IteratorResult<Future<T>, undefined>> => ({
        done: true,
        value: undefined,
      }),
    };
  }

  [Symbol.iterator](): Iterator<PromiseLike<T>, undefined> {
    return {
      next: (): IteratorResult<PromiseLike<T>, undefined> => {
        if (this.#left === 0) return { done: true, value: undefined };
        this.#left--;
        return {
          done: false,
          value: new Lazy(async () => ((await this.#waitForOne()).future as Future<T>).result()),
        };
      },
      return: (): IteratorResult<PromiseLike<T>, undefined> => ({ done: true, value: undefined }),
    };
  }
}

/**
 * Iterate `aws` in completion order; see `AsCompleted`. Functions are started as tasks and
 * duplicates are iterated once.
 *
 * @example
 * for await (const task of asCompleted(urls.map((u) => () => fetchText(u)))) {
 *   console.log(await task);
 * }
 */
export function asCompleted<A extends Awaitable<unknown>>(
  aws: Iterable<A>,
  options?: { timeout?: number | null | undefined },
): AsCompleted<A extends Awaitable<infer R> ? R : never> {
  const list = toList("asCompleted()", aws);
  checkOptions("asCompleted()", options);
  const timeout = options?.timeout ?? null;
  checkOptionalNumber("asCompleted()", "timeout", timeout);
  const loop = getRunningLoop();
  const todo = new Set<Future<unknown>>();
  for (const [i, aw] of [...new Set(list)].entries()) {
    todo.add(ensureFuture(aw as Awaitable<unknown>, loop, "asCompleted()", `aws[${i}]`));
  }
  return new AsCompleted(loop, todo, timeout);
}
