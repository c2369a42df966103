/**
 * `ensureFuture`: turn any awaitable into a Future of the running loop (asyncio.ensure_future).
 *
 * @module
 */
import { describe } from "../validate.ts";
import { getRunningLoop } from "./context.ts";
import { Future } from "./future.ts";
import type { Loop } from "./loop.ts";

/** Something aiots can await: a Task, a Future, any promise, or a coroutine function. */
export type Awaitable<T> = PromiseLike<T> | (() => PromiseLike<T>);

/** The value an `Awaitable` resolves to. */
export type AwaitedOf<A> = A extends () => PromiseLike<infer R>
  ? R
  : A extends PromiseLike<infer R>
    ? R
    : never;

/** @internal Whether `value` is a thenable (a promise, a Future, anything with `then`). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as PromiseLike<unknown>).then === "function"
  );
}

function settleFrom<T>(future: Future<T>, promise: PromiseLike<T>): void {
  promise.then(
    (value) => {
      if (!future.done()) future._resolve(value);
    },
    (error: unknown) => {
      if (!future.done()) future._reject(error);
    },
  );
}

/**
 * Return `aw` as a Future: a Task or Future as it is, a coroutine function as a new Task, and any
 * other promise wrapped in a Future that settles with it (cancelling that Future cannot stop the
 * promise's work; pass `currentTask().signal` to such APIs for that).
 */
export function ensureFuture<T>(
  aw: Awaitable<T>,
  loop: Loop = getRunningLoop(),
  where = "ensureFuture()",
  name = "aw",
): Future<T> {
  if (aw instanceof Future) return aw as Future<T>;
  if (typeof aw === "function") return loop.createTask(aw);
  if (isThenable(aw)) {
    const future = new Future<T>(loop);
    settleFrom(future, aw);
    return future;
  }
  throw new TypeError(
    `${where}: "${name}" must be a Task, a Future, a promise or an async function, got ${describe(aw)}`,
  );
}
