/**
 * `gather`: run awaitables concurrently and collect their results in order (asyncio.gather).
 *
 * @module
 */
import { getRunningLoop } from "./core/context.ts";
import { type Awaitable, type AwaitedOf, ensureFuture, isThenable } from "./core/ensure-future.ts";
import { CANCELLED, type CallbackFn, Future, REJECTED } from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
import { CancelledError } from "./errors.ts";
import { checkOptions, typeError } from "./validate.ts";

/** Options of the list form of `gather`. */
export interface GatherOptions {
  /** Put errors (and `CancelledError`s) in the result list instead of failing at the first one. */
  returnExceptions?: boolean | undefined;
}

/** The results of `gather(...aws)`, as a tuple. */
export type GatherResults<A extends readonly unknown[]> = {
  -readonly [K in keyof A]: AwaitedOf<A[K]>;
};

/** The results of `gather(aws, { returnExceptions: true })`: each slot a value or an error. */
export type GatherSettled<A extends readonly unknown[]> = {
  -readonly [K in keyof A]: AwaitedOf<A[K]> | Error;
};

/** The future `gather` returns: cancelling it cancels every child still running. */
export class GatheringFuture<T> extends Future<T> {
  /** @internal */ readonly _children: Future<unknown>[];
  /** @internal */ _cancelRequested = false;

  /** @internal */
  constructor(loop: Loop, children: Future<unknown>[]) {
    super(loop);
    this._children = children;
  }

  override cancel(msg?: string): boolean {
    if (this.done()) return false;
    let cancelled = false;
    for (const child of this._children) {
      if (child.cancel(msg)) cancelled = true;
    }
    // The outer future is not cancelled itself: it fails with CancelledError once every child
    // is done (asyncio issue 32684).
    if (cancelled) this._cancelRequested = true;
    return cancelled;
  }
}

interface GatherState {
  readonly outer: GatheringFuture<unknown[]>;
  readonly returnExceptions: boolean;
  readonly unique: number;
  finished: number;
}

function childDone(this: void, record: { state: GatherState; child: Future<unknown> }): void {
  const { state, child } = record;
  const outer = state.outer;
  state.finished++;
  if (outer.done()) {
    // A late failure after gather already failed is still "retrieved": no never-retrieved report.
    if (child._state === REJECTED) child._markRetrieved();
    return;
  }
  if (!state.returnExceptions) {
    if (child._state === CANCELLED) {
      outer._reject(child._makeCancelledError());
      return;
    }
    if (child._state === REJECTED) {
      child._markRetrieved();
      outer._reject(child._result);
      return;
    }
  }
  if (state.finished < state.unique) return;
  const results = outer._children.map((f) => {
    if (f._state === CANCELLED) return f._makeCancelledError();
    if (f._state === REJECTED) {
      f._markRetrieved();
      return f._result;
    }
    return f._result;
  });
  if (outer._cancelRequested) {
    outer._reject(child._state === CANCELLED ? child._makeCancelledError() : new CancelledError());
  } else {
    outer._resolve(results);
  }
}

function isAwaitableArg(value: unknown): boolean {
  return typeof value === "function" || isThenable(value);
}

/**
 * Run awaitables concurrently; resolve with their results in argument order.
 * Mirrors `asyncio.gather`.
 *
 * Each argument is a Task, a Future, a promise, or an async function (started as its own task).
 * Two forms: `gather(a, b, c)` and `gather([a, b, c], { returnExceptions })`.
 *
 * - Without `returnExceptions`, the first error (or child cancellation, as `CancelledError`)
 *   fails the gather at once; the other children keep running.
 * - With `returnExceptions: true`, errors are returned in their slots.
 * - Cancelling the gather (or the task awaiting it) cancels every child still running.
 *
 * @example
 * const [a, b] = await gather(fetchA, fetchB); // both run concurrently
 */
export function gather<const A extends readonly Awaitable<unknown>[]>(
  ...aws: A
): GatheringFuture<GatherResults<A>>;
export function gather<const A extends readonly Awaitable<unknown>[]>(
  aws: A,
  options: GatherOptions & { returnExceptions: true },
): GatheringFuture<GatherSettled<A>>;
export function gather<const A extends readonly Awaitable<unknown>[]>(
  aws: A,
  options?: GatherOptions,
): GatheringFuture<GatherResults<A>>;
export function gather(...args: unknown[]): GatheringFuture<unknown[]> {
  let aws: unknown[];
  let returnExceptions = false;
  if (args.length > 0 && !isAwaitableArg(args[0])) {
    const [list, options] = args;
    if (
      args.length > 2 ||
      list === null ||
      typeof list !== "object" ||
      !(Symbol.iterator in list)
    ) {
      throw typeError("gather()", "aws", "awaitables, or an array of awaitables", list);
    }
    checkOptions("gather()", options);
    const value = (options as GatherOptions | undefined)?.returnExceptions;
    if (value !== undefined && typeof value !== "boolean") {
      throw typeError("gather()", "returnExceptions", "a boolean", value);
    }
    returnExceptions = value === true;
    aws = [...(list as Iterable<unknown>)];
  } else {
    aws = args;
  }
  const loop = getRunningLoop();
  // The same Task/Future/promise passed twice is awaited once; a function is called per slot.
  const seen = new Map<unknown, Future<unknown>>();
  const children = aws.map((aw, i) => {
    if (typeof aw !== "function") {
      const known = seen.get(aw);
      if (known !== undefined) return known;
    }
    const future = ensureFuture(aw as Awaitable<unknown>, loop, "gather()", `aws[${i}]`);
    if (typeof aw !== "function") seen.set(aw, future);
    return future;
  });
  const unique = new Set(children);
  const outer = new GatheringFuture<unknown[]>(loop, children);
  if (unique.size === 0) {
    outer._resolve([]);
    return outer;
  }
  const state: GatherState = { outer, returnExceptions, unique: unique.size, finished: 0 };
  for (const child of unique) child._addCallback(childDone as CallbackFn, { state, child });
  return outer;
}
